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

/// Like [`player_yaml`] but with `watch.protocol` and chat.
fn chat_yaml(
    base_url: &str,
    secs: u32,
    rate: u32,
    protocol: &str,
    chat_url: &str,
    per_min: u32,
) -> String {
    player_yaml(
        base_url,
        secs,
        rate,
        "6s",
        "lowest",
        &format!("  chat:\n    url: {chat_url}\n    messages_per_min: {per_min}\n"),
    )
    .replace("protocol: hls", &format!("protocol: {protocol}"))
}

#[test]
fn chat_messages_reach_the_other_viewers_of_the_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_scenario(
        dir.path(),
        &chat_yaml("embedded", 6, 3, "hls", "/chat?room=gala", 60),
    );
    let viewers = r["overall"]["joins"]["attempted"].as_u64().unwrap_or(0);
    assert_eq!(count(&r, "chat_connect_ms"), viewers, "{}", r["overall"]);
    // Each viewer sends about one message a second while several others listen.
    assert!(
        count(&r, "chat_delivery_ms") > viewers * 5,
        "{}",
        metric(&r, "chat_delivery_ms")
    );
    assert!(
        metric(&r, "chat_delivery_ms")["p99"]
            .as_f64()
            .unwrap_or(1e9)
            < 100.0
    );
    let ratio = metric(&r, "chat_delivery_ratio");
    assert!(ratio["min"].as_f64().unwrap_or(0.0) > 0.95, "{ratio}");
    // No closes, hence no reconnects. (`chat_reconnects` itself cannot show 0 yet:
    // `metrics::result::record_value` records 0 as 1.)
    assert_eq!(count(&r, "chat_reconnects"), viewers);
    assert_eq!(r["overall"]["errors"], serde_json::json!({}));
    assert_eq!(errors(&r, "chat_duplicate"), 0);
    assert_eq!(
        count(&r, "first_frame_ms"),
        viewers,
        "watching and chatting side by side"
    );
    assert!(!r["notices"]
        .to_string()
        .contains("chat simulation is not implemented"));
}

/// A server on 127.0.0.1:0 answering every connection with `handle` on its own thread.
/// Threads end with the test process; the listener is never reached from outside loopback.
pub fn fake_server(handle: fn(std::net::TcpStream)) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || handle(stream));
        }
    });
    format!("http://{addr}")
}

/// Reads one HTTP request head; returns its first line.
pub fn read_head(stream: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && buf.len() < 16_384 {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_chat_endpoint_that_never_upgrades_is_classified_and_the_run_goes_on() {
    let base = fake_server(|mut s| {
        use std::io::Write;
        let _ = read_head(&mut s);
        let _ =
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n");
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_scenario(
        dir.path(),
        &chat_yaml(&base, 3, 2, "none", "/chat?room=x", 60),
    );
    let viewers = r["overall"]["joins"]["attempted"].as_u64().unwrap_or(0);
    assert!(viewers >= 5);
    assert!(
        errors(&r, "ws_upgrade") >= viewers,
        "{}",
        r["overall"]["errors"]
    );
    assert_eq!(count(&r, "chat_connect_ms"), 0);
    assert_eq!(r["status"], "completed");
}

#[test]
fn close_1013_is_counted_and_followed_by_a_reconnect() {
    let base = fake_server(|s| {
        use tokio_tungstenite::tungstenite::protocol::frame::{coding::CloseCode, CloseFrame};
        if let Ok(mut ws) = tokio_tungstenite::tungstenite::accept(s) {
            let frame = CloseFrame {
                code: CloseCode::Again,
                reason: "try later".into(),
            };
            let _ = ws.close(Some(frame));
            while ws.read().is_ok() {}
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_scenario(
        dir.path(),
        &chat_yaml(&base, 4, 2, "none", "/chat?room=x", 60),
    );
    let viewers = r["overall"]["joins"]["attempted"].as_u64().unwrap_or(0);
    assert!(
        errors(&r, "ws_close_1013") > viewers,
        "closes and reconnects: {}",
        r["overall"]["errors"]
    );
    assert!(
        metric(&r, "chat_reconnects")["max"].as_f64().unwrap_or(0.0) >= 2.0,
        "{}",
        metric(&r, "chat_reconnects")
    );
    assert_eq!(r["status"], "completed");
}
