//! One run, one story: the readiness target `validate` announces is the figure the terminal,
//! report.md, report.html, the card and the checklist judge the run against, and a headline
//! never says an SLO held when one failed.

use crate::common::*;

/// 40 viewers (4 s at 10/s, staying 10 s) against an event forecast of 40 × 1.5 headroom: the
/// target (60) is out of the plan's reach.
fn short_of_target_yaml() -> String {
    r#"name: short
event:
  name: Launch
  expected_peak_viewers: 40
  expected_peak_joins_per_sec: 10
  headroom: 1.5
target:
  base_url: embedded
  allow_hosts: [127.0.0.1, localhost]
  timeout: 3s
regions:
  - { name: eu, weight: 1 }
load:
  max_viewers: 500
  max_joins_per_sec: 100
  phases:
    - { name: ramp, duration: 4s, joins_per_sec: 10 }
viewer:
  watch:
    protocol: hls
    url: /hls/stream.m3u8
    duration: 10s
slo:
  first_frame_ms: { p95: 5000 }
"#
    .to_string()
}

#[test]
fn validate_warns_when_the_plan_cannot_reach_the_target_and_every_output_prints_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "short.yaml", &short_of_target_yaml());
    let v = bin().arg("validate").arg(&path).output().expect("validate");
    let text = stdout(&v);
    assert_eq!(v.status.code(), Some(0), "{text}\n{}", stderr(&v));
    assert!(
        text.contains("readiness target: 60 concurrent viewers (= 40 forecast × 100% scale × 1.5 headroom), 15 joins/s"),
        "{text}"
    );
    assert!(
        text.contains("warning: the plan peaks at 40 concurrent viewers, below the readiness target of 60 (0.67×): the run cannot be READY"),
        "{text}"
    );

    let out_dir = dir.path().join("out");
    let run = bin()
        .args(["run", "--seed", "2", "--drain", "2s"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    let terminal = stdout(&run);
    let r = results(&out_dir);
    assert_eq!(
        r["readiness"]["overall"]["target_viewers"].as_f64(),
        Some(60.0)
    );
    assert_ne!(r["readiness"]["overall"]["verdict"], "ready");
    let report = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    let html = std::fs::read_to_string(out_dir.join("report.html")).expect("report.html");
    let checklist = std::fs::read_to_string(out_dir.join("checklist.md")).expect("checklist");
    let loaded = peakready::report::load(&out_dir).expect("load");
    let card = peakready::report::card::text(
        &loaded,
        &peakready::report::card::Badge::for_result(&loaded),
    );
    assert!(terminal.contains("against a target of 60"), "{terminal}");
    assert!(report.contains("against a target of 60"), "{report}");
    assert!(report.contains("| 60 viewers"), "{report}");
    assert!(html.contains("against a target of 60"), "report.html");
    assert!(card.contains("readiness target: 60"), "{card}");
    assert!(checklist.contains("the target of 60"), "{checklist}");
    // One peak: the readiness table's and the viewers table's are the same figure.
    let peak = r["overall"]["peak_concurrent_viewers"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        r["readiness"]["overall"]["peak_viewers"].as_u64(),
        Some(peak)
    );
}

#[test]
fn the_headline_never_says_every_slo_held_when_one_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    // first_frame p95 ≤ 5 s holds every second; `segment_ms max` has no per-second column and
    // surely fails over the whole run: the per-second gates held, the run did not.
    let yaml = short_of_target_yaml()
        .replace("expected_peak_viewers: 40", "expected_peak_viewers: 20")
        .replace("headroom: 1.5", "headroom: 1.0")
        .replace(
            "  first_frame_ms: { p95: 5000 }",
            "  first_frame_ms: { p95: 5000 }\n  segment_ms: { max: 0.001 }",
        );
    let path = write(dir.path(), "headline.yaml", &yaml);
    let out_dir = dir.path().join("out");
    let run = bin()
        .args(["run", "--seed", "2", "--drain", "2s"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    let terminal = stdout(&run);
    let r = results(&out_dir);
    let failed = r["slo"]
        .as_array()
        .expect("slo")
        .iter()
        .filter(|s| s["passed"] == false)
        .count();
    assert!(failed > 0, "{}", r["slo"]);
    let headline = r["readiness"]["headroom_words"].as_str().unwrap_or("");
    assert!(!headline.contains("held every SLO "), "{headline}");
    assert!(
        headline.contains("SLO checks failed over the whole run")
            || headline.contains("no load held every SLO"),
        "{headline}"
    );
    assert!(!terminal.contains("held every SLO against"), "{terminal}");
}

/// Viewers of `watch.protocol: none` still stay their watch time: the plan is not "0
/// concurrent viewers", and each such viewer is `joined`.
#[test]
fn a_run_without_video_plans_its_viewers_and_counts_them_joined() {
    let dir = tempfile::tempdir().expect("tempdir");
    let no_event = short_of_target_yaml().replace(
        "event:\n  name: Launch\n  expected_peak_viewers: 40\n  expected_peak_joins_per_sec: 10\n  headroom: 1.5\n",
        "",
    );
    assert!(!no_event.contains("event:"));
    let yaml = no_event
        .replace(
            "    protocol: hls\n    url: /hls/stream.m3u8\n",
            "    protocol: none\n",
        )
        .replace(
            "slo:\n  first_frame_ms: { p95: 5000 }\n",
            "slo:\n  connect_ms: { p99: 5000 }\n",
        );
    let path = write(dir.path(), "none.yaml", &yaml);
    let out_dir = dir.path().join("out");
    bin()
        .args(["run", "--seed", "2", "--drain", "2s"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    let r = results(&out_dir);
    let v = &r["overall"]["viewers"];
    assert!(v["started"].as_u64().unwrap_or(0) >= 35, "{v}");
    assert_eq!(v["outcomes"]["joined"], v["started"], "{v}");
    let words = r["readiness"]["headroom_words"].as_str().unwrap_or("");
    assert!(
        words.contains("against a planned 40 concurrent viewers"),
        "{words}"
    );
}

/// Two regions whose connect p99 both fail: `lossy` runs through an emulated 8% loss (its tail
/// is the 1 s SYN retransmit), `plain` through this machine's network. The report names each
/// region's network; the readiness reasons and the checklist blame the emulated loss for
/// `lossy` and keep the platform wording (edges and load balancers) for `plain`.
#[test]
fn a_tail_the_emulated_loss_explains_is_attributed_to_it_and_one_it_cannot_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = r#"name: causes
target:
  base_url: embedded
  allow_hosts: [127.0.0.1, localhost]
  timeout: 5s
regions:
  - { name: lossy, weight: 1, network: { rtt_ms: 20, jitter_ms: 0, loss_pct: 8, down_kbps: 0, up_kbps: 0 } }
  - { name: plain, weight: 1 }
load:
  max_viewers: 500
  max_joins_per_sec: 100
  phases:
    - { name: steady, duration: 5s, joins_per_sec: 16 }
viewer:
  watch:
    protocol: hls
    url: /hls/stream.m3u8
    duration: 3s
slo:
  connect_ms: { p99: 0.01 }
"#;
    let path = write(dir.path(), "causes.yaml", yaml);
    let out_dir = dir.path().join("out");
    bin()
        .args(["run", "--seed", "4", "--drain", "3s"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    let r = results(&out_dir);
    let p99 = |i: usize| {
        r["regions"][i]["metrics"]["connect_ms"]["p99"]
            .as_f64()
            .unwrap_or(0.0)
    };
    assert!(p99(0) > 920.0, "lossy p99 {} is a retransmit tail", p99(0));
    assert!(p99(1) < 500.0, "plain p99 {}", p99(1));
    let report = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    let checklist = std::fs::read_to_string(out_dir.join("checklist.md")).expect("checklist");
    // The Networks table: one row per region, its profile in words.
    let row = |region: &str| {
        let section = &report[report.find("## Networks").expect("Networks section")..];
        section
            .lines()
            .find(|l| l.starts_with(&format!("| {region} ")))
            .unwrap_or_else(|| panic!("no network row for {region}:\n{report}"))
            .to_string()
    };
    assert!(
        row("lossy").contains("| rtt 20.0 ms ± 0 ms, 8% loss, unlimited down, unlimited up"),
        "{report}"
    );
    assert!(
        row("plain").contains("| none: this machine's own network"),
        "{report}"
    );
    let line = |region: &str| {
        checklist
            .lines()
            .find(|l| {
                l.contains(&format!("**{region}** broke"))
                    || l.contains(&format!("**{region}** failed"))
            })
            .unwrap_or_else(|| panic!("no finding for {region}:\n{checklist}"))
            .to_string()
    };
    let lossy = line("lossy");
    let plain = line("plain");
    assert!(
        lossy.contains("explained by lossy's emulated network (8% loss)"),
        "{lossy}"
    );
    assert!(!lossy.contains("pre-scale"), "{lossy}");
    assert!(plain.contains("edges and load balancers"), "{plain}");
    assert!(!plain.contains("emulated"), "{plain}");
    let reasons = |i: usize| r["readiness"]["regions"][i]["reasons"].to_string();
    assert!(
        reasons(0).contains("1 s initial retransmission timeout"),
        "{}",
        reasons(0)
    );
    assert!(!reasons(1).contains("retransmission"), "{}", reasons(1));
}

/// The end of a run is explicit: 3 s of joins and a 6 s watch. `validate` says how many planned
/// viewers are still watching when the last phase ends; with `end: cut` the report says they
/// were stopped then, with `end: finish-watching` the run waits for them (bounded) and says so.
#[test]
fn the_end_of_a_run_is_explicit_in_validate_and_the_report() {
    let yaml = |end: &str| {
        format!(
            r#"name: ending
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
    - {{ name: joins, duration: 3s, joins_per_sec: 5 }}
{end}viewer:
  watch: {{ protocol: none, duration: 6s }}
"#
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let go = |name: &str, text: String| {
        let path = write(dir.path(), &format!("{name}.yaml"), &text);
        let v = bin().arg("validate").arg(&path).output().expect("validate");
        assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
        let out_dir = dir.path().join(name);
        let run = bin()
            .args(["run", "--seed", "1", "--drain", "2s"])
            .arg(&path)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .expect("run");
        assert_eq!(run.status.code(), Some(0), "{}", stdout(&run));
        let md = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
        (stdout(&v), results(&out_dir), md)
    };
    let (validate, r, md) = go("cut", yaml(""));
    assert!(
        validate.contains("end of run: about 15 planned viewers are still watching when the last phase ends; they are stopped then (load.end: cut)"),
        "{validate}"
    );
    assert!(
        r["duration_s"].as_f64().unwrap_or(99.0) < 5.0,
        "{}",
        r["duration_s"]
    );
    assert!(
        md.contains("- **End of run:** cut — ")
            && md.contains("viewers still watching when the last phase ended were stopped then"),
        "{md}"
    );

    let (validate, r, md) = go(
        "finish",
        yaml("  end: finish-watching\n  end_within: 20s\n"),
    );
    assert!(
        validate.contains(
            "they watch to their own leave time, for at most 20s (load.end: finish-watching)"
        ),
        "{validate}"
    );
    let took = r["duration_s"].as_f64().unwrap_or(0.0);
    assert!((8.0..15.0).contains(&took), "watched to the end: {took} s");
    assert!(
        md.contains("- **End of run:** finish-watching — ")
            && md.contains("finished on their own within 20s, 0 were stopped at that bound"),
        "{md}"
    );
    assert_eq!(
        r["overall"]["viewers"]["outcomes"]["joined"],
        r["overall"]["viewers"]["started"]
    );
}

/// A one-region HLS rehearsal on the embedded server; `network` is the region's emulated link.
/// Viewers watch to their end (9 s), so a slow link has time to stall them.
fn one_region_hls(name: &str, network: &str, rate: u32, slo: &str) -> String {
    format!(
        r#"name: {name}
target:
  base_url: embedded
  allow_hosts: [127.0.0.1, localhost]
  timeout: 10s
regions:
  - {{ name: thin-link, weight: 1{network} }}
load:
  max_viewers: 100
  max_joins_per_sec: 50
  end: finish-watching
  end_within: 20s
  phases:
    - {{ name: steady, duration: 3s, joins_per_sec: {rate} }}
viewer:
  watch:
    protocol: hls
    url: /hls/stream.m3u8
    duration: 9s
    rendition: lowest
slo:
{slo}"#
    )
}

/// The checklist line about `region`'s stall gate.
fn stall_finding(checklist: &str, region: &str) -> String {
    checklist
        .lines()
        .find(|l| l.contains(&format!("**{region}**")) && l.contains("stall_ratio"))
        .unwrap_or_else(|| panic!("no stall finding for {region}:\n{checklist}"))
        .to_string()
}

/// Issue 13, both directions. A 250 kbit/s emulated link under a 400 kbit/s stream cannot carry
/// it in real time (link ratio p50 < 1): its stalls are the link's, and the report says so
/// instead of sending people to the origin and CDN. The same slow downloads behind a link with
/// room for the stream (link ratio p50 raised to 2.5 in a copy, re-rendered by `report DIR`)
/// are not the link's: the platform wording comes back.
#[test]
fn stalls_on_a_slow_emulated_link_are_the_links_and_with_fast_downloads_are_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = one_region_hls(
        "thin",
        ", network: { rtt_ms: 10, jitter_ms: 0, loss_pct: 0, down_kbps: 250, up_kbps: 0 }",
        3,
        "  stall_ratio: 0.001\n",
    );
    let path = write(dir.path(), "thin.yaml", &yaml);
    let out_dir = dir.path().join("out");
    let run = bin()
        .args(["run", "--seed", "6", "--drain", "5s"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(1), "{}", stdout(&run));
    let r = results(&out_dir);
    let ratio = r["regions"][0]["metrics"]["download_ratio"]["p50"]
        .as_f64()
        .unwrap_or(9.0);
    assert!(ratio < 1.0, "a 250 kbit/s link under 400 kbit/s: {ratio}");
    let link = r["regions"][0]["metrics"]["link_ratio"]["p50"]
        .as_f64()
        .unwrap_or(9.0);
    // 400 kbit/s of media through 250 kbit/s (less packet headers): ~0.6× real time at best.
    assert!(
        link < 0.7,
        "what a 250 kbit/s link allows a 400 kbit/s stream: {link}"
    );
    let checklist = std::fs::read_to_string(out_dir.join("checklist.md")).expect("checklist");
    let line = stall_finding(&checklist, "thin-link");
    assert!(
        line.contains("explained by thin-link's emulated 250 kbit/s link"),
        "{line}"
    );
    assert!(!line.contains("origin and CDN"), "{line}");
    let reasons = r["readiness"]["regions"][0]["reasons"].to_string();
    assert!(reasons.contains("emulated 250 kbit/s link"), "{reasons}");
    // The card names the region as written: never "Thin-link".
    let loaded = peakready::report::load(&out_dir).expect("load");
    let card = peakready::report::card::text(
        &loaded,
        &peakready::report::card::Badge::for_result(&loaded),
    );
    assert!(card.contains("thin-link: "), "{card}");
    assert!(!card.contains("Thin-link"), "{card}");

    let fast = dir.path().join("fast");
    std::fs::create_dir_all(&fast).expect("mkdir");
    for entry in std::fs::read_dir(&out_dir).expect("read_dir").flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), fast.join(entry.file_name())).expect("copy");
        }
    }
    let mut json = results(&fast);
    json["regions"][0]["metrics"]["link_ratio"]["p50"] = serde_json::json!(2.5);
    json["overall"]["metrics"]["link_ratio"]["p50"] = serde_json::json!(2.5);
    std::fs::write(
        fast.join("results.json"),
        serde_json::to_vec_pretty(&json).expect("json"),
    )
    .expect("write");
    let report = bin().arg("report").arg(&fast).output().expect("report");
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    let checklist = std::fs::read_to_string(fast.join("checklist.md")).expect("checklist");
    let line = stall_finding(&checklist, "thin-link");
    assert!(line.contains("origin and CDN"), "{line}");
    assert!(!line.contains("emulated"), "{line}");
}

/// The other direction, measured rather than edited: an origin that answers each media segment
/// 2.5 s late (a 2 s segment) behind an emulated 5,000 kbit/s link. Segments arrive slower than
/// real time (download ratio p50 < 1) although the link alone would carry the 400 kbit/s stream
/// many times over (link ratio p50 > 1): the stalls are the target's, and no output may hand
/// them to the emulated network.
#[test]
fn stalls_from_a_slow_origin_behind_a_fast_emulated_link_are_not_the_links() {
    let server = Server::start(&["--segment-delay", "2500ms"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = one_region_hls(
        "slow-origin",
        ", network: { rtt_ms: 10, jitter_ms: 0, loss_pct: 0, down_kbps: 5000, up_kbps: 0 }",
        3,
        "  stall_ratio: 0.001\n",
    )
    .replace("base_url: embedded", &format!("base_url: {}", server.url));
    let path = write(dir.path(), "slow.yaml", &yaml);
    let out_dir = dir.path().join("out");
    let run = bin()
        .args(["run", "--seed", "6", "--drain", "5s"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(1), "{}", stdout(&run));
    let r = results(&out_dir);
    let metric = |name: &str| {
        r["regions"][0]["metrics"][name]["p50"]
            .as_f64()
            .unwrap_or_else(|| panic!("no {name} p50 in {}", r["regions"][0]["metrics"]))
    };
    assert!(
        metric("download_ratio") < 1.0,
        "{}",
        metric("download_ratio")
    );
    assert!(metric("link_ratio") > 2.0, "{}", metric("link_ratio"));
    let checklist = std::fs::read_to_string(out_dir.join("checklist.md")).expect("checklist");
    let line = stall_finding(&checklist, "thin-link");
    assert!(line.contains("origin and CDN"), "{line}");
    for file in ["checklist.md", "report.md", "results.json"] {
        let text = std::fs::read_to_string(out_dir.join(file)).expect(file);
        assert!(
            !text.contains("emulated 5,000 kbit/s link"),
            "{file} blames the link:\n{text}"
        );
    }
    assert!(!stdout(&run).contains("kbit/s link"), "{}", stdout(&run));
}

/// Issue 13: `compare` of two runs of one scenario name whose content changed warns, naming
/// what changed; each run against itself does not. The comparison shows the verdicts, peak
/// viewers, viewer and video-start failure rates and the stall ratio.
#[test]
fn compare_warns_when_the_scenario_changed_under_the_same_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let go = |file: &str, rate: u32| {
        let path = write(
            dir.path(),
            file,
            &one_region_hls("same-name", "", rate, "  first_frame_ms: { p95: 8000 }\n"),
        );
        let out_dir = dir.path().join(file.trim_end_matches(".yaml"));
        bin()
            .args(["run", "--seed", "6", "--drain", "2s"])
            .arg(&path)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .expect("run");
        out_dir
    };
    let (a, b) = (go("a.yaml", 3), go("b.yaml", 4));
    let compare = |x: &std::path::Path, y: &std::path::Path| {
        let out = bin()
            .arg("compare")
            .arg(x)
            .arg(y)
            .output()
            .expect("compare");
        assert!(
            matches!(out.status.code(), Some(0) | Some(1)),
            "{}",
            stderr(&out)
        );
        stdout(&out)
    };
    let changed = compare(&a, &b);
    assert!(
        changed.contains("warning: scenario `same-name` differs between the runs (in: load)"),
        "{changed}"
    );
    for shown in [
        "base verdict",
        "base peak viewers",
        "viewer_failure_rate",
        "video_start_failure_rate",
        "stall_ratio",
    ] {
        assert!(changed.contains(shown), "{shown}: {changed}");
    }
    let same = compare(&a, &a);
    assert!(!same.contains("differs between the runs"), "{same}");
}

/// Issue 13: `quick` results tell their own story. report.md and report.html show `request_ms`
/// (the coordinated-omission-corrected latency of `--rate`); the card does not say every SLO
/// held when none was set; and no event checklist is invented for a region called "quick".
#[test]
fn quick_results_show_request_ms_judge_nothing_and_invent_no_checklist() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("quick");
    let url = format!("{}/hls/stream.m3u8", server.url);
    let out = bin()
        .args([
            "quick", &url, "-c", "2", "-z", "1s", "--rate", "40", "--out",
        ])
        .arg(&out_dir)
        .output()
        .expect("quick");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    let html = std::fs::read_to_string(out_dir.join("report.html")).expect("report.html");
    let row = md
        .lines()
        .find(|l| l.starts_with("| request_ms "))
        .unwrap_or_else(|| panic!("no request_ms row:\n{md}"));
    assert!(row.contains(" ms"), "{row}");
    assert!(html.contains(">request_ms</td>"), "report.html");
    let loaded = peakready::report::load(&out_dir).expect("load");
    let card = peakready::report::card::text(
        &loaded,
        &peakready::report::card::Badge::for_result(&loaded),
    );
    assert!(!card.contains("every SLO held"), "{card}");
    assert!(card.contains("no SLO was set"), "{card}");
    let checklist = std::fs::read_to_string(out_dir.join("checklist.md")).expect("checklist");
    assert!(checklist.contains("No event checklist"), "{checklist}");
    assert!(!checklist.contains("T−4 weeks"), "{checklist}");
    assert!(!checklist.contains("every region — quick"), "{checklist}");
}
