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

/// Viewers whose visit ended in `outcome` (every started viewer is in exactly one).
pub fn outcome(r: &serde_json::Value, outcome: &str) -> u64 {
    let v = &r["overall"]["viewers"];
    let sum: u64 = v["outcomes"]
        .as_object()
        .map(|o| o.values().filter_map(|n| n.as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(
        Some(sum),
        v["started"].as_u64(),
        "outcomes sum to started: {v}"
    );
    v["outcomes"][outcome].as_u64().unwrap_or(0)
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
        outcome(&r, "exit_before_start"),
        viewers,
        "{}",
        r["overall"]["viewers"]
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

/// Answers requests on one keep-alive connection with `respond(path)` (raw response bytes;
/// `None` closes the connection).
fn http_loop(mut s: std::net::TcpStream, respond: fn(&str) -> Option<Vec<u8>>) {
    use std::io::Write;
    loop {
        let head = read_head(&mut s);
        let Some(path) = head.split(' ').nth(1) else {
            return;
        };
        match respond(path) {
            Some(bytes) => {
                if s.write_all(&bytes).is_err() {
                    return;
                }
            }
            None => return,
        }
    }
}

fn ok(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A live playlist that never advances: six 1 s segments.
fn static_playlist() -> Vec<u8> {
    let mut p = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n",
    );
    for i in 0..6 {
        p.push_str(&format!("#EXTINF:1.0,\nseg-{i}.ts\n"));
    }
    ok("application/vnd.apple.mpegurl", p.as_bytes())
}

fn fault_run(base: &str) -> (serde_json::Value, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_scenario(dir.path(), &player_yaml(base, 3, 3, "5s", "lowest", ""));
    assert_eq!(r["status"], "completed", "the run goes on");
    let viewers = r["overall"]["joins"]["attempted"].as_u64().unwrap_or(0);
    assert!(viewers >= 8, "{viewers}");
    assert_eq!(
        r["overall"]["departures"].as_u64(),
        Some(viewers),
        "every viewer ended cleanly"
    );
    (r, viewers)
}

#[test]
fn a_playlist_that_is_not_hls_fails_the_video_start() {
    let base =
        fake_server(|s| http_loop(s, |_| Some(ok("text/html", b"<html>maintenance</html>"))));
    let (r, viewers) = fault_run(&base);
    assert_eq!(errors(&r, "not_hls"), viewers, "{}", r["overall"]["errors"]);
    assert_eq!(outcome(&r, "video_start_failed"), viewers);
    assert_eq!(count(&r, "first_frame_ms"), 0);
}

#[test]
fn segments_that_404_forever_are_counted_at_the_live_edge_and_give_up() {
    let base = fake_server(|s| {
        http_loop(s, |path| {
            Some(if path.ends_with(".m3u8") {
                static_playlist()
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
            })
        })
    });
    let (r, viewers) = fault_run(&base);
    let e = &r["overall"]["errors"];
    assert!(errors(&r, "http_4xx") >= viewers, "{e}");
    assert!(errors(&r, "live_edge_404") >= viewers, "{e}");
    // Viewers still retrying when the run ends are not failures (the run cut them off).
    assert!(
        outcome(&r, "video_start_failed") >= viewers / 3,
        "{}",
        r["overall"]["viewers"]
    );
    assert_eq!(count(&r, "first_frame_ms"), 0);
}

#[test]
fn a_server_closing_mid_segment_is_a_reset() {
    let base = fake_server(|mut s| {
        use std::io::Write;
        loop {
            let head = read_head(&mut s);
            if head.is_empty() {
                return;
            }
            if head.contains(".m3u8") {
                if s.write_all(&static_playlist()).is_err() {
                    return;
                }
                continue;
            }
            // Announce 100 kB, send 1 kB, hang up.
            let mut partial = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
            partial.resize(partial.len() + 1000, 0x47);
            let _ = s.write_all(&partial);
            return;
        }
    });
    let (r, viewers) = fault_run(&base);
    let e = &r["overall"]["errors"];
    assert!(errors(&r, "reset") + errors(&r, "other") >= viewers, "{e}");
    // Every listed segment failed; the playlist never advances, so viewers wait for new
    // segments until the run ends them.
    assert_eq!(count(&r, "first_frame_ms"), 0);
}

#[test]
fn an_rtmp_server_that_refuses_publish_is_counted_and_the_run_goes_on() {
    // Completes the handshake, then hangs up on `connect`, as a server refusing an app does.
    let base = fake_server(|mut s| {
        use std::io::{Read, Write};
        let mut c0c1 = [0u8; 1537];
        if s.read_exact(&mut c0c1).is_err() {
            return;
        }
        let mut reply = vec![3u8];
        reply.extend_from_slice(&[0u8; 1536]);
        reply.extend_from_slice(&c0c1[1..]);
        let _ = s.write_all(&reply);
        let mut c2 = [0u8; 1536];
        let _ = s.read_exact(&mut c2);
    });
    let rtmp = base.replace("http://", "rtmp://") + "/live/x";
    let extra = format!("publishers:\n  protocol: rtmp\n  url: {rtmp}\n  streams: 2\n  bitrate_kbps: 300\n  duration: 3s\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = player_yaml("embedded", 3, 2, "2s", "lowest", "")
        .replace("\npublishers_placeholder", "")
        + &extra;
    let r = run_scenario(dir.path(), &yaml);
    assert_eq!(r["status"], "completed");
    assert!(
        errors(&r, "publish_rejected") >= 2,
        "{}",
        r["overall"]["errors"]
    );
    assert_eq!(count(&r, "publish_connect_ms"), 0);
    assert!(count(&r, "first_frame_ms") > 0, "viewers unaffected");
}

/// `GET path` on a fresh connection; (status, body).
fn http_get(base: &str, path: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(head.as_bytes()).expect("send");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, raw[split..].to_vec())
}

fn ll_config(ll_hls: bool) -> peakready::staging::StagingConfig {
    peakready::staging::StagingConfig {
        ll_hls,
        segment_duration: std::time::Duration::from_secs(2),
        ..peakready::staging::StagingConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ll_hls_blocking_reload_waits_for_the_part_and_refuses_far_ahead() {
    use peakready::protocol::playlist::{parse, Playlist};
    let server = peakready::staging::EmbeddedServer::start(ll_config(true))
        .await
        .expect("server");
    let base = server.base_url();
    tokio::task::spawn_blocking(move || {
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        let (status, body) = http_get(&base, "/hls/low/index.m3u8");
        let text0 = text(body);
        let Ok(Playlist::Media(m)) = parse(&text0) else {
            panic!("{status} {text0}")
        };
        let (msn, next) = (
            m.next_msn(),
            m.parts.iter().filter(|p| p.msn == m.next_msn()),
        );
        let part = next.count() as u32;
        let t0 = std::time::Instant::now();
        let path = format!("/hls/low/index.m3u8?_HLS_msn={msn}&_HLS_part={part}");
        let (status, body) = http_get(&base, &path);
        let text = text(body);
        let held = t0.elapsed();
        let Ok(Playlist::Media(after)) = parse(&text) else {
            panic!("{status} {text}")
        };
        let listed = |m: &peakready::protocol::playlist::MediaPlaylist| {
            m.parts.iter().any(|p| (p.msn, p.part_index) == (msn, part))
                || m.segments.iter().any(|s| s.msn == msn)
        };
        assert!(!listed(&m) && listed(&after), "{text}");
        assert!(held > std::time::Duration::from_millis(5), "held {held:?}");
        assert!(
            held < std::time::Duration::from_millis(700),
            "held {held:?}"
        );
        // The hinted part blocks the same way and has exactly 0.5 s × 400 kbit/s of bytes.
        let hint = after.preload_hint.expect("preload hint");
        let (status, body) = http_get(&base, &format!("/hls/low/{hint}"));
        assert_eq!((status, body.len()), (200, 25_000));
        let far = format!("/hls/low/index.m3u8?_HLS_msn={}&_HLS_part=0", msn + 10);
        assert_eq!(http_get(&base, &far).0, 400);
    })
    .await
    .expect("client thread");
}

#[tokio::test(flavor = "multi_thread")]
async fn ll_hls_viewers_follow_parts_with_lower_latency_than_classic() {
    let ll = peakready::staging::EmbeddedServer::start(ll_config(true))
        .await
        .expect("ll server");
    let classic = peakready::staging::EmbeddedServer::start(ll_config(false))
        .await
        .expect("classic server");
    let run = |base: String| {
        tokio::task::spawn_blocking(move || {
            let dir = tempfile::tempdir().expect("tempdir");
            run_scenario(dir.path(), &player_yaml(&base, 6, 2, "5s", "lowest", ""))
        })
    };
    let (l, c) = tokio::join!(run(ll.base_url()), run(classic.base_url()));
    let (l, c) = (l.expect("ll run"), c.expect("classic run"));
    let p50 = |r: &serde_json::Value, m: &str| metric(r, m)["p50"].as_f64().unwrap_or(f64::NAN);
    let viewers = l["overall"]["joins"]["attempted"].as_u64().unwrap_or(0);
    eprintln!(
        "LL-HLS: {viewers} viewers, part_hold_ms p50 {:.0} ({} samples), part_interval_ms p50 \
         {:.0} ({}), live latency p50 {:.0} ms vs classic {:.0} ms, first frame p50 {:.0} ms \
         vs {:.0} ms",
        p50(&l, "part_hold_ms"),
        count(&l, "part_hold_ms"),
        p50(&l, "part_interval_ms"),
        count(&l, "part_interval_ms"),
        p50(&l, "live_latency_ms"),
        p50(&c, "live_latency_ms"),
        p50(&l, "first_frame_ms"),
        p50(&c, "first_frame_ms"),
    );
    assert!(viewers >= 10, "{viewers}");
    assert_eq!(count(&l, "first_frame_ms"), viewers, "{}", l["overall"]);
    assert!(
        count(&l, "part_hold_ms") >= viewers * 4,
        "{}",
        metric(&l, "part_hold_ms")
    );
    assert!(count(&l, "part_interval_ms") >= viewers * 3);
    let interval = p50(&l, "part_interval_ms");
    assert!(
        (375.0..=625.0).contains(&interval),
        "part interval p50 {interval} ms"
    );
    assert!(metric(&l, "stall_ratio")["max"].as_f64().unwrap_or(1.0) < 0.01);
    // Preload-hinted parts are fetched ahead of the playlist and the server holds them until
    // they exist: that wait is a hold (part_hold_ms, about one part), never a slow download.
    assert!(
        metric(&l, "part_hold_ms")["p99"].as_f64().unwrap_or(0.0) > 250.0,
        "holds of about one 500 ms part: {}",
        metric(&l, "part_hold_ms")
    );
    assert!(
        p50(&l, "segment_ms") < 100.0,
        "part downloads stay fast, holds are not counted as downloads: {}",
        metric(&l, "segment_ms")
    );
    assert_eq!(l["overall"]["errors"], serde_json::json!({}));
    let (lat_ll, lat_classic) = (p50(&l, "live_latency_ms"), p50(&c, "live_latency_ms"));
    assert!(
        lat_ll < 0.6 * lat_classic,
        "{lat_ll} ms vs classic {lat_classic} ms"
    );
}

/// A frozen live stream (a playlist that never advances, its segments served fine): viewers get
/// a first frame, then nothing. They failed to watch, the run is NOT READY, and `compare`
/// against a healthy run of the same scenario flags it.
#[test]
fn a_frozen_playlist_is_not_ready_and_compare_flags_it() {
    let frozen = fake_server(|s| {
        http_loop(s, |path| {
            Some(if path.ends_with(".m3u8") {
                static_playlist()
            } else {
                ok("video/mp2t", &[0u8; 2048])
            })
        })
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |base: &str, name: &str| {
        let path = write(
            dir.path(),
            &format!("{name}.yaml"),
            &player_yaml(base, 4, 4, "6s", "lowest", ""),
        );
        let out_dir = dir.path().join(name);
        let out = bin()
            .args(["run", "--seed", "3", "--drain", "3s"])
            .arg(&path)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .expect("run");
        (out, out_dir)
    };
    let (healthy_out, healthy) = run("embedded", "healthy");
    let (frozen_out, frozen_dir) = run(&frozen, "frozen");
    assert_eq!(
        healthy_out.status.code(),
        Some(0),
        "{}",
        stdout(&healthy_out)
    );
    assert_eq!(frozen_out.status.code(), Some(1), "{}", stdout(&frozen_out));
    let r = results(&frozen_dir);
    let viewers = r["overall"]["viewers"]["started"].as_u64().unwrap_or(0);
    assert!(viewers >= 10, "{}", r["overall"]["viewers"]);
    assert!(
        errors(&r, "stale_playlist") > 0,
        "{}",
        r["overall"]["errors"]
    );
    assert!(
        outcome(&r, "playback_failed") >= viewers / 2,
        "{}",
        r["overall"]["viewers"]
    );
    // Only viewers the run's end cut before the freeze showed (1.5 target durations) count
    // as played.
    assert!(
        outcome(&r, "played") < outcome(&r, "playback_failed"),
        "{}",
        r["overall"]["viewers"]
    );
    assert_eq!(r["readiness"]["overall"]["verdict"], "not_ready");
    // Requests all succeeded: the request error rate alone would have called this healthy.
    assert_eq!(r["overall"]["error_rate"].as_f64(), Some(0.0));

    let cmp = bin()
        .arg("compare")
        .arg(&healthy)
        .arg(&frozen_dir)
        .output()
        .expect("compare");
    let text = stdout(&cmp);
    assert_eq!(cmp.status.code(), Some(1), "{text}\n{}", stderr(&cmp));
    assert!(
        text.contains("overall READY → NOT READY") || text.contains("overall AT RISK → NOT READY"),
        "{text}"
    );
    assert!(text.contains("overall viewer_failure_rate value"), "{text}");
}

/// Segments on a host outside `allow_hosts` are refused before any packet: each refusal is a
/// failed request with its class, and the viewers that could therefore never start are
/// `refused_before_sending` (not a silent 0% error rate).
#[test]
fn a_segment_on_a_host_not_allowed_is_a_counted_refusal() {
    let base = fake_server(|s| {
        http_loop(s, |path| {
            path.ends_with(".m3u8").then(|| {
                let mut p = String::from(
                    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n",
                );
                for i in 0..6 {
                    p.push_str(&format!("#EXTINF:1.0,\nhttp://cdn.invalid/seg-{i}.ts\n"));
                }
                ok("application/vnd.apple.mpegurl", p.as_bytes())
            })
        })
    });
    let (r, viewers) = fault_run(&base);
    let refused = errors(&r, "host_not_allowed");
    assert!(refused >= viewers, "{}", r["overall"]["errors"]);
    assert!(
        r["overall"]["error_rate"].as_f64().unwrap_or(0.0) > 0.5,
        "refusals are failed requests: {}",
        r["overall"]
    );
    assert!(
        outcome(&r, "refused_before_sending") >= viewers / 3,
        "{}",
        r["overall"]["viewers"]
    );
    assert_eq!(outcome(&r, "played"), 0);
}
