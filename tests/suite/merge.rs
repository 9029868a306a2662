//! `peakready merge`: two real shards run at once against one `peakready serve`, merged, and
//! checked against what decoding both shards' interval logs says; then the refusals (exit 2).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use base64::Engine;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde_json::Value;

use crate::common::*;

/// The two shard directories every test here starts from (never modified: tests copy them).
struct Shards {
    s1: PathBuf,
    s2: PathBuf,
}

/// Runs both shards once per test binary. The directory is fixed and cleared on each run, so
/// repeated test runs do not pile up copies.
fn shards() -> &'static Shards {
    static SHARDS: OnceLock<Shards> = OnceLock::new();
    SHARDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("merge-shards");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("fixture dir");
        let server = Server::start(&[]);
        let scenario = write(&root, "shard.yaml", &scenario_yaml(&server.url, 3, 20, ""));
        // Both at once, as two machines would run them: their start times line up.
        let children: Vec<_> = (1..=2)
            .map(|i| {
                bin()
                    .args(["run", "--seed", "11", "--drain", "2s", "--shard"])
                    .arg(format!("{i}/2"))
                    .arg(&scenario)
                    .arg("--out")
                    .arg(root.join(format!("s{i}")))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn run")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("shard run");
            assert_eq!(
                out.status.code(),
                Some(0),
                "stdout: {}\nstderr: {}",
                stdout(&out),
                stderr(&out)
            );
        }
        Shards {
            s1: root.join("s1"),
            s2: root.join("s2"),
        }
    })
}

