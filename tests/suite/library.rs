//! The scenario library in `scenarios/`: every file says when to use it, validates as shipped
//! and with `--set target.base_url=embedded`, and its viewer journey runs against the embedded
//! server (phases shortened to a few seconds: the journey is what is checked, not the load).

use std::path::PathBuf;

use crate::common::*;

fn library() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_library_scenario_says_when_to_use_it_and_validates() {
    let files = library();
    assert!(files.len() >= 7, "{files:?}");
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("README");
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let comment = text.lines().take_while(|l| l.starts_with('#')).count();
        assert!(
            comment >= 3,
            "{}: a header comment saying when to use it",
            f.display()
        );
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(
            readme.contains(&format!("scenarios/{name}")),
            "README lists {name}"
        );
        for extra in [&[][..], &["--set", "target.base_url=embedded"][..]] {
            let out = bin()
                .arg("validate")
                .arg(f)
                .args(extra)
                .env_remove("STAGING_URL")
                .output()
                .expect("validate");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                f.display(),
                stderr(&out)
            );
        }
    }
}

#[test]
fn every_library_journey_runs_against_the_embedded_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in library() {
        let name = f
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let out_dir = dir.path().join(&name);
        let mut cmd = bin();
        cmd.args(["run", "--quiet", "--seed", "1", "--drain", "2s"])
            .arg(&f)
            .args(["--set", "target.base_url=embedded"])
            .args([
                "--set",
                "load.phases=[{name: short, duration: 2s, joins_per_sec: 4}]",
            ])
            .args(["--set", "viewer.watch.duration=4s"])
            .arg("--out")
            .arg(&out_dir)
            .env_remove("STAGING_URL");
        if name.contains("llhls") {
            cmd.arg("--ll-hls");
        }
        let out = cmd.output().expect("run");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{name}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let r = results(&out_dir);
        let joins = &r["overall"]["joins"];
        assert!(
            joins["succeeded"].as_u64().unwrap_or(0) >= 5,
            "{name}: {joins}"
        );
        assert_eq!(joins["succeeded"], joins["attempted"], "{name}: {joins}");
        assert!(
            r["overall"]["errors"]["extract_failed"]
                .as_u64()
                .unwrap_or(0)
                == 0,
            "{name}: {}",
            r["overall"]["errors"]
        );
        assert!(
            r["overall"]["metrics"]["first_frame_ms"]["count"]
                .as_u64()
                .unwrap_or(0)
                >= 3,
            "{name} watched: {}",
            r["overall"]["metrics"]
        );
    }
}
