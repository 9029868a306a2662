//! `viewer.data` feeders: columns as `{{column}}`, `unique` refusing too few rows, and shards
//! taking disjoint rows, observed at a recording target.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::common::*;

/// A keep-alive HTTP/1.1 target on loopback that answers 200 and records each request path.
/// Its threads end with the test process; every connection is closed by the client.
fn recording_target() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut out = match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => return,
                };
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    // Skip the rest of the head (GET: no body).
                    let mut h = String::new();
                    while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
                        h.clear();
                    }
                    if let Ok(mut l) = log.lock() {
                        l.push(path);
                    }
                    let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    line.clear();
                }
            });
        }
    });
    (url, seen)
}

fn scenario(base_url: &str, pick: &str) -> String {
    format!(
        r#"name: feeder
target:
  base_url: {base_url}
  allow_hosts: [127.0.0.1]
  timeout: 2s
load:
  max_viewers: 100
  max_joins_per_sec: 50
  phases:
    - {{ name: steady, duration: 2s, joins_per_sec: 10 }}
viewer:
  data: {{ file: accounts.csv, pick: {pick} }}
  join:
    - {{ name: login, path: "/login/{{{{user}}}}?room={{{{room}}}}" }}
  watch: {{ protocol: none, duration: 1s }}
"#
    )
}

fn accounts(dir: &std::path::Path, rows: usize) {
    let mut csv = String::from("user,room\n");
    for i in 0..rows {
        csv.push_str(&format!("user{i},room{}\n", i % 3));
    }
    write(dir, "accounts.csv", &csv);
}

#[test]
fn unique_rows_are_split_between_shards_without_overlap() {
    let dir = tempfile::tempdir().expect("tempdir");
    accounts(dir.path(), 40);
    let (url, seen) = recording_target();
    let path = write(dir.path(), "feeder.yaml", &scenario(&url, "unique"));
    let mut per_shard: Vec<Vec<String>> = Vec::new();
    for shard in ["1/2", "2/2"] {
        let before = seen.lock().map(|l| l.len()).unwrap_or(0);
        let out = bin()
            .args(["run", "--quiet", "--seed", "9", "--shard", shard])
            .arg(&path)
            .arg("--out")
            .arg(dir.path().join(shard.replace('/', "-")))
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        let users: Vec<String> = seen
            .lock()
            .map(|l| l[before..].to_vec())
            .unwrap_or_default();
        per_shard.push(users);
    }
    let (a, b) = (&per_shard[0], &per_shard[1]);
    assert!(
        a.len() >= 8 && b.len() >= 8,
        "about 10 viewers each: {a:?} {b:?}"
    );
    for p in a.iter().chain(b) {
        assert!(
            p.starts_with("/login/user") && p.contains("?room=room"),
            "{p}"
        );
    }
    assert!(
        a.iter().all(|p| !b.contains(p)),
        "shards shared a row:\n{a:?}\n{b:?}"
    );
    let mut all: Vec<&String> = a.iter().chain(b).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), a.len() + b.len(), "a row was used twice");
}

#[test]
fn unique_refuses_to_start_with_too_few_rows_and_says_how_many() {
    let dir = tempfile::tempdir().expect("tempdir");
    accounts(dir.path(), 12);
    let path = write(
        dir.path(),
        "feeder.yaml",
        &scenario("http://127.0.0.1:9", "unique"),
    );
    for verb in ["validate", "run"] {
        let out = bin().arg(verb).arg(&path).output().expect("peakready");
        assert_eq!(out.status.code(), Some(2), "{verb}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("the plan starts up to 20 viewers, but accounts.csv has 12 rows"),
            "{verb}: {err}"
        );
    }
    let sequential = write(
        dir.path(),
        "seq.yaml",
        &scenario("http://127.0.0.1:9", "sequential"),
    );
    let out = bin()
        .arg("validate")
        .arg(&sequential)
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("accounts.csv: 12 rows of user, room (values hidden)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn feeder_mistakes_name_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "accounts.csv", "user,room\na,b\nc\n");
    let path = write(
        dir.path(),
        "feeder.yaml",
        &scenario("http://127.0.0.1:9", "random"),
    );
    let out = bin().arg("validate").arg(&path).output().expect("validate");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("feeder.yaml:14:") && err.contains("accounts.csv:3"),
        "{err}"
    );
    write(dir.path(), "accounts.csv", "user name,room\na,b\n");
    let out = bin().arg("validate").arg(&path).output().expect("validate");
    assert!(
        stderr(&out).contains("column `user name`"),
        "{}",
        stderr(&out)
    );
    let undefined = scenario("http://127.0.0.1:9", "random").replace("{{room}}", "{{rooom}}");
    write(dir.path(), "accounts.csv", "user,room\na,b\n");
    let path = write(dir.path(), "undefined.yaml", &undefined);
    let out = bin().arg("validate").arg(&path).output().expect("validate");
    assert!(
        stderr(&out).contains("`{{rooom}}` is not defined here"),
        "{}",
        stderr(&out)
    );
}
