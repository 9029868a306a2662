//! The `search:` block: the reference parses, and each mistake is located and fixable.

use super::*;
use std::time::Duration;

const REFERENCE: &str = include_str!("testdata/reference.yaml");
const FILE: &str = "scenarios/x.yaml";

fn parse(text: &str) -> Result<Scenario, ScenarioErrors> {
    parse_str(text, FILE, &|name| {
        (name == "STAGING_TOKEN").then(|| "tok-9f8e".to_string())
    })
}

fn edit(from: &str, to: &str) -> String {
    assert!(REFERENCE.contains(from), "reference.yaml has no {from:?}");
    REFERENCE.replacen(from, to, 1)
}

/// The one error of `text`, rendered, and the 1-based line of `needle` in `text`.
fn error_at(text: &str, needle: &str) -> (String, usize) {
    let e = match parse(text) {
        Ok(_) => panic!("expected an error for {needle:?}"),
        Err(e) => e,
    };
    assert_eq!(e.len(), 1, "{e}");
    let line = text
        .lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in text"));
    (e.to_string(), line)
}

#[test]
fn the_reference_search_block_resolves() {
    let s = parse(REFERENCE).unwrap_or_else(|e| panic!("{e}"));
    let search = s.search.expect("search block");
    assert_eq!(search.quantity, SearchQuantity::ConcurrentViewers);
    assert_eq!((search.start, search.max), (200.0, 20000.0));
    assert_eq!(search.step, Duration::from_secs(20));
    assert_eq!(search.hold, Duration::from_secs(60));
    assert!((search.precision - 0.05).abs() < 1e-12);
    let gated: Vec<&str> = search.gates.iter().map(|g| g.metric.name()).collect();
    assert_eq!(
        gated,
        ["join_ms", "error_rate"],
        "slo order, only those named"
    );
    assert_eq!(search.max_steps, 20);
}

#[test]
fn search_mistakes_are_located_with_a_fix() {
    let cases = [
        (
            "  precision: 5%  ",
            "  precision: 5   ",
            "precision",
            "write `precision: 5%`",
        ),
        (
            "  max: 20000 ",
            "  max: 50000 ",
            "max: 50000",
            "write `max: 20000`",
        ),
        (
            "  quantity: concurrent_viewers",
            "  quantity: concurent_viewers",
            "quantity",
            "did you mean `concurrent_viewers`?",
        ),
        (
            "  slo: [error_rate, join_ms]",
            "  slo: [error_rate, join_mss]",
            "slo: [",
            "did you mean `join_ms`?",
        ),
        ("  step: 20s", "  step: 20", "step: 20", "write 20s"),
        (
            "  start: 200 ",
            "  start: 2.5 ",
            "start: 2.5",
            "write `start: 3`",
        ),
    ];
    for (from, to, needle, fix) in cases {
        let text = edit(from, to);
        let (msg, line) = error_at(&text, needle);
        assert!(msg.starts_with(&format!("{FILE}:{line}:")), "{msg}");
        assert!(msg.contains(fix), "{msg}");
    }
}

#[test]
fn a_search_needs_gates_and_a_sensible_range() {
    let text = edit("  max: 20000 ", "  max: 100   ");
    let (msg, _) = error_at(&text, "max: 100");
    assert!(msg.contains("is below search.start (200)"), "{msg}");
    let no_slo = REFERENCE
        .lines()
        .filter(|l| {
            !(l.starts_with("slo:")
                || l.starts_with("  connect_ms:")
                || l.starts_with("  join_ms:")
                || l.starts_with("  first_frame_ms:")
                || l.starts_with("  stall_ratio:")
                || l.starts_with("  error_rate:")
                || l.starts_with("  slo: ["))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let e = parse(&no_slo).expect_err("refused").to_string();
    assert!(e.contains("a capacity search needs SLO gates"), "{e}");
}
