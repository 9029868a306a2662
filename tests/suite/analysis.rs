//! Readiness analysis on real runs against the embedded server: a capacity-limited run is NOT
//! READY with its knee near the configured capacity, a run well under capacity is READY, `report`
//! reproduces the verdicts from a copied directory, and `compare` gates on regressions.

use std::path::Path;

use crate::common::*;

/// A linear ramp 0 → 60 joins/s over 20 s, 30 s watch time (nobody leaves before the end), so
/// active viewers climb ~3 per second per second through the server's capacity: a crisp knee.
fn ramp_yaml(expected_peak_viewers: u64) -> String {
    format!(
        r#"name: knee
event:
  name: Knee Night
  starts_at: 2027-03-05T15:30:00Z
  expected_peak_viewers: {expected_peak_viewers}
  expected_peak_joins_per_sec: 40
  headroom: 1.5
  support_tier: strategic
target:
  base_url: embedded
  allow_hosts: [127.0.0.1, localhost]
  timeout: 5s
regions:
  - {{ name: eu, weight: 60 }}
  - {{ name: sea, weight: 40 }}
load:
  scale: 0.5
  max_viewers: 2000
  max_joins_per_sec: 200
  phases:
    - {{ name: ramp, duration: 20s, joins_per_sec: 0, ramp_to: 60 }}
viewer:
  join:
    - {{ name: token, method: POST, path: /api/v1/token, body: '{{"uid":"{{{{viewer_id}}}}"}}', expect_status: 200 }}
    - {{ name: room, method: GET, path: /api/v1/rooms/gala }}
  watch:
    protocol: hls
    url: /hls/stream.m3u8
    duration: 30s
slo:
  join_ms: {{ p95: 1000 }}
  error_rate: 0.01
alerts:
  latency_ms: 200
"#
    )
}

/// A light steady run: 10 joins/s for 8 s, 20 s watch → about 80 concurrent viewers.
fn light_yaml() -> String {
    r#"name: light
event:
  name: Quiet Night
  expected_peak_viewers: 100
  expected_peak_joins_per_sec: 10
  headroom: 1.2
  support_tier: basic
target:
  base_url: embedded
  allow_hosts: [127.0.0.1, localhost]
  timeout: 5s
regions:
  - { name: eu, weight: 50 }
  - { name: sea, weight: 50 }
load:
  scale: 0.5
  max_viewers: 500
  max_joins_per_sec: 100
  phases:
    - { name: steady, duration: 8s, joins_per_sec: 10 }
viewer:
  join:
    - { name: token, method: POST, path: /api/v1/token, body: '{"uid":"{{viewer_id}}"}', expect_status: 200 }
  watch:
    protocol: hls
    url: /hls/stream.m3u8
    duration: 20s
slo:
  join_ms: { p95: 1000 }
  error_rate: 0.01
"#
    .to_string()
}

/// The compare chart decodes, is 1600×900 and is not a single colour.
fn assert_chart(path: &Path) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(file)
        .read_info()
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{} frame: {e}", path.display()));
    assert_eq!((info.width, info.height), (1600, 900), "{}", path.display());
    let px = info.color_type.samples();
    let data = &buf[..info.buffer_size()];
    assert!(
        data.chunks(px).any(|p| p != &data[..px]),
        "{} is a single colour",
        path.display()
    );
}

