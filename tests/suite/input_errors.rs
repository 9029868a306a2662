//! Bad input: exit 2, and a message naming file:line:col, the key and a fix.

use crate::common::*;

fn validate(text: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "bad.yaml", text);
    let out = bin()
        .arg("validate")
        .arg(&path)
        .output()
        .expect("run peakready");
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

#[test]
fn invalid_yaml_exits_2_with_line_and_column() {
    let text = scenario_yaml("embedded", 2, 5, "").replace("  timeout: 2s", "  timeout: [2s");
    let (code, _, err) = validate(&text);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.yaml:"), "{err}");
    assert!(err.chars().any(|c| c.is_ascii_digit()), "{err}");
}

#[test]
fn unknown_key_suggests_the_nearest_valid_one() {
    let text =
        scenario_yaml("embedded", 2, 5, "").replace("joins_per_sec: 5 }", "joins_per_second: 5 }");
    let (code, _, err) = validate(&text);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("joins_per_second"), "{err}");
    assert!(err.contains("joins_per_sec"), "{err}");
    assert!(err.contains("bad.yaml:14:"), "line of the phase: {err}");
}

#[test]
fn bad_duration_names_the_key_and_location() {
    let text = scenario_yaml("embedded", 2, 5, "").replace("duration: 2s", "duration: 2 min");
    let (code, _, err) = validate(&text);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.yaml:14:"), "{err}");
    assert!(err.contains("2 min"), "{err}");
    assert!(
        err.contains("90s") || err.contains("5m"),
        "suggests the syntax: {err}"
    );
}

#[test]
fn missing_env_var_is_named_with_its_line() {
    let extra = "  headers:\n    Authorization: \"Bearer ${PEAKREADY_TEST_UNSET_VAR}\"";
    let (code, _, err) = validate(&scenario_yaml("embedded", 2, 5, extra));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("PEAKREADY_TEST_UNSET_VAR"), "{err}");
    assert!(err.contains("bad.yaml:7:"), "{err}");
}

#[test]
fn validate_prints_the_resolved_plan() {
    let (code, out, err) = validate(&scenario_yaml("embedded", 10, 20, ""));
    assert_eq!(code, 0, "{err}");
    for needle in ["eu", "sea", "steady", "120", "80", "expected peak"] {
        assert!(out.contains(needle), "missing {needle}: {out}");
    }
}

#[test]
fn names_that_would_break_the_csv_or_the_interval_log_are_refused() {
    let bad_phase = scenario_yaml("embedded", 2, 5, "").replace("name: steady", "name: \"a,b\"");
    let (code, _, err) = validate(&bad_phase);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("load.phases[0].name") && err.contains("bad.yaml:14:"),
        "{err}"
    );
    let bad_region = scenario_yaml("embedded", 2, 5, "").replace("name: eu,", "name: eu west,");
    let (code, _, err) = validate(&bad_region);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("regions[0].name"), "{err}");
    let reserved = scenario_yaml("embedded", 2, 5, "").replace("name: eu,", "name: all,");
    let (code, _, err) = validate(&reserved);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reserved"), "{err}");
}

#[test]
fn set_and_env_file_configure_a_scenario_and_validate_says_from_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = scenario_yaml("${STAGING_URL}", 10, 20, "")
        .replace(
            "  max_viewers: 500",
            "  scale: ${SCALE:-0.5}\n  max_viewers: 500",
        )
        .replace("joins_per_sec: 20 }", "joins_per_sec: ${RATE} }");
    let path = write(dir.path(), "env.yaml", &text);
    let env_file = write(
        dir.path(),
        "staging.env",
        "# staging\nSTAGING_URL=http://127.0.0.1:9\nRATE=30\n",
    );
    let out = bin()
        .arg("validate")
        .arg(&path)
        .arg("--env-file")
        .arg(&env_file)
        .args(["--set", "load.phases[0].joins_per_sec=40"])
        .env("RATE", "10")
        .output()
        .expect("run peakready");
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    assert!(o.contains("target     http://127.0.0.1:9/"), "{o}");
    for needle in [
        "values from outside the file:",
        "target.base_url",
        "staging.env:2",
        "load.scale",
        "${SCALE:-0.5} default",
        "load.phases[0].joins_per_sec  30",
        "--set #1",
    ] {
        assert!(o.contains(needle), "missing {needle:?} in\n{o}");
    }
    // 40 joins/s for 10 s: the --set rate is the one planned.
    assert!(o.contains("total: 400 arrivals"), "{o}");

    let bad = bin()
        .arg("validate")
        .arg(&path)
        .arg("--env-file")
        .arg(&env_file)
        .args(["--set", "load.scale=0.1", "--set", "load.max_viewers=lots"])
        .output()
        .expect("run peakready");
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("--set #2: load.max_viewers: invalid type: string \"lots\""),
        "{}",
        stderr(&bad)
    );
}

