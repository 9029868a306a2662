//! Scenario parsing end to end: the reference file, and the errors people will actually hit.

use super::*;
use crate::metrics::{Metric, Stat};

pub(super) const REFERENCE: &str = include_str!("testdata/reference.yaml");
/// Contains YAML syntax (`: `, ` #`) to show a token cannot break or truncate the file.
pub(super) const TOKEN: &str = "tok-9f8e: 7d6c #5b4a";
pub(super) const FILE: &str = "scenarios/x.yaml";

pub(super) fn env(name: &str) -> Option<String> {
    (name == "STAGING_TOKEN").then(|| TOKEN.to_string())
}

pub(super) fn parse(text: &str) -> Result<Scenario, ScenarioErrors> {
    parse_str(text, FILE, &env)
}

pub(super) fn errors(text: &str) -> ScenarioErrors {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e,
    }
}

/// The reference file with `from` replaced by `to` (which must be there, so tests stay honest).
pub(super) fn edit(from: &str, to: &str) -> String {
    assert!(REFERENCE.contains(from), "reference.yaml has no {from:?}");
    REFERENCE.replacen(from, to, 1)
}

/// 1-based line:col of the first `needle` in `text`.
pub(super) fn pos_of(text: &str, needle: &str) -> (usize, usize) {
    for (i, line) in text.lines().enumerate() {
        if let Some(c) = line.find(needle) {
            return (i + 1, line[..c].chars().count() + 1);
        }
    }
    panic!("{needle:?} not in text")
}

pub(super) const MINIMAL: &str = "\
name: tiny
target:
  base_url: embedded
load:
  max_viewers: 100
  max_joins_per_sec: 10
  phases:
    - { name: steady, duration: 10s, joins_per_sec: 5 }
viewer:
  watch: { url: /hls/stream.m3u8, duration: 30s }
";

#[test]
fn reference_parses_fully() {
    let s = parse(REFERENCE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.name, "ramadan-gala-rehearsal");
    assert_eq!(s.source, FILE);
    let event = s.event.as_ref().expect("event");
    assert_eq!(event.support_tier, SupportTier::Strategic);
    assert_eq!(event.headroom, 1.5);
    assert_eq!(event.expected_peak_viewers, Some(400_000));
    assert_eq!(
        s.target.headers,
        [("Authorization".into(), format!("Bearer {TOKEN}"))]
    );
    assert_eq!(s.target.header_names, ["Authorization"]);
    assert_eq!(s.target.timeout, std::time::Duration::from_secs(10));
    assert_eq!(s.regions.len(), 3);
    assert_eq!(
        s.regions[0]
            .network
            .as_ref()
            .and_then(|n| n.preset.as_deref()),
        Some("4g-middle-east")
    );
    let jakarta = s.regions[1].network.as_ref().expect("explicit network");
    assert_eq!(
        (jakarta.rtt_ms, jakarta.down_kbps, jakarta.loss_pct),
        (90.0, 12000, 0.5)
    );
    assert!(matches!(&s.regions[1].base_url, Some(BaseUrl::Url(u)) if u.port() == Some(8081)));
    assert_eq!(s.load.scale, 0.01);
    assert_eq!(s.load.phases.len(), 4);
    assert_eq!(s.load.phases[1].ramp_to, Some(200.0));
    assert_eq!(
        s.load.phases[3].duration,
        std::time::Duration::from_secs(300)
    );
    assert_eq!(s.viewer.join[0].method, HttpMethod::Post);
    assert_eq!(s.viewer.join[0].expect_status, Some(200));
    assert_eq!(s.viewer.join[1].method, HttpMethod::Get);
    assert!(matches!(
        s.viewer.watch.duration,
        WatchTime::LogNormal { .. }
    ));
    assert_eq!(s.publishers.as_ref().map(|p| p.streams), Some(4));
    assert_eq!(
        s.slo.gates[0],
        SloGate {
            metric: Metric::ConnectMs,
            stat: Stat::P99,
            threshold: 600.0
        }
    );
    assert_eq!(
        s.slo.gates[3],
        SloGate {
            metric: Metric::StallRatio,
            stat: Stat::Value,
            threshold: 0.02
        }
    );
    assert_eq!(s.slo.gates.len(), 5);
    assert_eq!(s.alerts.as_ref().and_then(|a| a.latency_ms), Some(200.0));
    let notices = s.notices();
    // Chat and publishers are implemented: no "not implemented" notice for them.
    assert!(
        !notices
            .iter()
            .any(|n| n.starts_with("viewer.chat:") || n.starts_with("publishers:")),
        "{notices:?}"
    );
}

#[test]
fn weights_are_normalised_into_shares() {
    let s = parse(REFERENCE).unwrap_or_else(|e| panic!("{e}"));
    let shares: Vec<f64> = s.regions.iter().map(|r| r.share).collect();
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!((shares[0] - 0.45).abs() < 1e-12 && (shares[2] - 0.2).abs() < 1e-12);
    let one = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((one.regions.len(), one.regions[0].share), (1, 1.0));
}

