//! Safety: refused hosts send nothing; secrets never reach an output.

use std::io::ErrorKind;

use crate::common::*;

#[test]
fn a_host_outside_allow_hosts_is_refused_before_any_packet() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let text = scenario_yaml(&format!("http://127.0.0.1:{port}"), 2, 10, "").replace(
        "allow_hosts: [127.0.0.1, localhost]",
        "allow_hosts: [localhost]",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "refused.yaml", &text);
    for verb in ["validate", "run"] {
        let out = bin()
            .arg(verb)
            .arg(&path)
            .arg("--quiet")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{verb}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("127.0.0.1") && err.contains("allow_hosts"),
            "{err}"
        );
    }
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("a connection reached the refused host: {other:?}"),
    }
}

#[test]
fn secrets_from_env_never_reach_any_output() {
    let secret = "sekrit-7f3a9c-token";
    let extra = "  headers:\n    Authorization: \"Bearer ${PEAKREADY_TEST_TOKEN}\"";
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "secret.yaml",
        &scenario_yaml("embedded", 2, 5, extra),
    );
    let out_dir = dir.path().join("out");
    let run = bin()
        .env("PEAKREADY_TEST_TOKEN", secret)
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    let validate = bin()
        .env("PEAKREADY_TEST_TOKEN", secret)
        .arg("validate")
        .arg(&path)
        .output()
        .expect("validate");
    assert_eq!(validate.status.code(), Some(0), "{}", stderr(&validate));
    assert!(
        stdout(&validate).contains("Authorization"),
        "header names are shown"
    );
    let mut texts = vec![
        stdout(&run),
        stderr(&run),
        stdout(&validate),
        stderr(&validate),
    ];
    for entry in std::fs::read_dir(&out_dir).expect("out dir") {
        let p = entry.expect("entry").path();
        if p.is_file() {
            texts.push(String::from_utf8_lossy(&std::fs::read(&p).expect("read")).into_owned());
        }
    }
    assert!(texts.len() >= 8, "results files written");
    for t in texts {
        assert!(
            !t.contains(secret),
            "secret leaked into: {}",
            &t[..t.len().min(300)]
        );
    }
}

#[test]
fn the_secret_header_does_reach_the_target() {
    // The other half of secret safety: hiding the value must not mean dropping it.
    use std::io::{Read, Write};
    let secret = "sekrit-reaches-target-42";
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen_by_server = seen.clone();
    let expected = format!("authorization: bearer {secret}");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            if String::from_utf8_lossy(&buf[..n])
                .to_lowercase()
                .contains(&expected)
            {
                seen_by_server.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    let text = scenario_yaml(
        &format!("http://127.0.0.1:{port}"),
        2,
        5,
        "  headers:\n    Authorization: \"Bearer ${PEAKREADY_TEST_TOKEN}\"",
    )
    .replace(
        "    - { name: room, method: GET, path: /api/v1/rooms/gala }\n",
        "",
    )
    .replace("    protocol: hls\n", "    protocol: none\n")
    .replace("  error_rate: 0.05\n", "");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "auth.yaml", &text);
    let out = bin()
        .env("PEAKREADY_TEST_TOKEN", secret)
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        seen.load(std::sync::atomic::Ordering::SeqCst) >= 8,
        "the Authorization header reached the server"
    );
}

#[test]
fn credentials_in_a_url_are_refused_and_never_echoed() {
    let secret = "pw-5d1e7c-userinfo";
    let dir = tempfile::tempdir().expect("tempdir");
    let base = format!("http://alice:{secret}@127.0.0.1:9");
    let watch = format!("http://bob:{secret}@127.0.0.1:9/live.m3u8");
    let cases = [
        scenario_yaml(&base, 2, 5, ""),
        scenario_yaml("http://127.0.0.1:9", 2, 5, "")
            .replace("url: /hls/stream.m3u8", &format!("url: {watch}")),
        // Through the environment too: the check is on the value, wherever it came from.
        scenario_yaml("${PEAKREADY_TEST_BASE}", 2, 5, ""),
    ];
    for (i, text) in cases.iter().enumerate() {
        let path = write(dir.path(), &format!("userinfo{i}.yaml"), text);
        let out_dir = dir.path().join(format!("out{i}"));
        for verb in ["validate", "run"] {
            let mut cmd = bin();
            cmd.env("PEAKREADY_TEST_BASE", &base).arg(verb).arg(&path);
            if verb == "run" {
                cmd.arg("--out").arg(&out_dir);
            }
            let out = cmd.output().expect("run");
            assert_eq!(
                out.status.code(),
                Some(2),
                "case {i} {verb}: {}",
                stderr(&out)
            );
            let (so, se) = (stdout(&out), stderr(&out));
            assert!(se.contains("credentials"), "case {i} {verb}: {se}");
            assert!(
                se.contains("${"),
                "the fix names a header from the environment: {se}"
            );
            assert!(
                !so.contains(secret) && !se.contains(secret),
                "case {i} {verb} echoed it"
            );
        }
        assert!(
            !out_dir.exists(),
            "nothing is written for a refused scenario"
        );
    }
    let quick = bin()
        .args(["quick", &base, "-z", "1s"])
        .output()
        .expect("quick");
    assert_eq!(quick.status.code(), Some(2));
    assert!(stderr(&quick).contains("credentials"), "{}", stderr(&quick));
    assert!(!stdout(&quick).contains(secret) && !stderr(&quick).contains(secret));
}
