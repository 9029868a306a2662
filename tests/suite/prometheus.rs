//! `--metrics-listen` scraped by a real Prometheus (Debian's `prometheus`, started here on
//! loopback with a 1 s scrape interval) during a 10 s run, and `--json-lines`: the join count
//! and the join p99 that PromQL returns match results.json (the p99 within its bucket).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Kills and reaps its child (by PID) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// GET over HTTP/1.0 (so the body ends at close), body only.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    (status == "200").then(|| body.to_string())
}

fn query(port: u16, promql: &str) -> Option<f64> {
    let q: String = url::form_urlencoded::byte_serialize(promql.as_bytes()).collect();
    let body = get(port, &format!("/api/v1/query?query={q}"))?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

fn prometheus_config(dir: &Path, target_port: u16) -> std::path::PathBuf {
    write(
        dir,
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: peakready\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
        ),
    )
}

#[test]
fn a_real_prometheus_scrapes_a_run_and_promql_matches_results_json() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIP: `prometheus` is not installed (apt-get install prometheus); the live metrics exposition was NOT checked against a real Prometheus");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (metrics_port, prom_port) = (free_port(), free_port());
    let config = prometheus_config(dir.path(), metrics_port);
    let _prom = Guard(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let ready = Instant::now();
    while get(prom_port, "/-/ready").is_none() {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "prometheus never became ready"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let scenario = write(
        dir.path(),
        "live.yaml",
        &scenario_yaml("embedded", 10, 15, ""),
    );
    let out_dir = dir.path().join("out");
    let lines = dir.path().join("seconds.jsonl");
    let out = bin()
        .args(["run", "--quiet", "--seed", "4"])
        .arg(&scenario)
        .arg("--out")
        .arg(&out_dir)
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
        .arg("--json-lines")
        .arg(&lines)
        .output()
        .expect("run");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let r = results(&out_dir);
    let joins = r["overall"]["joins"]["succeeded"].as_f64().unwrap_or(0.0);
    assert!(joins >= 140.0, "10 s × 15/s: {}", r["overall"]["joins"]);

    // Counters are cumulative per series: the last value before the target went away.
    let promql_joins = query(prom_port, "sum(max_over_time(peakready_joins_total[10m]))");
    assert_eq!(
        promql_joins,
        Some(joins),
        "PromQL join count vs results.json"
    );

    let p99_ms = r["overall"]["metrics"]["join_ms"]["p99"]
        .as_f64()
        .unwrap_or(0.0);
    let promql_p99 = query(
        prom_port,
        "histogram_quantile(0.99, sum by (le) (max_over_time(peakready_join_seconds_bucket[10m])))",
    )
    .expect("a p99 from PromQL")
        * 1000.0;
    // The exposition's join buckets (ms): the PromQL answer lies in the bucket holding the
    // HdrHistogram p99.
    let bounds = [
        0.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 1500.0, 2500.0, 5000.0, 10000.0,
    ];
    let i = bounds
        .iter()
        .position(|b| *b >= p99_ms)
        .unwrap_or(bounds.len() - 1)
        .max(1);
    let (lo, hi) = (bounds[i - 1], bounds[i]);
    assert!(
        promql_p99 >= lo - 1e-6 && promql_p99 <= hi + 1e-6,
        "PromQL p99 {promql_p99:.1} ms not in the bucket ({lo}, {hi}] of results.json's {p99_ms:.1} ms"
    );
    eprintln!("prometheus: joins {promql_joins:?} = results {joins}; p99 {promql_p99:.1} ms vs HDR {p99_ms:.1} ms (bucket {lo}–{hi} ms)");

    // One JSON object per closed second, summing to the same joins.
    let text = std::fs::read_to_string(&lines).expect("json lines");
    let objs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert!(objs.len() >= 10, "{} seconds", objs.len());
    let summed: f64 = objs
        .iter()
        .flat_map(|o| {
            o["regions"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
        })
        .map(|reg| reg["joins"].as_f64().unwrap_or(0.0))
        .sum();
    assert_eq!(summed, joins);
}
