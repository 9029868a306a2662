//! A results directory on a disk that fills up mid-run: every failed write is said at once,
//! the verdict is never computed from truncated data, nothing is announced that does not exist,
//! no temp or 0-byte file is left, and the exit code is 3.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct SmallDisk {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output();
        match mounted {
            Ok(o) if o.status.success() => Some(SmallDisk { _dir: dir, path }),
            Ok(o) => {
                eprintln!(
                    "\n!!!!!!!! SKIP disk-full test: cannot mount a {size} tmpfs (needs root): {} !!!!!!!!\n",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("\n!!!!!!!! SKIP disk-full test: no `mount` ({e}) !!!!!!!!\n");
                None
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).output();
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn run_on(disk: &SmallDisk) -> (std::process::Output, PathBuf) {
    let work = tempfile::tempdir().expect("tempdir");
    let path = write(work.path(), "s.yaml", &scenario_yaml("embedded", 6, 5, ""));
    let out_dir = disk.path.join("results");
    let out = bin()
        .args(["run", "--quiet", "--drain", "1s", "--seed", "3", "--out"])
        .arg(&out_dir)
        .arg(&path)
        .output()
        .expect("run");
    (out, out_dir)
}

/// What holds whatever the disk size: exit 3, said on stderr, no announced-but-missing file,
/// no temp file, no empty file.
fn assert_never_silent(out: &std::process::Output, dir: &Path) {
    let (so, se) = (stdout(out), stderr(out));
    assert_eq!(out.status.code(), Some(3), "stdout:\n{so}\nstderr:\n{se}");
    assert!(se.contains("No space left on device"), "{se}");
    for line in so.lines().filter(|l| l.contains(&*dir.to_string_lossy())) {
        let announced = line.split_whitespace().last().expect("path");
        assert!(
            Path::new(announced).exists(),
            "announced but missing: {line}"
        );
    }
    for f in files(dir) {
        let name = f.to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "temp file left: {name}");
        let len = std::fs::metadata(&f).expect("meta").len();
        let per_second = ["timeseries.csv", "histograms.hlog", "runtime.csv"]
            .iter()
            .any(|file| name.ends_with(file));
        assert!(len > 0 || per_second, "0-byte output: {name}");
        if name.ends_with(".png") {
            let bytes = std::fs::read(&f).expect("png");
            assert!(bytes.ends_with(b"IEND\xaeB`\x82"), "truncated PNG {name}");
        }
    }
}

#[test]
fn a_disk_that_fills_mid_run_is_never_silent() {
    // 8 KiB: the per-second files fill within a few seconds of a 6 s run.
    let Some(disk) = SmallDisk::mount("8k") else {
        return;
    };
    let (out, dir) = run_on(&disk);
    assert_never_silent(&out, &dir);
    let se = stderr(&out);
    assert!(
        se.contains("warning: writing timeseries.csv failed at second")
            || se.contains("warning: writing histograms.hlog failed at second"),
        "the first failed write is named with its second: {se}"
    );
    let so = stdout(&out);
    assert!(so.contains("INCOMPLETE"), "verdict: {so}");
    assert!(
        !so.contains("AT RISK"),
        "no verdict from truncated data: {so}"
    );
    if dir.join("results.json").exists() {
        let r = results(&dir);
        assert_eq!(r["readiness"]["overall"]["verdict"], "incomplete");
        assert!(r["incomplete"].is_string());
    }
}

#[test]
fn report_files_that_do_not_fit_are_named_and_none_is_left_empty() {
    // 200 KiB: results.json and the per-second files fit, the charts do not all fit.
    let Some(disk) = SmallDisk::mount("200k") else {
        return;
    };
    let (out, dir) = run_on(&disk);
    assert_never_silent(&out, &dir);
    let r = results(&dir);
    assert!(r.get("incomplete").is_none(), "per-second data is whole");
    assert_ne!(r["readiness"]["overall"]["verdict"], "incomplete");
    assert!(stderr(&out).contains("not written in"), "{}", stderr(&out));
}
