//! Against real servers: nginx with the RTMP module (RTMP ingest → HLS, served over HTTP) and
//! ffmpeg publishing a test pattern, all on 127.0.0.1 with free ports and a temp dir.
//! `.ci/run` installs them (`nginx libnginx-mod-rtmp ffmpeg`); on a machine without them each
//! test prints a loud SKIP and passes, so the README's `cargo test` works anywhere.
//!
//! Every process started here is owned by a guard that kills and reaps it by PID on drop,
//! so a failing assertion never leaves nginx or ffmpeg behind.

/// `eprintln!`, and the same line appended to the file `PEAKREADY_TEST_FIGURES` names, if set:
/// `.ci/run` shows the figures and SKIPs from that file instead of running this suite twice.
macro_rules! shown {
    ($($arg:tt)*) => {{
        let line = format!($($arg)*);
        eprintln!("{line}");
        if let Some(path) = std::env::var_os("PEAKREADY_TEST_FIGURES") {
            use std::io::Write;
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path);
            // One write per line: parallel tests append whole lines.
            if let Ok(mut file) = file {
                let _ = file.write_all(format!("{line}\n").as_bytes());
            }
        }
    }};
}

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::player::{count, errors, metric};

const MODULE_DIRS: [&str; 3] = [
    "/usr/lib/nginx/modules",
    "/usr/share/nginx/modules",
    "/usr/lib64/nginx/modules",
];

/// Kills and reaps its process on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// nginx and its RTMP module (for tests that publish with peakready itself) — or a loud skip.
fn nginx_tools(test: &str) -> Option<(PathBuf, PathBuf)> {
    let nginx = which("nginx");
    let module = MODULE_DIRS
        .iter()
        .map(|d| Path::new(d).join("ngx_rtmp_module.so"))
        .find(|p| p.is_file());
    match (nginx, module) {
        (Some(n), Some(m)) => Some((n, m)),
        (n, m) => {
            shown!(
                "\n*** SKIP {test}: needs nginx ({}) and ngx_rtmp_module.so ({}). \
                 Install with: apt-get install -y nginx libnginx-mod-rtmp ***\n",
                found(n.is_some()),
                found(m.is_some()),
            );
            None
        }
    }
}

/// nginx, its RTMP module, ffmpeg — or a loud skip.
fn tools(test: &str) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let nginx = which("nginx");
    let module = MODULE_DIRS
        .iter()
        .map(|d| Path::new(d).join("ngx_rtmp_module.so"))
        .find(|p| p.is_file());
    let ffmpeg = which("ffmpeg");
    match (nginx, module, ffmpeg) {
        (Some(n), Some(m), Some(f)) => Some((n, m, f)),
        (n, m, f) => {
            shown!(
                "\n*** SKIP {test}: needs nginx ({}), ngx_rtmp_module.so ({}) and ffmpeg ({}). \
                 Install with: apt-get install -y nginx libnginx-mod-rtmp ffmpeg ***\n",
                found(n.is_some()),
                found(m.is_some()),
                found(f.is_some())
            );
            None
        }
    }
}

