//! Helpers: write a scenario, run the real binary, read results.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_peakready"));
    c.env("CI", "1").env_remove("STAGING_TOKEN");
    c
}

/// A small scenario: `base_url` as given, one phase of `secs` at `rate` joins/s, two regions.
pub fn scenario_yaml(base_url: &str, secs: u32, rate: u32, extra_target: &str) -> String {
    format!(
        r#"name: itest
target:
  base_url: {base_url}
  allow_hosts: [127.0.0.1, localhost]
  timeout: 2s
{extra_target}
regions:
  - {{ name: eu, weight: 60 }}
  - {{ name: sea, weight: 40 }}
load:
  max_viewers: 500
  max_joins_per_sec: 200
  phases:
    - {{ name: steady, duration: {secs}s, joins_per_sec: {rate} }}
viewer:
  join:
    - {{ name: token, method: POST, path: /api/v1/token, body: '{{"uid":"{{{{viewer_id}}}}"}}', expect_status: 200 }}
    - {{ name: room, method: GET, path: /api/v1/rooms/gala }}
  watch:
    protocol: hls
    url: /hls/stream.m3u8
    duration: 3s
slo:
  connect_ms: {{ p99: 1000 }}
  join_ms: {{ p95: 3000 }}
  error_rate: 0.05
"#
    )
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn results(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json exists");
    serde_json::from_str(&text).expect("results.json is JSON")
}

/// A `peakready serve` child on a free loopback port, killed by PID when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        let mut child = bin()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("first line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server {
            child,
            url,
            _stdout: stdout,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