fn merge(args: &[&Path], out: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .arg("merge")
        .args(args)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("merge")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A copy of a shard directory with its results.json changed by `edit`.
fn edited_copy(from: &Path, to: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    copy_dir(from, to);
    let mut r = results(to);
    edit(&mut r);
    std::fs::write(
        to.join("results.json"),
        serde_json::to_vec_pretty(&r).expect("json"),
    )
    .expect("write results.json");
    to.to_path_buf()
}

/// Every interval of `metric` in an hlog, added up (regions and seconds together).
fn hlog_union(path: &Path, metric: &str, into: &mut Histogram<u64>) {
    let bytes = std::fs::read(path).expect("hlog");
    let suffix = format!("/{metric}");
    for entry in IntervalLogIterator::new(&bytes) {
        let Ok(LogEntry::Interval(i)) = entry else {
            continue;
        };
        if !i.tag().is_some_and(|t| t.as_str().ends_with(&suffix)) {
            continue;
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(i.encoded_histogram())
            .expect("base64");
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut raw.as_slice())
            .expect("histogram");
        into.add(&h).expect("add");
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// (second, region) → active_viewers, from a timeseries.csv.
fn active_by_second(dir: &Path) -> std::collections::BTreeMap<(u64, String), u64> {
    let text = std::fs::read_to_string(dir.join("timeseries.csv")).expect("csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect("column");
    let (s, r, a) = (col("second"), col("region"), col("active_viewers"));
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .map(|c| {
            (
                (c[s].parse().expect("second"), c[r].to_string()),
                c[a].parse().expect("active"),
            )
        })
        .collect()
}

#[test]
fn merge_of_two_shards_is_the_union_of_their_measurements() {
    let sh = shards();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_dir = tmp.path().join("merged");
    // The directories in reverse order: merge sorts them by shard index.
    let out = merge(&[&sh.s2, &sh.s1], &out_dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Merged 2 of 2 shards"),
        "{}",
        stdout(&out)
    );

    // Shards and their merge are results in the published format (docs/results.schema.json).
    for dir in [&sh.s1, &sh.s2, &out_dir] {
        crate::schema::assert_conforms(dir);
    }
    let (r1, r2, m) = (results(&sh.s1), results(&sh.s2), results(&out_dir));
    for key in ["attempted", "succeeded", "failed"] {
        assert_eq!(
            u(&m["overall"]["joins"][key]),
            u(&r1["overall"]["joins"][key]) + u(&r2["overall"]["joins"][key]),
            "joins.{key}"
        );
    }
    assert!(u(&m["overall"]["joins"]["attempted"]) >= 55, "3 s × 20/s");
    for i in 0..2 {
        assert_eq!(
            u(&m["regions"][i]["joins"]["succeeded"]),
            u(&r1["regions"][i]["joins"]["succeeded"]) + u(&r2["regions"][i]["joins"]["succeeded"]),
            "region {i}"
        );
    }
    assert_eq!(
        u(&m["overall"]["requests"]),
        u(&r1["overall"]["requests"]) + u(&r2["overall"]["requests"])
    );

    for metric in ["connect_ms", "join_ms", "first_frame_ms"] {
        let (a, b, mm) = (
            &r1["overall"]["metrics"][metric],
            &r2["overall"]["metrics"][metric],
            &m["overall"]["metrics"][metric],
        );
        assert_eq!(u(&mm["count"]), u(&a["count"]) + u(&b["count"]), "{metric}");
        for p in ["p50", "p99"] {
            let (lo, hi) = (f(&a[p]).min(f(&b[p])), f(&a[p]).max(f(&b[p])));
            assert!(
                (lo..=hi).contains(&f(&mm[p])),
                "{metric} {p}: {} outside [{lo}, {hi}]",
                mm[p]
            );
        }
        // The union of both shards' interval logs, decoded here independently, is what the
        // merged percentiles must be: same count, same p50 and p99.
        let mut union = Histogram::<u64>::new(3).expect("hist");
        union.auto(true);
        hlog_union(&sh.s1.join("histograms.hlog"), metric, &mut union);
        hlog_union(&sh.s2.join("histograms.hlog"), metric, &mut union);
        assert_eq!(union.len(), u(&mm["count"]), "{metric}: hlog union count");
        for (p, q) in [("p50", 0.5), ("p99", 0.99)] {
            let expected = union.value_at_quantile(q) as f64 / 1000.0;
            assert!(
                (f(&mm[p]) - expected).abs() < 1e-9,
                "{metric} {p}: merged {} vs union of the shards' hlogs {expected}",
                mm[p]
            );
        }
        // The merged interval log holds the same samples.
        let mut merged_log = Histogram::<u64>::new(3).expect("hist");
        merged_log.auto(true);
        hlog_union(&out_dir.join("histograms.hlog"), metric, &mut merged_log);
        assert_eq!(merged_log, union, "{metric}: merged histograms.hlog");
    }

    // Concurrency adds up second by second, each shard shifted by its recorded offset.
    let merge_info = &m["merge"];
    assert_eq!(u(&merge_info["shard_count"]), 2);
    assert_eq!(merge_info["missing"], serde_json::json!([]));
    let shards_info = merge_info["shards"].as_array().expect("shards");
    assert_eq!(
        shards_info
            .iter()
            .map(|s| u(&s["index"]))
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(m.get("shard").is_none(), "a merged result is not a shard");
    let merged_active = active_by_second(&out_dir);
    let mut expected = std::collections::BTreeMap::new();
    for (dir, info) in [(&sh.s1, &shards_info[0]), (&sh.s2, &shards_info[1])] {
        for ((s, region), a) in active_by_second(dir) {
            *expected
                .entry((s + u(&info["offset_s"]), region))
                .or_insert(0) += a;
        }
    }
    assert_eq!(
        merged_active, expected,
        "active_viewers per second and region"
    );
    let peak_all = merged_active
        .iter()
        .filter(|((_, r), _)| r == "all")
        .map(|(_, a)| *a)
        .max()
        .unwrap_or(0);
    let peak = u(&m["overall"]["peak_concurrent_viewers"]);
    let (p1, p2) = (
        u(&r1["overall"]["peak_concurrent_viewers"]),
        u(&r2["overall"]["peak_concurrent_viewers"]),
    );
    assert!(
        peak >= peak_all && peak >= p1.max(p2) && peak <= p1 + p2,
        "peak {peak}: per-second sum {peak_all}, shards {p1} + {p2}"
    );
    assert!(m["readiness"]["overall"]["verdict"].is_string());
    assert_eq!(m["generator"]["limited"], false);

    for file in [
        "results.json",
        "timeseries.csv",
        "histograms.hlog",
        "report.md",
        "report.html",
        "checklist.md",
        "report-card.png",
        "charts/latency.png",
        "charts/viewers.png",
    ] {
        assert!(out_dir.join(file).is_file(), "{file} in --out");
    }
    let report = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    assert!(report.contains("## Shards"), "{report}");

    // `report OUT` re-renders from the merged directory alone, with the same numbers.
    std::fs::remove_file(out_dir.join("report.md")).expect("rm report.md");
    let again = bin().arg("report").arg(&out_dir).output().expect("report");
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(out_dir.join("report.md").is_file(), "re-rendered");
    let rerendered = results(&out_dir);
    assert_eq!(rerendered["overall"], m["overall"]);
    assert_eq!(rerendered["readiness"], m["readiness"]);
}

#[test]
fn shards_of_different_scenarios_or_seeds_are_refused() {
    let sh = shards();
    let tmp = tempfile::tempdir().expect("tempdir");
    let renamed = edited_copy(&sh.s2, &tmp.path().join("renamed"), |r| {
        r["scenario"]["name"] = "another-event".into();
    });
    let out = merge(&[&sh.s1, &renamed], &tmp.path().join("m1"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("scenario.name")
            && err.contains("another-event")
            && err.contains("renamed/results.json"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!tmp.path().join("m1").exists(), "nothing written");

    let reseeded = edited_copy(&sh.s2, &tmp.path().join("reseeded"), |r| {
        r["seed"] = 12.into();
    });
    let out = merge(&[&sh.s1, &reseeded], &tmp.path().join("m2"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("seed is `12`"), "{}", stderr(&out));

    let recounted = edited_copy(&sh.s2, &tmp.path().join("recounted"), |r| {
        r["shard"] = serde_json::json!({ "index": 2, "count": 3 });
    });
    let out = merge(&[&sh.s1, &recounted], &tmp.path().join("m3"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("shard.count"), "{}", stderr(&out));
}

#[test]
fn a_duplicated_shard_is_refused_naming_both_directories() {
    let sh = shards();
    let tmp = tempfile::tempdir().expect("tempdir");
    let twin = tmp.path().join("twin");
    copy_dir(&sh.s1, &twin);
    let out = merge(&[&sh.s1, &twin, &sh.s2], &tmp.path().join("m"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("shard 1/2 is given twice"), "{err}");
    assert!(err.contains("twin") && err.contains("s1"), "{err}");
}

#[test]
fn a_missing_shard_is_refused_unless_partial_merges_are_allowed() {
    let sh = shards();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = merge(&[&sh.s1], &tmp.path().join("m"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("shard(s) 2 of 2 missing") && err.contains("--allow-partial"),
        "{err}"
    );

    let partial = tmp.path().join("partial");
    let out = merge(&[&sh.s1], &partial, &["--allow-partial"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (r1, m) = (results(&sh.s1), results(&partial));
    assert_eq!(m["merge"]["missing"], serde_json::json!([2]));
    assert_eq!(m["overall"]["joins"], r1["overall"]["joins"]);
    assert!(
        m["notices"]
            .to_string()
            .contains("INCOMPLETE: shard(s) 2 of 2 are missing"),
        "{}",
        m["notices"]
    );
    let report = std::fs::read_to_string(partial.join("report.md")).expect("report.md");
    assert!(
        report.contains("Incomplete: shard(s) 2 of 2 are missing"),
        "{report}"
    );
}

#[test]
fn merge_refuses_a_non_empty_out_and_a_directory_without_results() {
    let sh = shards();
    let tmp = tempfile::tempdir().expect("tempdir");
    let busy = tmp.path().join("busy");
    std::fs::create_dir_all(&busy).expect("mkdir");
    std::fs::write(busy.join("keep.txt"), "mine").expect("write");
    let out = merge(&[&sh.s1, &sh.s2], &busy, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_dir(&busy).expect("read_dir").count(),
        1,
        "nothing added to --out"
    );

    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = merge(&[&sh.s1, &empty], &tmp.path().join("m"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("is not a peakready results directory") && err.contains("empty"),
        "{err}"
    );
}

#[test]
fn shards_started_apart_are_aligned_by_wall_clock_with_a_warning() {
    let sh = shards();
    let tmp = tempfile::tempdir().expect("tempdir");
    let late = edited_copy(&sh.s2, &tmp.path().join("late"), |r| {
        let start = r["started_at"].as_str().expect("started_at");
        let t = chrono::DateTime::parse_from_rfc3339(start).expect("rfc3339");
        r["started_at"] = (t + chrono::Duration::seconds(5)).to_rfc3339().into();
    });
    let out_dir = tmp.path().join("m");
    let out = merge(&[&sh.s1, &late], &out_dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("shard start times differ by"),
        "{}",
        stderr(&out)
    );
    let m = results(&out_dir);
    let skew = f(&m["merge"]["start_skew_s"]);
    assert!((4.5..=5.5).contains(&skew), "skew {skew}");
    let offset = u(&m["merge"]["shards"][1]["offset_s"]);
    assert!((4..=6).contains(&offset), "offset {offset}");
    // Shard 2's rows moved later: the merged series is longer than either shard's.
    let last = |d: &Path| {
        active_by_second(d)
            .keys()
            .map(|(s, _)| *s)
            .max()
            .unwrap_or(0)
    };
    assert_eq!(last(&out_dir), last(&sh.s1).max(last(&late) + offset));
    assert!(m["notices"].to_string().contains("start times differ"));
}

#[test]
fn a_damaged_interval_log_is_named_and_leaves_no_half_written_out() {
    let sh = shards();
    let tmp = tempfile::tempdir().expect("tempdir");
    let damaged = tmp.path().join("damaged");
    copy_dir(&sh.s2, &damaged);
    let hlog = damaged.join("histograms.hlog");
    let mut text = std::fs::read_to_string(&hlog).expect("hlog");
    text.push_str("Tag=eu/connect_ms,9.000,1.000,oops\n");
    std::fs::write(&hlog, text).expect("write hlog");
    let out_dir = tmp.path().join("m");
    let out = merge(&[&sh.s1, &damaged], &out_dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("damaged/histograms.hlog line") && !err.contains("panicked"),
        "{err}"
    );
    assert!(!out_dir.exists(), "no half-written --out");
}

/// Issue 13: two equal regions and two shards. One round-robin over all viewer ids gave shard 1
/// only the first region and shard 2 only the second; each shard must run an even mix, and its
/// terminal table must show both regions measured.
#[test]
fn each_of_two_shards_runs_both_of_two_equal_regions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = scenario_yaml("embedded", 3, 20, "")
        .replace("weight: 60", "weight: 50")
        .replace("weight: 40", "weight: 50");
    let scenario = write(dir.path(), "even.yaml", &yaml);
    for i in 1..=2 {
        let out_dir = dir.path().join(format!("s{i}"));
        let out = bin()
            .args(["run", "--seed", "11", "--drain", "2s", "--shard"])
            .arg(format!("{i}/2"))
            .arg(&scenario)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .expect("shard run");
        let terminal = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{terminal}\n{}", stderr(&out));
        let r = results(&out_dir);
        let started = |region: usize| u(&r["regions"][region]["viewers"]["started"]);
        let total = started(0) + started(1);
        assert!(total >= 25, "shard {i} started {total}");
        for region in 0..2 {
            assert!(
                started(region).abs_diff(total / 2) <= 2,
                "shard {i}: region {} started {} of {total}",
                r["regions"][region]["name"],
                started(region)
            );
        }
        for name in ["eu", "sea"] {
            let row = terminal
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("no {name} row in shard {i}:\n{terminal}"));
            let joins: u64 = row
                .split_whitespace()
                .nth(1)
                .and_then(|w| w.replace(',', "").parse().ok())
                .unwrap_or(0);
            assert!(joins > 0, "shard {i} {name}: {row}");
        }
    }
}
