//! The HLS player model, chat and faults, through the real binary: against the embedded
//! staging server, and against tiny misbehaving servers started in the test on 127.0.0.1:0.

use std::path::Path;

use crate::common::*;

/// A scenario with `watch` seconds of watching and an optional extra `viewer:` block.
pub fn player_yaml(
    base_url: &str,
    secs: u32,
    rate: u32,
    watch: &str,
    rendition: &str,
    extra: &str,
) -> String {
    format!(
        r#"name: player
target:
  base_url: {base_url}
  allow_hosts: [127.0.0.1, localhost]
  timeout: 2s
regions:
  - {{ name: eu, weight: 1 }}
load:
  max_viewers: 500
  max_joins_per_sec: 200
  phases:
    - {{ name: steady, duration: {secs}s, joins_per_sec: {rate} }}
viewer:
  join: []
  watch:
    protocol: hls
    url: /hls/stream.m3u8
    duration: {watch}
    rendition: {rendition}
{extra}
"#
    )
}

pub fn run_scenario(dir: &Path, yaml: &str) -> serde_json::Value {
    let path = write(dir, "s.yaml", yaml);
    let out_dir = dir.join("out");
    let out = bin()
        .args(["run", "--seed", "3", "--drain", "3s"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    results(&out_dir)
}

pub fn metric<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &r["overall"]["metrics"][name]
}

pub fn count(r: &serde_json::Value, name: &str) -> u64 {
    metric(r, name)["count"].as_u64().unwrap_or(0)
}

pub fn errors(r: &serde_json::Value, kind: &str) -> u64 {
    r["overall"]["errors"][kind].as_u64().unwrap_or(0)
}

#[test]
fn viewers_play_the_embedded_stream_without_stalls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_scenario(
        dir.path(),
        &player_yaml("embedded", 8, 3, "5s", "by-bandwidth", ""),
    );
    let viewers = r["overall"]["joins"]["attempted"].as_u64().unwrap_or(0);
    assert!(viewers >= 18, "{viewers} viewers");
    assert_eq!(
        count(&r, "first_frame_ms"),
        viewers,
        "a first frame for every viewer: {}",
        r["overall"]
    );
    assert_eq!(count(&r, "stall_ratio"), viewers);
    assert!(
        metric(&r, "stall_ratio")["max"].as_f64().unwrap_or(1.0) < 0.01,
        "{}",
        metric(&r, "stall_ratio")
    );
    // Start 3 target durations back on 2 s segments: three segments at once, then one per 2 s
    // (the run ends at the end of its phase, cutting the last viewers short).
    assert!(
        count(&r, "segment_ms") >= viewers * 3 + viewers / 2,
        "{}",
        metric(&r, "segment_ms")
    );
    assert!(metric(&r, "download_ratio")["p50"].as_f64().unwrap_or(0.0) > 1.0);
    // Live latency ≈ hold-back (3 × 2 s) minus what was downloaded ahead; within 2–10 s.
    let latency = metric(&r, "live_latency_ms")["p50"].as_f64().unwrap_or(0.0);
    assert!(
        (2_000.0..10_000.0).contains(&latency),
        "live latency {latency} ms"
    );
    assert!(metric(&r, "first_frame_ms")["p99"].as_f64().unwrap_or(1e9) < 1_000.0);
    assert_eq!(
        r["overall"]["errors"],
        serde_json::json!({}),
        "{}",
        r["overall"]["errors"]
    );
}

#[test]
fn a_watch_time_shorter_than_startup_is_an_exit_before_video_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_scenario(
        dir.path(),
        &player_yaml("embedded", 1, 5, "1ms", "lowest", ""),
    );
    let viewers = r["overall"]["joins"]["attempted"].as_u64().unwrap_or(0);
    assert!(viewers > 0);
    assert_eq!(
        errors(&r, "exit_before_start"),
        viewers,
        "{}",
        r["overall"]["errors"]
    );
    assert_eq!(count(&r, "first_frame_ms"), 0);
}