fn found(ok: bool) -> &'static str {
    if ok {
        "found"
    } else {
        "MISSING"
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

struct Nginx {
    _guard: Guard,
    rtmp: u16,
    http: u16,
    dir: PathBuf,
}

/// nginx on two free loopback ports: RTMP app `live` (→ HLS, 1 s fragments, 6 s playlist),
/// app `closed` (publishing denied), and HTTP serving the HLS directory under `/hls/`, and
/// again under `/limited/` behind `limit_conn 20` with responses sent at 40 kB/s.
fn start_nginx(nginx: &Path, module: &Path, dir: &Path) -> Nginx {
    let (rtmp, http) = (free_port(), free_port());
    let d = dir.display();
    for sub in ["hls", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    let conf = format!(
        r#"load_module {module};
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
rtmp {{
  server {{
    listen 127.0.0.1:{rtmp};
    chunk_size 4096;
    application live {{ live on; record off; hls on; hls_path {d}/hls; hls_fragment 1s; hls_playlist_length 6s; }}
    application closed {{ live on; deny publish all; }}
  }}
}}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy; fastcgi_temp_path {d}/tmp/fcgi;
  uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
  types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
  limit_conn_zone $server_port zone=perserver:1m;
  server {{
    listen 127.0.0.1:{http};
    location /hls/ {{ alias {d}/hls/; add_header Cache-Control no-cache; }}
    # The same stream behind a capacity limit: 20 requests in progress at once, each response
    # sent at 40 kB/s, so segment downloads hold their slot (503 beyond it).
    location /limited/ {{ alias {d}/hls/; add_header Cache-Control no-cache; limit_conn perserver 20; limit_rate 40k; }}
  }}
}}
"#,
        module = module.display()
    );
    let conf_path = write(dir, "nginx.conf", &conf);
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    let guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", http)).is_err()
        || std::net::TcpStream::connect(("127.0.0.1", rtmp)).is_err()
    {
        assert!(
            Instant::now() < deadline,
            "nginx did not listen: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx {
        _guard: guard,
        rtmp,
        http,
        dir: dir.to_path_buf(),
    }
}

/// ffmpeg publishing a 25 fps test pattern with a 1 s GOP to `live/<key>`.
fn start_ffmpeg(ffmpeg: &Path, ng: &Nginx, key: &str) -> Guard {
    let child = Command::new(ffmpeg)
        .args([
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine",
        ])
        .args([
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-f",
            "flv",
        ])
        .arg(format!("rtmp://127.0.0.1:{}/live/{key}", ng.rtmp))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ffmpeg");
    Guard(child)
}

/// Waits until nginx lists at least `segments` segments for `key`.
fn wait_for_playlist(ng: &Nginx, key: &str, segments: usize, within: Duration) {
    let path = ng.dir.join("hls").join(format!("{key}.m3u8"));
    let deadline = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.matches("#EXTINF").count() >= segments {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no HLS playlist for {key} after {within:?}: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Viewers of `/hls/<key>.m3u8` on nginx; `extra` is appended (e.g. `publishers:`).
fn yaml(ng: &Nginx, key: &str, phases: &str, watch: &str, extra: &str) -> String {
    format!(
        r#"name: real
target:
  base_url: http://127.0.0.1:{http}
  allow_hosts: [127.0.0.1]
  timeout: 2s
regions:
  - {{ name: eu, weight: 1 }}
load:
  max_viewers: 200
  max_joins_per_sec: 100
  phases:
{phases}
viewer:
  join: []
  watch:
    protocol: hls
    url: /hls/{key}.m3u8
    duration: {watch}
{extra}
"#,
        http = ng.http
    )
}

fn run(dir: &Path, yaml: &str) -> std::process::Child {
    let path = write(dir, "real.yaml", yaml);
    bin()
        .args(["run", "--seed", "5", "--drain", "3s"])
        .arg(&path)
        .arg("--out")
        .arg(dir.join("out"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run")
}

fn finish(child: std::process::Child, dir: &Path) -> serde_json::Value {
    let out = child.wait_with_output().expect("wait");
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    results(&dir.join("out"))
}

#[test]
fn viewers_watch_an_ffmpeg_stream_through_nginx_rtmp() {
    let Some((nginx, module, ffmpeg)) = tools("viewers_watch_an_ffmpeg_stream_through_nginx_rtmp")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ng = start_nginx(&nginx, &module, dir.path());
    let _ff = start_ffmpeg(&ffmpeg, &ng, "test");
    wait_for_playlist(&ng, "test", 4, Duration::from_secs(15));
    let r = finish(
        run(
            dir.path(),
            &yaml(
                &ng,
                "test",
                "    - { name: steady, duration: 8s, joins_per_sec: 3 }",
                "5s",
                "",
            ),
        ),
        dir.path(),
    );
    let viewers = r["overall"]["joins"]["attempted"].as_u64().unwrap_or(0);
    shown!(
        "real (a): {viewers} viewers, first_frame {}, segments {}, stall_ratio {}",
        metric(&r, "first_frame_ms"),
        count(&r, "segment_ms"),
        metric(&r, "stall_ratio")
    );
    assert!(viewers >= 20, "{viewers}");
    assert_eq!(
        count(&r, "first_frame_ms"),
        viewers,
        "first frames for all: {}",
        r["overall"]["errors"]
    );
    assert!(
        count(&r, "segment_ms") >= viewers * 3,
        "{}",
        metric(&r, "segment_ms")
    );
    assert!(
        metric(&r, "stall_ratio")["p95"].as_f64().unwrap_or(1.0) < 0.02,
        "{}",
        metric(&r, "stall_ratio")
    );
    assert!(
        r["overall"]["error_rate"].as_f64().unwrap_or(1.0) < 0.01,
        "{}",
        r["overall"]["errors"]
    );
}

#[test]
fn killing_the_publisher_shows_stalls_and_a_stale_playlist() {
    let Some((nginx, module, ffmpeg)) =
        tools("killing_the_publisher_shows_stalls_and_a_stale_playlist")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ng = start_nginx(&nginx, &module, dir.path());
    let mut ff = start_ffmpeg(&ffmpeg, &ng, "test");
    wait_for_playlist(&ng, "test", 4, Duration::from_secs(15));
    let child = run(
        dir.path(),
        &yaml(
            &ng,
            "test",
            "    - { name: steady, duration: 12s, joins_per_sec: 2 }",
            "12s",
            "",
        ),
    );
    std::thread::sleep(Duration::from_secs(4));
    let _ = ff.0.kill();
    let _ = ff.0.wait();
    let r = finish(child, dir.path());
    shown!(
        "real (b): stall_ratio {}, errors {}",
        metric(&r, "stall_ratio"),
        r["overall"]["errors"]
    );
    assert!(
        errors(&r, "stale_playlist") > 0,
        "{}",
        r["overall"]["errors"]
    );
    assert!(
        metric(&r, "stall_ratio")["max"].as_f64().unwrap_or(0.0) > 0.2,
        "{}",
        metric(&r, "stall_ratio")
    );
    // Viewers of the frozen stream could not watch: never READY.
    assert!(
        crate::player::outcome(&r, "playback_failed") > 0,
        "{}",
        r["overall"]["viewers"]
    );
    assert_eq!(r["readiness"]["overall"]["verdict"], "not_ready");
}

#[test]
fn peakready_publishes_to_nginx_and_viewers_watch_it() {
    let Some((nginx, module)) = nginx_tools("peakready_publishes_to_nginx_and_viewers_watch_it")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ng = start_nginx(&nginx, &module, dir.path());
    let publishers = format!("publishers:\n  protocol: rtmp\n  url: rtmp://127.0.0.1:{}/live/pr\n  streams: 1\n  bitrate_kbps: 800\n  duration: 30s\n", ng.rtmp);
    // Viewers arrive once our own publisher has had time to fill nginx's playlist.
    let phases = "    - { name: warmup, duration: 5s, joins_per_sec: 0 }\n    - { name: watch, duration: 8s, joins_per_sec: 2 }";
    let r = finish(
        run(dir.path(), &yaml(&ng, "pr", phases, "6s", &publishers)),
        dir.path(),
    );
    let viewers = r["overall"]["joins"]["attempted"].as_u64().unwrap_or(0);
    shown!(
        "real (c): publish_connect {}, ingest {}, first_frame {}",
        metric(&r, "publish_connect_ms"),
        metric(&r, "ingest_kbps"),
        metric(&r, "first_frame_ms")
    );
    assert_eq!(count(&r, "publish_connect_ms"), 1);
    let kbps = metric(&r, "ingest_kbps")["p50"].as_f64().unwrap_or(0.0);
    assert!(
        (760.0..880.0).contains(&kbps),
        "ingest {kbps} kbit/s for 800 asked"
    );
    assert!(viewers >= 14);
    assert_eq!(
        count(&r, "first_frame_ms"),
        viewers,
        "{}",
        r["overall"]["errors"]
    );
    assert_eq!(r["overall"]["errors"], serde_json::json!({}));
}

#[test]
fn nginx_denying_publish_is_a_rejection() {
    let Some((nginx, module)) = nginx_tools("nginx_denying_publish_is_a_rejection") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ng = start_nginx(&nginx, &module, dir.path());
    let publishers = format!("publishers:\n  protocol: rtmp\n  url: rtmp://127.0.0.1:{}/closed/pr\n  streams: 2\n  bitrate_kbps: 300\n  duration: 10s\n", ng.rtmp);
    let phases = "    - { name: idle, duration: 3s, joins_per_sec: 0 }";
    let r = finish(
        run(dir.path(), &yaml(&ng, "pr", phases, "1s", &publishers)),
        dir.path(),
    );
    assert!(
        errors(&r, "publish_rejected") >= 2,
        "{}",
        r["overall"]["errors"]
    );
    assert_eq!(errors(&r, "publish_disconnect"), 0);
    assert_eq!(r["status"], "completed");
}

/// nginx `limit_conn 20` in front of a live stream, 100 viewers arriving over 10 s: most cannot
/// watch. They are failed viewers in results.json, the terminal summary, report.md and the
/// card's text alike, and the run is NOT READY (exit 1).
#[test]
fn nginx_limit_conn_fails_most_viewers_in_every_output_alike() {
    let Some((nginx, module)) =
        nginx_tools("nginx_limit_conn_fails_most_viewers_in_every_output_alike")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ng = start_nginx(&nginx, &module, dir.path());
    let publishers = format!("publishers:\n  protocol: rtmp\n  url: rtmp://127.0.0.1:{}/live/lc\n  streams: 1\n  bitrate_kbps: 400\n  duration: 40s\n", ng.rtmp);
    let phases = "    - { name: warmup, duration: 5s, joins_per_sec: 0 }\n    - { name: crowd, duration: 10s, joins_per_sec: 10 }";
    let text =
        yaml(&ng, "lc", phases, "20s", &publishers).replace("/hls/lc.m3u8", "/limited/lc.m3u8");
    let out = run(dir.path(), &text).wait_with_output().expect("wait");
    let terminal = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{terminal}\n{}", stderr(&out));
    let out_dir = dir.path().join("out");
    let r = results(&out_dir);
    let v = &r["overall"]["viewers"];
    let (failed, started) = (
        v["failed"].as_u64().unwrap_or(0),
        v["started"].as_u64().unwrap_or(0),
    );
    shown!(
        "real (limit_conn): {v}\n  errors {}",
        r["overall"]["errors"]
    );
    assert!((95..=105).contains(&started), "{v}");
    assert!(failed * 2 > started, "most viewers could not watch: {v}");
    assert!(errors(&r, "http_5xx") > 0, "{}", r["overall"]["errors"]);
    assert_eq!(r["readiness"]["overall"]["verdict"], "not_ready");
    let report = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    let loaded = peakready::report::load(&out_dir).expect("results load");
    let card = peakready::report::card::text(
        &loaded,
        &peakready::report::card::Badge::for_result(&loaded),
    );
    for (name, text) in [
        ("terminal", &terminal),
        ("report.md", &report),
        ("card", &card),
    ] {
        assert!(
            crate::outcomes::all_could_not_watch(text).contains(&(failed, started)),
            "{name}:\n{text}"
        );
    }
    assert!(terminal.contains("Readiness: NOT READY"), "{terminal}");
    assert!(card.starts_with("OVERALL: NOT READY"), "{card}");
}

/// websocketd running `cat`: a third-party WebSocket server that echoes each message to its
/// sender only. With `chat.delivery: echo` deliveries are measured; in the default fan-out mode
/// none can be, and report.md says why.
#[test]
fn chat_against_websocketd_in_echo_mode_measures_deliveries() {
    let Some(websocketd) = which("websocketd") else {
        shown!(
            "\n*** SKIP chat_against_websocketd_in_echo_mode_measures_deliveries: needs websocketd (MISSING). \
             Install with: apt-get install -y websocketd ***\n"
        );
        return;
    };
    let Some(cat) = which("cat") else {
        shown!("\n*** SKIP chat_against_websocketd_in_echo_mode_measures_deliveries: no cat ***\n");
        return;
    };
    let port = free_port();
    let child = Command::new(websocketd)
        .arg(format!("--port={port}"))
        .arg("--address=127.0.0.1")
        .arg(cat)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start websocketd");
    let _guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "websocketd did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let scenario = |delivery: &str| {
        format!(
            r#"name: echo
target:
  base_url: embedded
  allow_hosts: [127.0.0.1, localhost]
  timeout: 3s
regions:
  - {{ name: eu, weight: 1 }}
load:
  max_viewers: 100
  max_joins_per_sec: 50
  phases:
    - {{ name: steady, duration: 4s, joins_per_sec: 3 }}
viewer:
  watch: {{ protocol: none, duration: 6s }}
  chat: {{ url: "ws://127.0.0.1:{port}/", messages_per_min: 120{delivery} }}
"#
        )
    };
    let go = |name: &str, yaml: String| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), &format!("{name}.yaml"), &yaml);
        let out = bin()
            .args(["run", "--seed", "1", "--drain", "3s"])
            .arg(&path)
            .arg("--out")
            .arg(dir.path().join("out"))
            .output()
            .expect("run");
        assert!(
            matches!(out.status.code(), Some(0) | Some(1)),
            "{}",
            stderr(&out)
        );
        let r = results(&dir.path().join("out"));
        let md = std::fs::read_to_string(dir.path().join("out/report.md")).expect("report.md");
        (r, md, dir)
    };
    let (r, md, _keep) = go("echo", scenario(", delivery: echo"));
    let deliveries = count(&r, "chat_delivery_ms");
    let ratio = metric(&r, "chat_delivery_ratio")["mean"]
        .as_f64()
        .unwrap_or(0.0);
    shown!(
        "real (websocketd echo): {deliveries} deliveries, ratio mean {ratio}, delivery {}",
        metric(&r, "chat_delivery_ms")
    );
    assert!(deliveries >= 20, "{}", r["overall"]["metrics"]);
    assert!(ratio > 0.9, "own messages come back: {ratio}");
    assert!(
        md.contains("## Chat") && md.contains("Delivery mode `echo`"),
        "{md}"
    );
    assert!(
        !md.contains("No message from another viewer arrived"),
        "{md}"
    );

    let (r, md, _keep) = go("fanout", scenario(""));
    assert_eq!(count(&r, "chat_delivery_ms"), 0);
    assert!(count(&r, "chat_connect_ms") > 0);
    assert!(
        md.contains("No message from another viewer arrived")
            && md.contains("viewer.chat.delivery: echo"),
        "{md}"
    );
}

/// Publishers belong to no viewer region: with two regions, their gate is judged once (overall)
/// and passes, no region fails it with "no samples", and report.md shows them as a group.
#[test]
fn publishers_across_two_regions_are_one_group_with_their_own_gate() {
    let Some((nginx, module)) =
        nginx_tools("publishers_across_two_regions_are_one_group_with_their_own_gate")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ng = start_nginx(&nginx, &module, dir.path());
    let publishers = format!("publishers:\n  protocol: rtmp\n  url: rtmp://127.0.0.1:{}/live/two\n  streams: 1\n  bitrate_kbps: 500\n  duration: 6s\nslo:\n  publish_connect_ms: {{ p99: 2000 }}\n", ng.rtmp);
    let text = yaml(
        &ng,
        "two",
        "    - { name: idle, duration: 5s, joins_per_sec: 0 }",
        "1s",
        &publishers,
    )
    .replace(
        "  - { name: eu, weight: 1 }",
        "  - { name: eu, weight: 1 }\n  - { name: sea, weight: 1 }",
    );
    let r = finish(run(dir.path(), &text), dir.path());
    let gates: Vec<&serde_json::Value> = r["slo"]
        .as_array()
        .expect("slo")
        .iter()
        .filter(|g| g["metric"] == "publish_connect_ms")
        .collect();
    assert_eq!(gates.len(), 1, "{}", r["slo"]);
    assert_eq!(gates[0]["scope"], "overall");
    assert_eq!(gates[0]["passed"], true, "{}", r["slo"]);
    for region in r["regions"].as_array().expect("regions") {
        assert!(
            region["metrics"]["publish_connect_ms"].is_null(),
            "{region}"
        );
    }
    let md = std::fs::read_to_string(dir.path().join("out/report.md")).expect("report.md");
    assert!(
        md.contains("## Publishers")
            && md.contains("| publish connect")
            && md.contains("| ingest rate"),
        "{md}"
    );
    let checklist =
        std::fs::read_to_string(dir.path().join("out/checklist.md")).expect("checklist");
    assert!(!checklist.contains("no samples"), "{checklist}");
}

/// nginx alone (no RTMP module, no ffmpeg) — or a loud skip.
fn nginx_only(test: &str) -> Option<PathBuf> {
    let nginx = which("nginx");
    if nginx.is_none() {
        shown!("\n*** SKIP {test}: needs nginx (MISSING). Install with: apt-get install -y nginx ***\n");
    }
    nginx
}

/// nginx with `limit_conn perip 20` in front of `peakready serve`: a viewer holds one chat
/// WebSocket through it (a request nginx counts for the socket's whole life), so the 21st
/// concurrent viewer is refused with 503. The capacity search must find 20 ± 2.
#[test]
fn capacity_search_finds_nginx_limit_conn_20() {
    let Some(nginx) = nginx_only("capacity_search_finds_nginx_limit_conn_20") else {
        return;
    };
    let _serial = crate::capacity::one_at_a_time();
    let upstream = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display();
    std::fs::create_dir_all(dir.path().join("tmp")).expect("mkdir");
    let http = free_port();
    let conf = format!(
        r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy; fastcgi_temp_path {d}/tmp/fcgi;
  uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
  limit_conn_zone $binary_remote_addr zone=perip:1m;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
  server {{
    listen 127.0.0.1:{http};
    limit_conn perip 20;
    location / {{
      proxy_pass {upstream};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 120s;
    }}
  }}
}}
"#,
        upstream = upstream.url.trim_end_matches('/')
    );
    let conf_path = write(dir.path(), "nginx.conf", &conf);
    let _nginx = Guard(
        Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", http)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let yaml = format!(
        r#"name: limit-conn
target:
  base_url: http://127.0.0.1:{http}
  allow_hosts: [127.0.0.1]
  timeout: 3s
regions:
  - {{ name: eu, weight: 1 }}
load:
  max_viewers: 200
  max_joins_per_sec: 100
  phases:
    - {{ name: steady, duration: 10s, joins_per_sec: 2 }}
viewer:
  join:
    - {{ name: token, method: POST, path: /api/v1/token, body: '{{"uid":"{{{{viewer_id}}}}"}}', expect_status: 200 }}
  watch:
    protocol: none
    duration: 30s
  chat:
    url: /chat?room=gala
    messages_per_min: 0
slo:
  error_rate: 0.01
search:
  start: 5
  max: 80
  ramp: 2s
  settle: 1s
  step: 2s
  cooldown: 1s
  precision: 5%
  hold: 3s
  max_steps: 10
"#
    );
    let path = write(dir.path(), "limit.yaml", &yaml);
    let out = bin()
        .args(["capacity", "--seed", "4"])
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .expect("run capacity");
    let r = results(&dir.path().join("out"));
    let c = &r["capacity"];
    let (p, f) = (
        c["highest_pass"].as_f64().unwrap_or(0.0),
        c["lowest_fail"].as_f64().unwrap_or(0.0),
    );
    shown!("real (limit_conn 20): {}", c["sentence"]);
    assert_eq!(c["outcome"], "bracket", "{}", stderr(&out));
    assert!(
        (18.0..=22.0).contains(&p) && (18.0..=22.0).contains(&f),
        "{p}–{f}"
    );
    assert_eq!(c["hold"]["verdict"], "pass");
}
