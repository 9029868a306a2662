//! Scenario parsing end to end: the reference file, and the errors people will actually hit.

use super::*;
use crate::metrics::{Metric, Stat};

const REFERENCE: &str = include_str!("testdata/reference.yaml");
/// Contains YAML syntax (`: `, ` #`) to show a token cannot break or truncate the file.
const TOKEN: &str = "tok-9f8e: 7d6c #5b4a";
const FILE: &str = "scenarios/x.yaml";

fn env(name: &str) -> Option<String> {
    (name == "STAGING_TOKEN").then(|| TOKEN.to_string())
}

fn parse(text: &str) -> Result<Scenario, ScenarioErrors> {
    parse_str(text, FILE, &env)
}

fn errors(text: &str) -> ScenarioErrors {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e,
    }
}

/// The reference file with `from` replaced by `to` (which must be there, so tests stay honest).
fn edit(from: &str, to: &str) -> String {
    assert!(REFERENCE.contains(from), "reference.yaml has no {from:?}");
    REFERENCE.replacen(from, to, 1)
}

/// 1-based line:col of the first `needle` in `text`.
fn pos_of(text: &str, needle: &str) -> (usize, usize) {
    for (i, line) in text.lines().enumerate() {
        if let Some(c) = line.find(needle) {
            return (i + 1, line[..c].chars().count() + 1);
        }
    }
    panic!("{needle:?} not in text")
}

const MINIMAL: &str = "\
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
fn missing_env_var_is_named_with_its_place() {
    let e = parse_str(REFERENCE, FILE, &|_| None).expect_err("must fail");
    let (line, col) = pos_of(REFERENCE, "${STAGING_TOKEN}");
    assert_eq!(e.len(), 1);
    assert_eq!((e.0[0].line, e.0[0].col), (line, col));
    let msg = e.to_string();
    assert!(
        msg.contains(
            "target.headers.Authorization: environment variable `STAGING_TOKEN` is not set"
        ),
        "{msg}"
    );
}

#[test]
fn escaped_dollar_brace_is_literal() {
    let text = MINIMAL.replace("name: tiny", "name: tiny\ndescription: costs $${PRICE}");
    let s = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.description.as_deref(), Some("costs ${PRICE}"));
}

#[test]
fn secrets_never_reach_errors_debug_or_json() {
    // A bad header name and an invalid header value, on the token's own line.
    let text = edit(
        "    Authorization: \"Bearer ${STAGING_TOKEN}\"",
        "    Authorization: \"Bearer ${STAGING_TOKEN}\"\n    \"Bad Header\": \"${STAGING_TOKEN}\"",
    );
    let bad_value = |name: &str| (name == "STAGING_TOKEN").then(|| format!("{TOKEN}\nsecret-line"));
    for e in [
        errors(&text),
        parse_str(&text, FILE, &bad_value).expect_err("must fail"),
    ] {
        let shown = format!("{e}\n{e:?}");
        assert!(
            !shown.contains("7d6c") && !shown.contains("secret-line"),
            "{shown}"
        );
        assert!(shown.contains("Bad Header"), "{shown}");
    }
    // A header's variable used anywhere else is refused rather than written to results.json.
    let stray = errors(&edit(
        "name: ramadan-gala-rehearsal",
        "name: \"gala-${STAGING_TOKEN}\"",
    ));
    assert!(
        stray.to_string().contains(
            "name: `${STAGING_TOKEN}` is used in a header, so its value is a secret, and name is written to results.json"
        ),
        "{stray}"
    );
    assert!(!format!("{stray:?}").contains("7d6c"));
    // Unquoted, the token's `: ` cannot be placed at all; the error does not quote it either.
    let unquoted = errors(&edit(
        "name: ramadan-gala-rehearsal",
        "name: gala-${STAGING_TOKEN}",
    ));
    assert!(
        unquoted.to_string().contains("cannot be placed here")
            && !format!("{unquoted:?}").contains("7d6c"),
        "{unquoted}"
    );
    // A parsed scenario keeps the value for the engine but never prints or serializes it.
    let s = parse(REFERENCE).unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::to_string(&s).unwrap_or_default();
    assert!(
        json.contains("Authorization") && !json.contains("7d6c"),
        "{json}"
    );
    assert!(!format!("{s:?}").contains("7d6c"));
}

#[test]
fn allow_hosts_refuses_unlisted_hosts() {
    let text = edit("http://127.0.0.1:8081", "http://edge.example.com:8081");
    let e = errors(&text);
    let (line, col) = pos_of(&text, "http://edge");
    assert_eq!((e.0[0].line, e.0[0].col), (line, col));
    let msg = e.to_string();
    assert!(
        msg.contains("regions[1].base_url: host `edge.example.com` is not in target.allow_hosts"),
        "{msg}"
    );
    assert!(
        msg.ends_with("add `edge.example.com` to target.allow_hosts"),
        "{msg}"
    );
    let no_list = MINIMAL.replace(
        "base_url: embedded",
        "base_url: https://staging.example.com",
    );
    assert!(errors(&no_list)
        .to_string()
        .contains("add `staging.example.com` to target.allow_hosts"));
}

#[test]
fn tls_resume_is_off_unless_asked_and_needs_a_tls_target() {
    let plain = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    assert!(!plain.target.tls_resume, "full handshakes by default");
    let https = MINIMAL.replace(
        "  base_url: embedded",
        "  base_url: https://127.0.0.1:8443\n  allow_hosts: [127.0.0.1]\n  tls: { resume: true }",
    );
    let s = parse(&https).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.target.tls_resume);

    let embedded = MINIMAL.replace(
        "  base_url: embedded",
        "  base_url: embedded\n  tls: { resume: true }",
    );
    let msg = errors(&embedded).to_string();
    assert!(msg.contains("target.tls.resume"), "{msg}");
    assert!(msg.contains("plain http"), "{msg}");
    let typo = MINIMAL.replace(
        "  base_url: embedded",
        "  base_url: embedded\n  tls: { resumption: true }",
    );
    let msg = errors(&typo).to_string();
    assert!(msg.contains("resumption"), "{msg}");
    let not_bool = https.replace("resume: true", "resume: sometimes");
    assert!(parse(&not_bool).is_err());
}