/// A real results directory (quick --out, 1 s against a server that answers half the time).
fn quick_results(into: &std::path::Path) -> std::path::PathBuf {
    let server =
        crate::hostile_server::Hostile::start(crate::hostile_server::Behaviour::HalfFailing);
    let dir = into.join("good");
    let out = bin()
        .args(["quick", &server.url("/"), "-c", "2", "-z", "1s", "--out"])
        .arg(&dir)
        .output()
        .expect("quick");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    dir
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for f in ["results.json", "timeseries.csv", "histograms.hlog"] {
        std::fs::copy(from.join(f), to.join(f)).expect("copy");
    }
}

#[test]
fn corrupt_results_inputs_are_refused_with_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = quick_results(tmp.path());
    let ok = bin().arg("report").arg(&good).output().expect("report");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "the untouched directory renders: {}",
        stderr(&ok)
    );

    let csv = std::fs::read_to_string(good.join("timeseries.csv")).expect("csv");
    let json = std::fs::read_to_string(good.join("results.json")).expect("json");
    let hdr_start = json.find("\"hdr\": \"").expect("an hdr field") + "\"hdr\": \"".len();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines.len() >= 3, "{csv}");
    let swapped = {
        let mut l = lines.clone();
        let last = l.len() - 1;
        l.swap(1, last);
        l.join("\n") + "\n"
    };
    type Damage = Box<dyn Fn(&std::path::Path)>;
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "garbage hdr",
            Box::new(move |d| {
                let mut j = json.clone();
                j.replace_range(hdr_start..hdr_start + 8, "garbage!");
                std::fs::write(d.join("results.json"), j).expect("write");
            }),
            "not a valid HdrHistogram",
        ),
        (
            "truncated CSV",
            Box::new({
                let csv = csv.clone();
                move |d| {
                    let cut = &csv[..csv.len() - 10];
                    std::fs::write(d.join("timeseries.csv"), cut).expect("write");
                }
            }),
            "truncated or was edited",
        ),
        (
            "negative second",
            Box::new({
                let csv = csv.clone();
                move |d| {
                    let text = csv.replacen("\n0,", "\n-1,", 1);
                    assert_ne!(text, csv, "a second-0 row exists");
                    std::fs::write(d.join("timeseries.csv"), text).expect("write");
                }
            }),
            "is not a whole number of seconds",
        ),
        (
            "out of order",
            Box::new(move |d| std::fs::write(d.join("timeseries.csv"), &swapped).expect("write")),
            "out of order",
        ),
    ];
    for (name, damage, says) in cases {
        let bad = tmp.path().join(name.replace(' ', "-"));
        copy_dir(&good, &bad);
        damage(&bad);
        let report = bin().arg("report").arg(&bad).output().expect("report");
        assert_eq!(report.status.code(), Some(2), "{name}: {}", stdout(&report));
        assert!(
            stderr(&report).contains(says),
            "{name}: {}",
            stderr(&report)
        );
        assert!(!bad.join("report.md").exists(), "{name}: nothing rendered");
        let compare = bin()
            .arg("compare")
            .arg(&good)
            .arg(&bad)
            .output()
            .expect("compare");
        assert_eq!(
            compare.status.code(),
            Some(2),
            "{name}: {}",
            stderr(&compare)
        );
        assert!(
            stderr(&compare).contains(says),
            "{name}: {}",
            stderr(&compare)
        );
    }
}

/// The three scenario errors that had no place (issue 14): CR-only line endings (every later
/// error lost its line), a second YAML document, a byte that is not UTF-8. Each is now
/// located in the file as an editor shows it.
#[test]
fn line_endings_documents_and_encoding_are_located() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = scenario_yaml("embedded", 2, 5, "");
    let run = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let out = bin().arg("validate").arg(&path).output().expect("run");
        (out.status.code().unwrap_or(-1), stderr(&out))
    };
    // Line 11 is `  max_viewers: 500`: a mistake there is found there with CRs only.
    assert_eq!(good.lines().nth(10), Some("  max_viewers: 500"));
    let cr = good
        .replace("max_viewers: 500", "max_viewers: 0")
        .replace('\n', "\r");
    let (code, err) = run("cr.yaml", cr.as_bytes());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cr.yaml:11:16: load.max_viewers"), "{err}");

    let two = format!("{good}---\nname: second\n");
    let (code, err) = run("two.yaml", two.as_bytes());
    assert_eq!(code, 2, "{err}");
    let line = good.lines().count() + 1;
    assert!(
        err.contains(&format!("two.yaml:{line}:1: a second YAML document")),
        "{err}"
    );

    let mut bytes = good.clone().into_bytes();
    assert_eq!(&bytes[6..11], b"itest");
    bytes[6] = 0xff;
    let (code, err) = run("latin1.yaml", &bytes);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("latin1.yaml:1:7: "), "{err}");
    assert!(err.contains("not valid UTF-8: byte 0xff"), "{err}");
}

/// A list where one word is expected names the words, not YAML's tag syntax.
#[test]
fn a_list_for_a_word_names_the_words() {
    let text = scenario_yaml("embedded", 2, 5, "").replace(
        "regions:",
        "event:\n  name: e\n  support_tier: [1, 2]\nregions:",
    );
    let (code, _, err) = validate(&text);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("event.support_tier: invalid type: sequence, expected one of `basic`, `enterprise`, `strategic`"),
        "{err}"
    );
    assert!(!err.contains("YAML tag"), "{err}");
}