#[test]
fn defaults_apply() {
    let s = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.target.base_url, BaseUrl::Embedded);
    assert_eq!(s.target.allow_hosts, ["127.0.0.1", "localhost"]);
    assert!(!s.target.insecure_tls);
    assert_eq!(s.load.scale, 1.0);
    assert_eq!(s.viewer.watch.protocol, WatchProtocol::Hls);
    assert_eq!(s.viewer.watch.rendition, Rendition::Lowest);
    assert!(s.slo.gates.is_empty() && s.event.is_none() && s.notices().is_empty());
}

#[test]
fn invalid_yaml_carries_line_and_col() {
    let text = "name: x\ntarget:\n  base_url: embedded\n   oops: [\n";
    let e = errors(text);
    assert_eq!(e.len(), 1);
    let first = &e.0[0];
    assert!(first.line >= 3 && first.col > 0, "{first}");
    assert!(
        first.to_string().starts_with("scenarios/x.yaml:"),
        "{first}"
    );
}

/// Where the YAML parser's own errors (syntax, duplicate keys) and the type and key errors point,
/// to the column, as measured with serde_yaml 0.9.34 before moving to its maintained fork (see
/// docs/architecture.md, "The YAML parser"): a parser change that moves a place fails here.
#[test]
fn yaml_errors_are_pinned_to_line_and_col() {
    let cases = [
        (
            "name: x\ntarget:\n  base_url: embedded\n   oops: [\n".to_string(),
            "4:8: mapping values are not allowed in this context",
        ),
        (
            "a: [1, 2\nb: 3\n".to_string(),
            "2:2: did not find expected ',' or ']', while parsing a flow sequence at line 1 column 4",
        ),
        (
            "name: \"x\ntarget: 1\n".to_string(),
            "3:1: found unexpected end of stream, while scanning a quoted scalar at line 1 column 7",
        ),
        (
            "name: x\nname: y\n".to_string(),
            "1:1: duplicate entry with key \"name\"",
        ),
        (
            "a: &x 1\nb: *y\n".to_string(),
            "2:4: unknown anchor",
        ),
        (
            MINIMAL.replace("max_viewers: 100", "max_viewers: lots"),
            "5:16: load.max_viewers: invalid type: string \"lots\", expected u64",
        ),
        (
            MINIMAL.replace("joins_per_sec: 5 }", "joins_per_sec: [5] }"),
            "8:53: load.phases[0].joins_per_sec: invalid type: sequence, expected f64",
        ),
        (
            format!("{MINIMAL}  wach: 1\n"),
            "11:3: unknown key `wach` in viewer; did you mean `watch`?",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            errors(&text).to_string(),
            format!("{FILE}:{expected}"),
            "{text}"
        );
    }
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let text = edit("joins_per_sec: 20 }", "joins_per_second: 20 }");
    let (line, col) = pos_of(&text, "joins_per_second");
    let e = errors(&text);
    assert_eq!(
        e.to_string(),
        format!("{FILE}:{line}:{col}: unknown key `joins_per_second` in load.phases[0]; did you mean `joins_per_sec`?")
    );
    assert_eq!(e.0[0].key, "load.phases[0].joins_per_second");
}

#[test]
fn bad_duration_has_line_col_and_key() {
    let text = edit("duration: 10s,", "duration: 5 min,");
    let (line, col) = pos_of(&text, "5 min");
    let e = errors(&text);
    assert_eq!(
        e.to_string(),
        format!("{FILE}:{line}:{col}: load.phases[2].duration: expected a duration like 90s, 5m or 1h30m, got \"5 min\" (write 5m)")
    );
    let bare = errors(&edit("  timeout: 10s", "  timeout: 10"));
    assert!(
        bare.to_string()
            .contains("target.timeout: expected a duration")
            && bare.to_string().contains("write 10s"),
        "{bare}"
    );
}

#[test]
fn checks_after_parsing_are_all_collected_and_located() {
    let text = REFERENCE
        .replacen("weight: 35", "weight: 0", 1)
        .replacen("network: 3g", "network: 3gg", 1)
        .replacen("scale: 0.01", "scale: 0", 1)
        .replacen("max_viewers: 20000", "max_viewers: 0", 1)
        .replacen("ramp_to: 200", "ramp_to: -5", 1)
        .replacen(
            "join_ms:        { p95: 1500 }",
            "join_ms:        { p96: 1500 }",
            1,
        )
        .replacen("error_rate: 0.01", "error_rat: 0.01", 1);
    let e = errors(&text);
    let msg = e.to_string();
    for (key, needle) in [
        ("regions[1].weight", "0"),
        (
            "regions[2].network: unknown network preset `3gg`; did you mean `3g`?",
            "3gg",
        ),
        ("load.scale", "0"),
        ("load.max_viewers", "0"),
        ("load.phases[1].ramp_to", "-5"),
        ("slo.join_ms.p96: unknown stat `p96`", "1500"),
        (
            "slo.error_rat: unknown metric `error_rat`; did you mean `error_rate`?",
            "0.01",
        ),
    ] {
        assert!(msg.contains(key), "missing {key} in\n{msg}");
        let _ = needle;
    }
    assert_eq!(e.len(), 7, "{msg}");
    let lines: Vec<usize> = e.iter().map(|x| x.line).collect();
    assert!(
        lines.windows(2).all(|w| w[0] <= w[1]) && lines[0] > 0,
        "{lines:?}"
    );
    let (l, c) = pos_of(&text, "weight: 0");
    assert_eq!((e.0[0].line, e.0[0].col), (l, c + "weight: ".len()));
}