#[test]
fn source_addrs_resolve_ranges_and_cidrs() {
    let text = MINIMAL.replace(
        "  base_url: embedded",
        "  base_url: embedded\n  source_addrs: [127.0.0.2-127.0.0.4, 127.0.1.0/30, \"::1\"]",
    );
    let s = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let ips: Vec<String> = s
        .target
        .source_addrs
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(
        ips,
        [
            "127.0.0.2",
            "127.0.0.3",
            "127.0.0.4",
            "127.0.1.1",
            "127.0.1.2",
            "::1"
        ]
    );
    let bad = errors(&MINIMAL.replace(
        "  base_url: embedded",
        "  base_url: embedded\n  source_addrs: [127.0.0.9-127.0.0.1]",
    ));
    assert!(
        bad.to_string()
            .contains("target.source_addrs[0]: expected an IP address"),
        "{bad}"
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

fn lookup(name: &str) -> Option<Found> {
    let value = match name {
        "STAGING_URL" => "http://127.0.0.1:9000",
        "RATE" => "7",
        "BAD_RATE" => "seven",
        _ => return None,
    };
    Some(Found {
        value: value.into(),
        origin: "the environment".into(),
    })
}

/// MINIMAL with its base URL, scale and phase rate taken from `${…}`.
fn from_env() -> String {
    MINIMAL
        .replace(
            "base_url: embedded",
            "base_url: ${STAGING_URL}\n  allow_hosts: [127.0.0.1]",
        )
        .replace(
            "  max_viewers: 100",
            "  scale: ${SCALE:-0.5}\n  max_viewers: 100",
        )
        .replace("joins_per_sec: 5 }", "joins_per_sec: ${RATE} }")
}

#[test]
fn base_url_scale_and_rate_come_from_the_environment() {
    let s = parse_with(&from_env(), FILE, &lookup, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&s.target.base_url, BaseUrl::Url(u) if u.port() == Some(9000)));
    assert_eq!(s.load.scale, 0.5);
    assert_eq!(s.load.phases[0].joins_per_sec, 7.0);
    let from: Vec<(&str, &str, &str)> = s
        .overrides
        .iter()
        .map(|o| (o.key.as_str(), o.value.as_str(), o.from.as_str()))
        .collect();
    assert_eq!(
        from,
        [
            (
                "target.base_url",
                "http://127.0.0.1:9000",
                "${STAGING_URL} from the environment"
            ),
            ("load.scale", "0.5", "${SCALE:-0.5} default"),
            (
                "load.phases[0].joins_per_sec",
                "7",
                "${RATE} from the environment"
            ),
        ]
    );
}

#[test]
fn set_overrides_the_file_and_the_environment() {
    let sets = [
        "load.scale=0.1",
        "load.phases[0].joins_per_sec=8",
        "target.base_url=embedded",
    ]
    .map(String::from);
    let s = parse_with(&from_env(), FILE, &lookup, &sets).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.target.base_url, BaseUrl::Embedded);
    assert_eq!(s.load.scale, 0.1);
    assert_eq!(s.load.phases[0].joins_per_sec, 8.0);
    let last = s
        .overrides
        .last()
        .map(|o| (o.key.as_str(), o.from.as_str()));
    assert_eq!(last, Some(("target.base_url", "--set #3")));
}

#[test]
fn errors_in_set_are_located_at_the_set() {
    let sets = [
        "load.scale=0.1",
        "load.scale=-1",
        "load.phases[0].duration=5 min",
        "load.phases[0].joins_per_second=3",
    ]
    .map(String::from);
    let e = parse_with(&from_env(), FILE, &lookup, &sets).expect_err("must fail");
    let msg = e.to_string();
    assert!(
        msg.contains("--set #3: load.phases[0].duration: expected a duration like 90s, 5m or 1h30m, got \"5 min\""),
        "{msg}"
    );
    // serde stops at its first error; the checks after parsing report theirs together.
    let e = parse_with(&from_env(), FILE, &lookup, &sets[..2]).expect_err("must fail");
    assert_eq!(
        e.to_string(),
        "--set #2: load.scale: expected a fraction of the event in (0, 1000000], like 0.01, got -1"
    );
    let e = parse_with(&from_env(), FILE, &lookup, &sets[3..]).expect_err("must fail");
    assert_eq!(
        e.to_string(),
        "--set #1: unknown key `joins_per_second` in load.phases[0]; did you mean `joins_per_sec`?"
    );
    // A bad value from the environment is still located at the file's line.
    let text = from_env().replace("${RATE}", "${BAD_RATE}");
    let e = parse_with(&text, FILE, &lookup, &[]).expect_err("must fail");
    let (line, col) = pos_of(&text, "${BAD_RATE}");
    assert_eq!((e.0[0].line, e.0[0].col), (line, col), "{e}");
    assert!(
        e.to_string().contains("load.phases[0].joins_per_sec"),
        "{e}"
    );
}

#[test]
fn urls_that_do_not_parse_are_echoed_without_their_credentials() {
    use super::target::redact_userinfo;
    assert_eq!(redact_userinfo("ftp://u:secret@host/x"), "ftp://***@host/x");
    assert_eq!(redact_userinfo("http://host/a@b"), "http://host/a@b");
    assert_eq!(redact_userinfo("no scheme"), "no scheme");
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
