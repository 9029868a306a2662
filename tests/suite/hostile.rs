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
/// Its one gate (`error_rate` ≤ 1 %) makes a failing target a failed run: exit 1. `viewer`
/// comes last, so a test may append keys under it.
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
slo:
  error_rate: 0.01
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
    assert_eq!(m.code, Some(1), "nothing answered: {}", m.stderr);
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

/// Runs a 2 s HLS scenario (drain 1 s) against `behaviour` and checks what every hostile case
/// must hold: the run ends on time, memory stays bounded, the results directory is complete,
/// and `class` is among the errors. Returns the results directory's parent (kept alive).
fn hostile_run(
    behaviour: Behaviour,
    chat: bool,
    class: &str,
) -> (tempfile::TempDir, serde_json::Value) {
    let server = Hostile::start(behaviour);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut path = hls_scenario(dir.path(), &server.url(""), 2, "/live.m3u8", "");
    if chat {
        let text = std::fs::read_to_string(&path).expect("scenario")
            + &format!(
                "  chat:\n    url: ws://127.0.0.1:{}/chat\n    messages_per_min: 60\n",
                server.port
            );
        path = write(dir.path(), "chat.yaml", &text);
    }
    let out = dir.path().join("out");
    let mut cmd = bin();
    cmd.args(["run", "--quiet", "--drain", "1s", "--out"])
        .arg(&out)
        .arg(&path);
    let m = measured(cmd, &[]);
    eprintln!(
        "{behaviour:?}: wall {:.2} s, peak RSS {} MiB, exit {:?}",
        m.wall.as_secs_f64(),
        m.max_rss_kib / 1024,
        m.code
    );
    assert!(
        m.wall <= Duration::from_secs(2 + 1 + 1),
        "{behaviour:?}: ran {:?}\n{}",
        m.wall,
        m.stderr
    );
    assert!(
        m.max_rss_kib < 150 * 1024,
        "{behaviour:?}: peak RSS {} KiB",
        m.max_rss_kib
    );
    // Every behaviour fails requests, so the error-rate gate fails: exit 1, never 0 (a
    // pass), 2 (bad input) or 3 (results not recorded).
    assert_eq!(
        m.code,
        Some(1),
        "{behaviour:?}: a failing target is a failed run: {}",
        m.stderr
    );
    assert_complete_results(&out);
    let r = results(&out);
    assert!(
        r["overall"]["errors"][class].as_u64().unwrap_or(0) > 0,
        "{behaviour:?}: expected class {class}: {}",
        r["overall"]["errors"]
    );
    (dir, r)
}

fn detail<'a>(r: &'a serde_json::Value, class: &str) -> &'a str {
    r["error_details"][class].as_str().unwrap_or_default()
}

#[test]
fn hostile_reset_and_server_errors() {
    hostile_run(Behaviour::Reset, false, "reset");
    hostile_run(Behaviour::ServerErrors, false, "http_5xx");
}

#[test]
fn hostile_garbage_is_protocol_with_its_first_bytes_in_the_report() {
    let (dir, r) = hostile_run(Behaviour::Garbage, false, "protocol");
    assert!(
        detail(&r, "protocol").contains("garbage \\x00\\xff"),
        "{}",
        r["error_details"]
    );
    let md = std::fs::read_to_string(dir.path().join("out/report.md")).expect("report.md");
    assert!(
        md.contains("`protocol`: ") && md.contains("\\x16\\x03"),
        "report.md names it"
    );
}

#[test]
fn hostile_slow_or_endless_bodies_end_on_time() {
    hostile_run(Behaviour::Slowloris, false, "cut");
    let (_, r) = hostile_run(Behaviour::HugeContentLength, false, "body_too_large");
    assert!(detail(&r, "body_too_large").contains("Content-Length 1000000000000"));
    // A kept (playlist) body that never ends is cut at the kept-body cap, not read forever.
    hostile_run(Behaviour::EndlessChunked, false, "body_too_large");
}

#[test]
fn hostile_huge_playlist_is_classified_with_its_size() {
    let (_, r) = hostile_run(
        Behaviour::HugePlaylist(100_000),
        false,
        "playlist_too_large",
    );
    assert!(
        detail(&r, "playlist_too_large").contains("bytes, over the 1024 KiB cap"),
        "{}",
        r["error_details"]
    );
    assert_ne!(r["readiness"]["overall"]["verdict"], "ready");
}

#[test]
fn hostile_redirect_loop_is_bounded() {
    let (_, r) = hostile_run(Behaviour::RedirectLoop, false, "redirect");
    assert!(
        detail(&r, "redirect").contains("more than 5 redirects"),
        "{}",
        r["error_details"]
    );
}

#[test]
fn hostile_websocket_that_never_upgrades() {
    hostile_run(Behaviour::NeverUpgrades, true, "ws_upgrade");
}

#[test]
fn a_third_ctrl_c_still_leaves_a_valid_results_json_and_sigterm_is_named() {
    let server = Hostile::start(Behaviour::Stall);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = hls_scenario(dir.path(), &server.url(""), 30, "/live.m3u8", "");
    // The third Ctrl-C follows the second by 15 ms, while the run is still cancelling and
    // writing: 150 ms later a quiet machine had already written every report, so the third
    // signal tested nothing (and the test failed on a correct "Report:" line).
    for (signals, name) in [
        (vec![1000u64, 1100, 1115], "interrupted (Ctrl-C)"),
        (vec![1000], "terminated (SIGTERM)"),
    ] {
        let out = dir.path().join(format!("out{}", signals.len()));
        let mut cmd = bin();
        cmd.args(["run", "--quiet", "--drain", "5s", "--out"])
            .arg(&out)
            .arg(&path);
        let signal = if signals.len() == 1 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        let sends: Vec<(Duration, i32)> = signals
            .iter()
            .map(|ms| (Duration::from_millis(*ms), signal))
            .collect();
        let m = measured(cmd, &sends);
        assert!(m.wall < Duration::from_secs(8), "{name}: {:?}", m.wall);
        assert_eq!(m.code, Some(1), "{name}: an interrupted run: {}", m.stderr);
        let r = results(&out);
        assert_eq!(r["status"], "interrupted", "{name}");
        assert!(
            r["status_reason"]
                .as_str()
                .unwrap_or_default()
                .starts_with(name),
            "{}",
            r["status_reason"]
        );
        for entry in std::fs::read_dir(&out).expect("out") {
            let p = entry.expect("entry").path();
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            assert!(!name.ends_with(".tmp"), "temp file {name}");
            if p.is_file() {
                assert!(
                    std::fs::metadata(&p).expect("meta").len() > 0,
                    "0-byte {name}"
                );
            }
        }
        if signals.len() == 3 {
            assert!(
                !m.stdout.contains("Report:"),
                "no report announced: {}",
                m.stdout
            );
            assert!(m.stderr.contains("peakready report"), "{}", m.stderr);
            let rerender = bin().arg("report").arg(&out).output().expect("report");
            assert_eq!(rerender.status.code(), Some(0), "{}", stderr(&rerender));
            assert_complete_results(&out);
        }
    }
}
