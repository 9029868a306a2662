//! Viewer outcomes, counted once and told the same way everywhere: a capacity-limited target
//! where most viewers cannot start must show those viewers as failed in the terminal summary,
//! report.md, results.json and the card's text alike, and must not be READY.

use std::path::Path;

use crate::common::*;

/// Two regions, 100 viewers over 10 s, each wanting to watch for 30 s: past the embedded
/// server's capacity most of them never get a playlist.
pub fn crowd_yaml() -> String {
    r#"name: crowd
target:
  base_url: embedded
  allow_hosts: [127.0.0.1, localhost]
  timeout: 3s
regions:
  - { name: eu, weight: 50 }
  - { name: sea, weight: 50 }
load:
  max_viewers: 500
  max_joins_per_sec: 100
  phases:
    - { name: ramp, duration: 10s, joins_per_sec: 10 }
viewer:
  watch:
    protocol: hls
    url: /hls/stream.m3u8
    duration: 30s
slo:
  first_frame_ms: { p95: 5000 }
"#
    .to_string()
}

/// Every "X of Y viewers could not watch" in `text`, as numbers.
pub fn all_could_not_watch(text: &str) -> Vec<(u64, u64)> {
    let marker = " viewers could not watch";
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(marker) {
        let end = from + i + marker.len();
        if let Some(found) = could_not_watch(&text[..end]) {
            out.push(found);
        }
        from = end;
    }
    out
}

/// The numbers of the last "X of Y viewers could not watch" in `text` (thousands separators
/// allowed).
pub fn could_not_watch(text: &str) -> Option<(u64, u64)> {
    let at = text.rfind(" viewers could not watch")?;
    let head = text[..at].trim_end_matches('*');
    let words: Vec<&str> = head.rsplit(' ').take(3).collect();
    // words = [Y, "of", X] read from the end.
    let n = |w: &str| w.trim_matches('*').replace(',', "").parse::<u64>().ok();
    match words.as_slice() {
        [y, "of", x] => Some((n(x)?, n(y)?)),
        _ => None,
    }
}

/// A percentage written as `80.00 %` or `80.00%` right after `label` on the same line.
fn percent_after(text: &str, line_start: &str, label: &str) -> Option<f64> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(line_start))?;
    let rest = &line[line.find(label)? + label.len()..];
    let num: String = rest
        .trim_start_matches([' ', ':', '|'])
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse::<f64>().ok()
}

/// The cells of the row starting with `first` in a Markdown or plain table.
fn row_cells<'a>(
    text: &'a str,
    header_has: &str,
    first: &str,
) -> Option<(Vec<&'a str>, Vec<&'a str>)> {
    let split = |l: &'a str| -> Vec<&'a str> {
        if l.trim_start().starts_with('|') {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect()
        } else {
            l.trim()
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        }
    };
    let mut lines = text.lines();
    let header = lines.find(|l| l.contains(header_has) && split(l).first() == Some(&"region"))?;
    let headers = split(header);
    let row = lines.find(|l| split(l).first() == Some(&first))?;
    Some((headers, split(row)))
}

fn cell<'a>(table: &(Vec<&'a str>, Vec<&'a str>), column: &str) -> Option<&'a str> {
    let i = table.0.iter().position(|h| *h == column)?;
    table.1.get(i).copied()
}

fn pct_cell(s: &str) -> f64 {
    s.trim_end_matches('%').trim().parse().unwrap_or(f64::NAN)
}

fn card_text(dir: &Path) -> String {
    let r = peakready::report::load(dir).expect("results load");
    let badges = peakready::report::card::Badge::for_result(&r);
    peakready::report::card::text(&r, &badges)
}