fn verdicts(r: &serde_json::Value) -> Vec<(String, String)> {
    let rd = &r["readiness"];
    let mut out: Vec<(String, String)> = rd["regions"]
        .as_array()
        .expect("readiness.regions")
        .iter()
        .map(|s| {
            (
                s["scope"].as_str().unwrap_or("").to_string(),
                s["verdict"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.push((
        "overall".into(),
        rd["overall"]["verdict"].as_str().unwrap_or("").to_string(),
    ));
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn over_capacity_is_not_ready_with_the_knee_at_the_capacity() {
    const CAPACITY: f64 = 300.0;
    let dir = tempfile::tempdir().expect("tempdir");
    // Target = 1,000 × 50% × 1.5 = 750 concurrent viewers; the server holds 300.
    let path = write(dir.path(), "knee.yaml", &ramp_yaml(1000));
    let out_dir = dir.path().join("out");
    let out = bin()
        .args(["run", "--seed", "3", "--drain", "2s", "--capacity", "300"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "NOT READY exits 1\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let r = results(&out_dir);
    let overall = &r["readiness"]["overall"];
    assert_eq!(overall["verdict"], "not_ready", "{}", r["readiness"]);
    let knee = overall["knee"]["active_viewers"].as_f64().expect("a knee");
    eprintln!("measured knee: {knee} concurrent viewers (capacity {CAPACITY})");
    assert!(
        (knee - CAPACITY).abs() <= 0.2 * CAPACITY,
        "knee {knee} not within ±20% of {CAPACITY}: {}",
        r["readiness"]
    );
    let broken = overall["knee"]["broken"][0]["metric"]
        .as_str()
        .unwrap_or("");
    assert_eq!(broken, "error_rate", "past capacity the server answers 503");
    assert_eq!(overall["target_viewers"].as_f64(), Some(750.0));
    for region in r["readiness"]["regions"].as_array().expect("regions") {
        assert_eq!(region["verdict"], "not_ready", "{region}");
    }
    assert!(
        r["readiness"]["headroom_words"]
            .as_str()
            .unwrap_or("")
            .contains("(= 1,000 × 50% × 1.5)"),
        "{}",
        r["readiness"]
    );

    let checklist = std::fs::read_to_string(out_dir.join("checklist.md")).expect("checklist.md");
    assert!(
        checklist.contains("**eu** broke error_rate ≤ 1%"),
        "{checklist}"
    );
    assert!(checklist.contains("pre-scale"), "{checklist}");
    for stage in [
        "## T−4 weeks (Fri 2027-02-05",
        "## T−1 week",
        "## T−24 h (Thu 2027-03-04 15:30",
        "## During the event",
        "## T+1 day",
    ] {
        assert!(checklist.contains(stage), "{stage} missing:\n{checklist}");
    }
    assert!(
        checklist.contains("P1 in 15 min")
            && checklist.contains("latency > 200 ms")
            && checklist.contains("failover"),
        "{checklist}"
    );

    let report = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    let readiness_at = report
        .find("## Readiness: NOT READY")
        .expect("readiness section");
    assert!(
        readiness_at < report.find("## SLOs").expect("SLO section"),
        "readiness comes first"
    );
    assert!(
        report.contains("### Not tested by this run") && report.contains("chat"),
        "{report}"
    );
    assert!(
        stdout(&out).contains("NOT READY"),
        "terminal summary shows the verdict: {}",
        stdout(&out)
    );

    // `report` on a copy of the directory reproduces the same verdicts and knee.
    let copy = dir.path().join("copy");
    copy_dir(&out_dir, &copy);
    std::fs::remove_file(copy.join("checklist.md")).expect("rm");
    let re = bin().arg("report").arg(&copy).output().expect("report");
    assert_eq!(re.status.code(), Some(0), "{}", stderr(&re));
    let r2 = results(&copy);
    assert_eq!(verdicts(&r2), verdicts(&r));
    assert_eq!(r2["readiness"], r["readiness"]);
    assert_eq!(
        std::fs::read_to_string(copy.join("checklist.md")).expect("re-rendered"),
        checklist
    );
}

#[test]
fn well_under_capacity_is_ready_and_compare_gates_on_regressions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "light.yaml", &light_yaml());
    let out_dir = dir.path().join("out");
    let out = bin()
        .args(["run", "--seed", "5", "--drain", "2s", "--capacity", "2000"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let r = results(&out_dir);
    // Target = 100 × 50% × 1.2 = 60 viewers and 6 joins/s; the run reaches ~80 and 10/s.
    assert!(
        verdicts(&r).iter().all(|(_, v)| v == "ready"),
        "{}\ngenerator: {}",
        r["readiness"],
        r["generator"]
    );
    assert!(r["readiness"]["overall"]["knee"].is_null());
    assert!(
        r["readiness"]["overall"]["headroom"]
            .as_f64()
            .unwrap_or(0.0)
            >= 1.0
    );

    // Against itself: no regression; `--chart FILE` writes the chart there.
    let same_png = dir.path().join("same.png");
    let same = bin()
        .arg("compare")
        .arg(&out_dir)
        .arg(&out_dir)
        .arg("--chart")
        .arg(&same_png)
        .output()
        .expect("compare");
    assert_eq!(same.status.code(), Some(0), "{}", stdout(&same));
    assert!(stdout(&same).contains("No regression"), "{}", stdout(&same));
    assert_chart(&same_png);

    // Against a copy with join_ms p50/p95/p99 raised by 60 %: a regression, exit 1.
    let slow = dir.path().join("slow");
    copy_dir(&out_dir, &slow);
    let mut json = results(&slow);
    let bump = |b: &mut serde_json::Value| {
        for stat in ["p50", "p95", "p99"] {
            let v = b["metrics"]["join_ms"][stat]
                .as_f64()
                .expect("join_ms stat");
            b["metrics"]["join_ms"][stat] = serde_json::json!(v * 1.6 + 10.0);
        }
    };
    bump(&mut json["overall"]);
    for region in json["regions"].as_array_mut().expect("regions") {
        bump(region);
    }
    std::fs::write(
        slow.join("results.json"),
        serde_json::to_string_pretty(&json).expect("json"),
    )
    .expect("write");
    let md = dir.path().join("compare.md");
    let reg = bin()
        .arg("compare")
        .arg(&out_dir)
        .arg(slow.join("results.json"))
        .arg("--out")
        .arg(&md)
        .output()
        .expect("compare");
    assert_eq!(
        reg.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&reg),
        stderr(&reg)
    );
    let text = stdout(&reg);
    assert!(
        // ~80 joins: p50 is judged, p95 and p99 are shown but have too few samples beyond them.
        text.contains("REGRESSION") && text.contains("overall join_ms p50"),
        "{text}"
    );
    assert!(text.contains("not judged: "), "{text}");
    // Without `--chart`, the chart follows `--out`: compare.md → compare.png.
    assert_chart(&dir.path().join("compare.png"));
    let md = std::fs::read_to_string(&md).expect("compare.md");
    assert!(
        md.contains("| overall") && md.contains("REGRESSION"),
        "{md}"
    );
    // Looser tolerances let the same change through.
    let loose = bin()
        .arg("compare")
        .arg(&out_dir)
        .arg(&slow)
        .args(["--tolerance-ms", "1000"])
        .output()
        .expect("compare");
    assert_eq!(loose.status.code(), Some(0), "{}", stdout(&loose));

    // Unreadable input: exit 2.
    let bad = bin()
        .arg("compare")
        .arg(&out_dir)
        .arg(dir.path().join("nope"))
        .output()
        .expect("compare");
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}
