//! Real runs of the binary against the embedded staging server and a dead target.

use std::time::{Duration, Instant};

use crate::common::*;

fn assert_ordered(metric: &serde_json::Value, name: &str) {
    let f = |k: &str| {
        metric[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}.{k} missing: {metric}"))
    };
    assert!(
        metric["count"].as_u64().unwrap_or(0) > 0,
        "{name} has samples"
    );
    assert!(
        f("min") <= f("p50")
            && f("p50") <= f("p90")
            && f("p90") <= f("p99")
            && f("p99") <= f("max"),
        "{name}: {metric}"
    );
    assert!(f("p99") <= f("p99.9"), "{name}: {metric}");
}

#[test]
fn end_to_end_run_against_the_embedded_server_measures_every_region() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "e2e.yaml",
        &scenario_yaml("embedded", 4, 25, ""),
    );
    let out_dir = dir.path().join("out");
    let out = bin()
        .args(["run", "--seed", "7", "--drain", "5s"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );

    let r = results(&out_dir);
    assert_eq!(r["schema"], 2);
    assert_eq!(r["seed"], 7);
    assert_eq!(r["status"], "completed");
    let overall = &r["overall"];
    let attempted = overall["joins"]["attempted"].as_u64().unwrap_or(0);
    assert!(
        (95..=105).contains(&attempted),
        "4 s × 25/s ≈ 100 arrivals, got {attempted}"
    );
    assert_eq!(overall["joins"]["succeeded"].as_u64(), Some(attempted));
    for name in [
        "connect_ms",
        "ttfb_ms",
        "join_ms",
        "playlist_ms",
        "segment_ms",
        "first_frame_ms",
        "generator_lag_ms",
    ] {
        assert_ordered(&overall["metrics"][name], name);
    }
    let regions = r["regions"].as_array().expect("regions");
    assert_eq!(regions.len(), 2);
    let eu = regions[0]["joins"]["attempted"].as_u64().unwrap_or(0) as f64;
    assert!(
        (eu / attempted as f64 - 0.6).abs() < 0.02,
        "eu share {eu}/{attempted}"
    );
    // 3 scenario gates and the default viewer_failure_rate gate, in 2 regions and overall.
    assert!(
        r["slo"]
            .as_array()
            .is_some_and(|s| s.len() == 12 && s.iter().all(|g| g["passed"] == true)),
        "{}",
        r["slo"]
    );

    // Per-second series: a row per region and `all` for every second.
    let csv = std::fs::read_to_string(out_dir.join("timeseries.csv")).expect("timeseries.csv");
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("second,region,phase,arrivals"));
    assert!(
        rows.iter().filter(|l| l.contains(",eu,steady,")).count() >= 3,
        "{csv}"
    );
    let arrivals: u64 = rows
        .iter()
        .filter(|l| l.contains(",all,"))
        .map(|l| {
            l.split(',')
                .nth(3)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(arrivals, attempted, "series arrivals add up");

    // The interval log is a real HdrHistogram log.
    let hlog = std::fs::read(out_dir.join("histograms.hlog")).expect("hlog");
    let mut intervals = 0;
    for item in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&hlog) {
        if let Ok(hdrhistogram::serialization::interval_log::LogEntry::Interval(i)) = item {
            assert!(i.tag().is_some());
            intervals += 1;
        }
    }
    assert!(intervals > 10, "{intervals} intervals");

    let report = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    assert!(
        report.contains("| eu ") && report.contains("PASS"),
        "{report}"
    );
    assert!(stdout(&out).contains("report.md"));

    // `report DIR` re-renders from the directory alone.
    std::fs::remove_file(out_dir.join("report.md")).expect("rm");
    let re = bin().arg("report").arg(&out_dir).output().expect("report");
    assert_eq!(re.status.code(), Some(0), "{}", stderr(&re));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("report.md")).expect("re-rendered"),
        report
    );
}

#[test]
fn a_dead_target_yields_classified_errors_exit_1_and_a_report() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "dead.yaml",
        &scenario_yaml(&format!("http://127.0.0.1:{port}"), 2, 10, ""),
    );
    let out_dir = dir.path().join("out");
    let out = bin()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = results(&out_dir);
    let refused = r["overall"]["errors"]["refused"].as_u64().unwrap_or(0);
    assert!(refused >= 15, "refused {refused}: {}", r["overall"]);
    assert_eq!(r["overall"]["joins"]["succeeded"], 0);
    assert!(out_dir.join("report.md").exists());
}

#[cfg(unix)]
#[test]
fn ctrl_c_mid_run_still_writes_valid_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "long.yaml",
        &scenario_yaml("embedded", 60, 10, ""),
    );
    let out_dir = dir.path().join("out");
    let mut child = bin()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: signalling our own child by its PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("peakready did not stop within 20 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(1));
    let r = results(&out_dir);
    assert_eq!(r["status"], "interrupted");
    // At 10 joins/s, 3 s in: a loaded machine may take a second or two to start.
    assert!(r["overall"]["joins"]["attempted"].as_u64().unwrap_or(0) >= 5);
    assert!(r["duration_s"].as_f64().unwrap_or(99.0) < 15.0);
    assert!(out_dir.join("report.md").exists());
}

#[test]
fn regions_carry_their_own_network_profile_and_source_addresses() {
    let text = scenario_yaml("embedded", 3, 10, "  source_addrs: 127.0.0.2-127.0.0.5")
        .replace(
            "  - { name: eu, weight: 60 }",
            "  - { name: eu, weight: 60, network: { rtt_ms: 100 } }",
        )
        .replace(
            "  watch:",
            "  chat:\n    url: /chat?room=gala\n    messages_per_min: 30\n  watch:",
        );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "netem.yaml", &text);
    let out_dir = dir.path().join("out");
    let out = bin()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = results(&out_dir);
    let connect_p50 = |i: usize| {
        r["regions"][i]["metrics"]["connect_ms"]["p50"]
            .as_f64()
            .unwrap_or(-1.0)
    };
    assert!(
        (85.0..=115.0).contains(&connect_p50(0)),
        "eu (rtt 100 ms) connect p50 {}",
        connect_p50(0)
    );
    assert!(
        connect_p50(1) >= 0.0 && connect_p50(1) < 5.0,
        "sea (no profile) connect p50 {}",
        connect_p50(1)
    );
    assert_eq!(
        r["overall"]["joins"]["failed"], 0,
        "source addresses 127.0.0.2-5 reach the target"
    );
    // Chat takes the region's path too: TCP handshake (1 RTT) + upgrade request → 101 (1 RTT).
    let chat_p50 = |i: usize| {
        r["regions"][i]["metrics"]["chat_connect_ms"]["p50"]
            .as_f64()
            .unwrap_or(-1.0)
    };
    assert!(
        (180.0..=260.0).contains(&chat_p50(0)),
        "eu (rtt 100 ms) chat connect p50 {}",
        chat_p50(0)
    );
    assert!(
        chat_p50(1) >= 0.0 && chat_p50(1) < 20.0,
        "sea (no profile) chat connect p50 {}",
        chat_p50(1)
    );
}