#[test]
fn safety_caps_are_required_with_a_suggested_value() {
    let e = errors(&edit("  max_joins_per_sec: 5000", "  # no cap"));
    let msg = e.to_string();
    assert!(msg.contains("`max_joins_per_sec` is required"), "{msg}");
    assert!(
        msg.contains("add `max_joins_per_sec: 2000` (the phases peak at 2000/s)"),
        "{msg}"
    );
}

#[test]
fn slo_shapes_are_checked() {
    let e = errors(&MINIMAL.replace(
        "viewer:",
        "slo:\n  join_ms: 1500\n  error_rate: { p99: 0.1 }\nviewer:",
    ));
    let msg = e.to_string();
    assert!(msg.contains("slo.join_ms: expected a map of stat to threshold, got 1500; write `join_ms: { p95: 1500 }`"), "{msg}");
    assert!(
        msg.contains("slo.error_rate: expected a fraction like 0.01"),
        "{msg}"
    );
    let ok = parse(&MINIMAL.replace("viewer:", "slo:\n  segment_ms: { p99.9: 900 }\nviewer:"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.slo.gates[0].stat, crate::metrics::Stat::P999);
}

#[test]
fn load_reports_unreadable_files() {
    let e = load(std::path::Path::new("/nonexistent/peakready.yaml")).expect_err("must fail");
    assert!(
        e.to_string()
            .starts_with("/nonexistent/peakready.yaml: cannot read"),
        "{e}"
    );
}

#[test]
fn empty_files_and_top_level_typos_read_well() {
    assert!(errors("# nothing\n")
        .to_string()
        .contains("the scenario file is empty"));
    let e = errors(&MINIMAL.replace("name: tiny", "nme: tiny"));
    assert_eq!(
        e.to_string(),
        "scenarios/x.yaml:1:1: unknown key `nme` at the top level; did you mean `name`?"
    );
    let e = errors("- a\n- b\n");
    assert!(e.to_string().contains("expected a map"), "{e}");
}

#[test]
fn a_join_ms_gate_needs_join_steps() {
    let gated = MINIMAL.replace("viewer:", "slo:\n  join_ms: { p95: 1500 }\nviewer:");
    let msg = errors(&gated).to_string();
    assert!(
        msg.contains("slo.join_ms: join_ms times the viewer.join steps, and viewer.join has none"),
        "{msg}"
    );
    assert!(msg.contains("gate first_frame_ms instead"), "{msg}");
    let (line, _) = pos_of(&gated, "join_ms: { p95");
    assert!(msg.contains(&format!(":{line}:")), "{msg}");
    let with_steps = gated.replace(
        "viewer:\n",
        "viewer:\n  join:\n    - { name: token, method: GET, path: /api/v1/token }\n",
    );
    parse(&with_steps).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn gates_on_metrics_the_scenario_never_measures_are_refused() {
    let no_player = MINIMAL.replace(
        "viewer:\n  watch: { url: /hls/stream.m3u8, duration: 30s }",
        "slo:\n  first_frame_ms: { p95: 3000 }\n  chat_delivery_ms: { p99: 500 }\n  publish_connect_ms: { p99: 500 }\n  connect_ms: { p99: 500 }\nviewer:\n  watch: { protocol: none, duration: 30s }",
    );
    let e = errors(&no_player);
    let msg = e.to_string();
    for needle in [
        "slo.first_frame_ms: this metric comes from watching HLS, and viewer.watch.protocol is none",
        "slo.chat_delivery_ms: this metric comes from chat, and viewer.chat is not set",
        "slo.publish_connect_ms: publish_connect_ms comes from publishers, and there are none",
    ] {
        assert!(msg.contains(needle), "missing {needle:?} in\n{msg}");
    }
    assert_eq!(e.len(), 3, "connect_ms is measured by every viewer: {msg}");
}

#[test]
fn a_dying_publisher_must_die_within_the_publishers_run() {
    let text = |dying: &str| {
        MINIMAL.replace(
            "viewer:",
            &format!("publishers:\n  url: rtmp://127.0.0.1:1935/live\n  streams: 2\n  duration: 1m\n  dying: {dying}\nviewer:"),
        )
    };
    let ok = parse(&text("{ streams: 1, after: 20s }")).unwrap_or_else(|e| panic!("{e}"));
    let dying = ok.publishers.and_then(|p| p.dying).expect("dying");
    assert_eq!((dying.streams, dying.after.as_secs()), (1, 20));
    let msg = errors(&text("{ streams: 3, after: 2m }")).to_string();
    assert!(
        msg.contains(
            "publishers.dying.streams: expected between 1 and publishers.streams (2), got 3"
        ) && msg.contains("publishers.dying.after: must be shorter than publishers.duration"),
        "{msg}"
    );
}