#[test]
fn a_capacity_limited_target_fails_its_viewers_in_every_output_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "crowd.yaml", &crowd_yaml());
    let out_dir = dir.path().join("out");
    let out = bin()
        .args(["run", "--seed", "3", "--drain", "2s", "--capacity", "20"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    let terminal = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{terminal}\n{}", stderr(&out));

    // results.json: every viewer in one outcome, most of them failed.
    let r = results(&out_dir);
    let v = &r["overall"]["viewers"];
    let started = v["started"].as_u64().unwrap_or(0);
    let failed = v["failed"].as_u64().unwrap_or(0);
    let sum: u64 = v["outcomes"]
        .as_object()
        .expect("outcomes")
        .values()
        .filter_map(|n| n.as_u64())
        .sum();
    assert_eq!(sum, started, "{v}");
    assert!((95..=105).contains(&started), "{v}");
    assert!(failed >= started / 2, "most viewers cannot start: {v}");
    assert!(v["outcomes"]["video_start_failed"].as_u64().unwrap_or(0) > 0);
    let rate = v["viewer_failure_rate"].as_f64().expect("rate");
    assert!((rate - failed as f64 / started as f64).abs() < 1e-9);
    let per_region: u64 = r["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .map(|b| b["viewers"]["failed"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(per_region, failed, "regions add up to overall");
    assert_eq!(r["readiness"]["overall"]["verdict"], "not_ready");
    let default_gate = r["slo"]
        .as_array()
        .expect("slo")
        .iter()
        .find(|g| g["scope"] == "overall" && g["metric"] == "viewer_failure_rate")
        .cloned()
        .expect("the default viewer gate applies");
    assert_eq!(default_gate["passed"], false);
    assert_eq!(default_gate["default"], true);
    let first_frames = r["overall"]["metrics"]["first_frame_ms"]["count"]
        .as_u64()
        .unwrap_or(0);
    assert!(first_frames < started);
    let error_rate = r["overall"]["error_rate"].as_f64().expect("error_rate") * 100.0;

    let report = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    let card = card_text(&out_dir);

    // The same count of viewers who could not watch, everywhere; a region's own count where a
    // region is named.
    let scopes: Vec<(u64, u64)> = r["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .chain(std::iter::once(&r["overall"]))
        .map(|b| {
            let v = &b["viewers"];
            (
                v["failed"].as_u64().unwrap_or(0),
                v["started"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    for (name, text) in [
        ("terminal", &terminal),
        ("report.md", &report),
        ("card", &card),
    ] {
        let found = all_could_not_watch(text);
        assert!(
            found.contains(&(failed, started)) && found.iter().all(|f| scopes.contains(f)),
            "{name}: {found:?} vs {scopes:?}:\n{text}"
        );
    }
    // The viewer failure rate and the request error rate, as two figures, alike.
    let term_row = row_cells(&terminal, "viewer failure", "overall").expect("terminal row");
    let md_row = row_cells(&report, "viewer failure rate", "overall").expect("report row");
    let md_req = row_cells(&report, "request error rate", "overall").expect("requests row");
    let close = |a: f64, b: f64| (a - b).abs() < 0.006;
    assert_eq!(cell(&term_row, "failed"), Some(failed.to_string().as_str()));
    assert_eq!(cell(&md_row, "failed"), Some(failed.to_string().as_str()));
    assert_eq!(cell(&md_row, "started"), Some(started.to_string().as_str()));
    for (name, got) in [
        ("terminal", cell(&term_row, "viewer failure").map(pct_cell)),
        (
            "report.md",
            cell(&md_row, "viewer failure rate").map(pct_cell),
        ),
        (
            "card",
            percent_after(
                &card,
                "Viewers who could not watch",
                "Viewers who could not watch",
            ),
        ),
    ] {
        assert!(
            got.is_some_and(|g| close(g, rate * 100.0)),
            "{name}: viewer failure rate {got:?} vs {}",
            rate * 100.0
        );
    }
    for (name, got) in [
        ("terminal", cell(&term_row, "request errors").map(pct_cell)),
        (
            "report.md",
            cell(&md_req, "request error rate").map(pct_cell),
        ),
        (
            "card",
            percent_after(&card, "Request error rate", "Request error rate"),
        ),
    ] {
        assert!(
            got.is_some_and(|g| close(g, error_rate)),
            "{name}: request error rate {got:?} vs {error_rate}"
        );
    }
    // Percentiles over fewer viewers than started say so.
    let over = format!("{first_frames} of {started} viewers");
    for (name, text) in [
        ("terminal", &terminal),
        ("report.md", &report),
        ("card", &card),
    ] {
        assert!(text.contains(&over), "{name} lacks `{over}`:\n{text}");
    }
    // One verdict.
    assert!(terminal.contains("Readiness: NOT READY"), "{terminal}");
    assert!(report.contains("## Readiness: NOT READY"), "{report}");
    assert!(card.starts_with("OVERALL: NOT READY"), "{card}");
}

#[test]
fn the_words_parser_reads_what_the_outputs_write() {
    assert_eq!(
        could_not_watch("**80 of 100 viewers could not watch** (80 video start failed)."),
        Some((80, 100))
    );
    assert_eq!(
        could_not_watch("1. 1,234 of 2,000 viewers could not watch (61.70%)"),
        Some((1234, 2000))
    );
    assert_eq!(could_not_watch("every viewer played"), None);
    assert_eq!(
        all_could_not_watch(
            "eu: 40 of 50 viewers could not watch; 80 of 100 viewers could not watch"
        ),
        vec![(40, 50), (80, 100)]
    );
}
