//! Hostile targets: a server that misbehaves on purpose (see `hostile_server.rs`). Every case
//! asserts the error class, the wall time (the run's duration + drain + 1 s at most), the
//! generator's peak RSS, and a complete results directory.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::hostile_server::{refused_port, Behaviour, Hostile};

/// What a child process did, measured from outside it.
pub struct Measured {
    pub code: Option<i32>,
    pub wall: Duration,
    pub max_rss_kib: u64,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to completion, optionally sending `signals` (delay, signal) to it, and measures
/// its wall time and peak RSS from outside (not from the tool's own figures).
pub fn measured(mut cmd: Command, signals: &[(Duration, i32)]) -> Measured {
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    cmd.stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .stdin(std::process::Stdio::null());
    let started = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    for (after, signal) in signals {
        std::thread::sleep(after.saturating_sub(started.elapsed()));
        // SAFETY: signalling our own child by its pid; it has not been waited for yet.
        unsafe { libc::kill(pid, *signal) };
    }
    // Peak RSS is the process's own high-water mark (VmHWM), sampled until it exits: wait4's
    // ru_maxrss would also count the test process's pages if the spawn forked.
    let mut status = 0;
    let mut max_rss_kib = 0;
    loop {
        // SAFETY: polling our own child, not yet reaped.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if waited == pid {
            break;
        }
        assert_eq!(waited, 0, "waitpid");
        if let Some(kib) = vm_hwm_kib(pid) {
            max_rss_kib = max_rss_kib.max(kib);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = started.elapsed();
    std::mem::forget(child);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Measured {
        code,
        wall,
        max_rss_kib,
        stdout: std::fs::read_to_string(out).unwrap_or_default(),
        stderr: std::fs::read_to_string(err).unwrap_or_default(),
    }
}

fn vm_hwm_kib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn quick(url: &str, args: &[&str]) -> Command {
    let mut c = bin();
    c.arg("quick").arg(url).args(args);
    c
}

/// A one-region HLS scenario against `base` for `secs`, watch duration longer than the run.
fn hls_scenario(
    dir: &Path,
    base: &str,
    secs: u32,
    watch_url: &str,
    extra_target: &str,
) -> std::path::PathBuf {
    let text = format!(
        r#"name: hostile
target:
  base_url: {base}
  allow_hosts: [127.0.0.1]
  timeout: 60s
{extra_target}
regions:
  - {{ name: eu, weight: 1 }}
load:
  max_viewers: 50
  max_joins_per_sec: 5
  phases:
    - {{ name: steady, duration: {secs}s, joins_per_sec: 4 }}
viewer:
  watch:
    protocol: hls
    url: {watch_url}
    duration: 20s
"#
    );
    write(dir, "hostile.yaml", &text)
}

/// Every file a finished run promises, present and non-empty, with no temp file left.
pub fn assert_complete_results(dir: &Path) {
    for file in [
        "results.json",
        "timeseries.csv",
        "histograms.hlog",
        "report.md",
        "report.html",
        "checklist.md",
        "report-card.png",
    ] {
        let len = std::fs::metadata(dir.join(file))
            .unwrap_or_else(|e| panic!("{file} missing in {}: {e}", dir.display()))
            .len();
        assert!(len > 0, "{file} is empty");
    }
    for entry in std::fs::read_dir(dir).expect("dir") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        assert!(!name.ends_with(".tmp"), "temp file left: {name}");
    }
}

fn errors(dir: &Path) -> serde_json::Value {
    results(dir)["overall"]["errors"].clone()
}

#[test]
fn quick_ends_at_its_deadline_against_a_target_that_never_answers() {
    let server = Hostile::start(Behaviour::Stall);
    for extra in [&[][..], &["--rate", "50"][..]] {
        let mut args = vec!["-c", "5", "-z", "2s", "--timeout", "60s"];
        args.extend_from_slice(extra);
        let m = measured(quick(&server.url("/"), &args), &[]);
        assert!(
            m.wall < Duration::from_secs(3),
            "{extra:?}: ran {:?}",
            m.wall
        );
        assert_eq!(
            m.code,
            Some(1),
            "{extra:?}: no request succeeded: {}",
            m.stderr
        );
        assert!(m.stdout.contains("cut 5"), "{extra:?}: {}", m.stdout);
        assert!(m.stderr.contains("no request completed"), "{}", m.stderr);
    }
}

#[test]
fn quick_stops_within_a_second_of_ctrl_c_or_sigterm_and_names_it() {
    let server = Hostile::start(Behaviour::Stall);
    for (signal, name) in [(libc::SIGINT, "Ctrl-C"), (libc::SIGTERM, "SIGTERM")] {
        let m = measured(
            quick(
                &server.url("/"),
                &["-c", "3", "-z", "30s", "--timeout", "60s"],
            ),
            &[(Duration::from_millis(800), signal)],
        );
        assert!(m.wall < Duration::from_millis(2800), "{name}: {:?}", m.wall);
        assert!(m.stdout.contains(name), "{name}: {}", m.stdout);
        assert_eq!(m.code, Some(1));
    }
}

#[test]
fn quick_fail_under_gates_on_the_success_share() {
    let server = Hostile::start(Behaviour::HalfFailing);
    let url = server.url("/");
    let loose = measured(quick(&url, &["-c", "2", "-z", "1s"]), &[]);
    assert_eq!(loose.code, Some(0), "some succeeded: {}", loose.stderr);
    let strict = measured(
        quick(&url, &["-c", "2", "-z", "1s", "--fail-under", "0.99"]),
        &[],
    );
    assert_eq!(strict.code, Some(1), "{}", strict.stdout);
    assert!(strict.stderr.contains("--fail-under"), "{}", strict.stderr);
    let refused = measured(
        quick(
            &format!("http://127.0.0.1:{}/", refused_port()),
            &["-c", "2", "-z", "1s"],
        ),
        &[],
    );
    assert_eq!(refused.code, Some(1), "{}", refused.stdout);
}

#[test]
fn run_ends_at_duration_plus_drain_against_a_stalling_target() {
    let server = Hostile::start(Behaviour::Stall);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = hls_scenario(dir.path(), &server.url(""), 2, "/live.m3u8", "");
    let out = dir.path().join("out");
    let mut cmd = bin();
    cmd.args(["run", "--quiet", "--drain", "1s", "--out"])
        .arg(&out)
        .arg(&path);
    let m = measured(cmd, &[]);
    assert!(m.wall < Duration::from_secs(2 + 1 + 1), "ran {:?}", m.wall);
    assert!(
        errors(&out)["cut"].as_u64().unwrap_or(0) > 0,
        "{}",
        errors(&out)
    );
    assert!(errors(&out).get("timeout").is_none(), "{}", errors(&out));
    assert_complete_results(&out);
    eprintln!(
        "stalling run: wall {:?}, peak RSS {} KiB",
        m.wall, m.max_rss_kib
    );
    assert!(m.max_rss_kib < 100 * 1024, "rss {} KiB", m.max_rss_kib);
}
