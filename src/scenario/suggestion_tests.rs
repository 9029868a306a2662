//! Every suggestion a scenario error can print, fed back: each `.hint(…)`/`.suggest(…)` site in
//! this module has a case that triggers it, and where the suggestion carries a fix (the first
//! `backticked` fragment), the fix is applied and the file must then parse. Every backticked
//! fragment that looks like YAML must parse as YAML. A new suggestion site fails
//! `every_suggestion_site_has_a_case` until a case is added here.

use super::*;

const FILE: &str = "scenarios/x.yaml";

const BASE: &str = "\
name: tiny
target:
  base_url: embedded
  allow_hosts: [127.0.0.1, localhost]
load:
  max_viewers: 100
  max_joins_per_sec: 10
  phases:
    - { name: steady, duration: 10s, joins_per_sec: 5 }
viewer:
  watch: { url: /hls/stream.m3u8, duration: 30s }
";

/// What a case feeds the parser.
enum Input {
    Text(String),
    /// Bytes written to a file and loaded (for what only a file can carry).
    Bytes(Vec<u8>),
    /// The base scenario beside a CSV named `viewers.csv` with this content.
    WithCsv(String, &'static str),
    /// The base scenario with this `--env-file`.
    EnvFile(&'static str),
    /// The base scenario with this one `--set`.
    Set(&'static str),
}

/// A fix: the case's editable text (scenario, env file or `--set`) and the suggestion's code
/// (its first backticked fragment that looks like YAML, else its first), to the text with the
/// suggestion applied.
type Fix = fn(&str, &str) -> String;

struct Case {
    /// The file in `src/scenario/` whose hint prints it.
    site: &'static str,
    input: Input,
    /// A part of the suggestion that identifies it.
    want: &'static str,
    fix: Option<Fix>,
}

fn lookup(name: &str) -> Option<Found> {
    let value = match name {
        "STAGING_BASIC_AUTH" | "TOKEN" => "dTpw",
        "COLON" => "a: b",
        _ => return None,
    };
    Some(Found {
        value: value.into(),
        origin: "the environment".into(),
    })
}

/// BASE with `from` replaced (it must be there, so a case cannot silently test nothing).
fn ed(from: &str, to: &str) -> String {
    rep(BASE, from, to)
}

fn rep(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "no {from:?} in:\n{text}");
    text.replacen(from, to, 1)
}

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

fn parse_input(input: &Input, dir: &std::path::Path) -> Result<Scenario, ScenarioErrors> {
    let o = Overrides::default();
    match input {
        Input::Text(t) => parse_with(t, FILE, &lookup, &[]),
        Input::Set(s) => parse_with(BASE, FILE, &lookup, &[s.to_string()]),
        Input::Bytes(b) => {
            let path = dir.join("x.yaml");
            std::fs::write(&path, b).expect("write");
            load_with(&path, &o)
        }
        Input::WithCsv(t, csv) => {
            std::fs::write(dir.join("viewers.csv"), csv).expect("write csv");
            let path = dir.join("x.yaml");
            std::fs::write(&path, t).expect("write");
            load_with(&path, &o)
        }
        Input::EnvFile(env) => {
            let path = dir.join("staging.env");
            std::fs::write(&path, env).expect("write env");
            let o = Overrides {
                env_files: vec![path],
                ..Overrides::default()
            };
            let text = rep(BASE, "name: tiny", "name: ${STAGING_URL:-tiny}");
            parse_configured(&text, FILE, &o)
        }
    }
}

/// The input with the fix applied to its editable text.
fn fixed(input: &Input, fix: Fix, code: &str) -> Input {
    match input {
        Input::Text(t) => Input::Text(fix(t, code)),
        Input::WithCsv(t, csv) => Input::WithCsv(fix(t, code), csv),
        Input::Set(s) => Input::Set(Box::leak(fix(s, code).into_boxed_str())),
        Input::EnvFile(e) => Input::EnvFile(Box::leak(fix(e, code).into_boxed_str())),
        Input::Bytes(b) => Input::Bytes(fix(&String::from_utf8_lossy(b), code).into_bytes()),
    }
}

/// The backticked fragments of a suggestion.
fn code(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

fn cases() -> Vec<Case> {
    use Input::*;
    let search = |s: &str| Text(with(&format!("{s}\nslo: {{ error_rate: 0.01 }}\n")));
    let join = |step: &str| {
        Text(ed(
            "viewer:\n",
            &format!("viewer:\n  join:\n    - {step}\n"),
        ))
    };
    vec![
        // error.rs: serde's unknown key, unknown word, missing key.
        Case { site: "error.rs", input: Text(ed("max_viewers", "max_viewrs")), want: "did you mean `max_viewers`?", fix: Some(|t, c| t.replace("max_viewrs", c)) },
        Case { site: "error.rs", input: Text(ed("duration: 30s }", "duration: 30s, rendition: lowst }")), want: "did you mean `lowest`?", fix: Some(|t, c| t.replace("lowst", c)) },
        Case { site: "error.rs", input: Text(ed("duration: 10s, ", "")), want: "add `duration: 1m` to load.phases[0]", fix: Some(|t, c| rep(t, "steady, ", &format!("steady, {c}, "))) },
        // mod.rs
        Case { site: "mod.rs", input: Text(String::new()), want: "a scenario needs at least `name`", fix: None },
        // text.rs
        Case { site: "text.rs", input: Text(with(&format!("# {}\n", "x".repeat(text::MAX_FILE_BYTES)))), want: "per-viewer values belong in a CSV", fix: None },
        Case { site: "text.rs", input: Bytes(BASE.bytes().enumerate().map(|(i, b)| if i == 7 { 0xff } else { b }).collect()), want: "save the file as UTF-8", fix: None },
        Case { site: "text.rs", input: Text(with("---\nname: two\n")), want: "remove this `---`", fix: Some(|t, c| t.split(&format!("\n{c}\n")).next().unwrap_or_default().to_string() + "\n") },
        // data.rs
        Case { site: "data.rs", input: Text(ed("viewer:\n", "viewer:\n  data: { file: nope.csv }\n")), want: "relative to the scenario file's folder", fix: None },
        Case { site: "data.rs", input: WithCsv(ed("viewer:\n", "viewer:\n  data: { file: viewers.csv }\n"), "user,pass\na,b\nc\n"), want: "one value per column", fix: None },
        // extract.rs
        Case { site: "extract.rs", input: join("{ path: /api, extract: { viewer_id: { json: /id } } }"), want: "give each extracted value its own name", fix: None },
        Case { site: "extract.rs", input: join("{ path: /api, extract: { token: { json: /a, header: X-T } } }"), want: "like `{ json: /token }`", fix: Some(|t, c| t.replace("{ json: /a, header: X-T }", c)) },
        Case { site: "extract.rs", input: join("{ path: \"/rooms/{{room}}\" }"), want: "defined here: {{viewer_id}}", fix: None },
        // overrides.rs: --env-file and --set
        Case { site: "overrides.rs", input: EnvFile("JUNK LINE\n"), want: "write it like `STAGING_URL=", fix: Some(|_, c| format!("{c}\n")) },
        Case { site: "overrides.rs", input: EnvFile("A=\"open\n"), want: "with the closing quote on the same line", fix: None },
        Case { site: "overrides.rs", input: Set("load.scale"), want: "write it like `--set load.scale=0.1`", fix: Some(|_, c| c.trim_start_matches("--set ").to_string()) },
        Case { site: "overrides.rs", input: Set("load.phases[3].duration=1m"), want: "indexes start at 0; the last is [0]", fix: None },
        // resolve.rs
        Case { site: "resolve.rs", input: Text(with("slo: { join_ms: { p95: 100 } }\n")), want: "add the app's join steps", fix: None },
        Case { site: "resolve/load.rs", input: Text(ed("phases:\n    - { name: steady, duration: 10s, joins_per_sec: 5 }", "phases: []")), want: "add `- { name: steady", fix: Some(|t, c| rep(t, "phases: []", &format!("phases:\n    {c}"))) },
        Case { site: "resolve/load.rs", input: Text(ed("joins_per_sec: 5 }", "joins_per_sec: 5 }\n    - { name: steady, duration: 1s, joins_per_sec: 1 }")), want: "give every phase its own name", fix: None },
        Case { site: "resolve/load.rs", input: Text(ed("  max_viewers: 100\n", "")), want: "add `max_viewers: ", fix: Some(|t, c| rep(t, "load:\n", &format!("load:\n  {c}\n"))) },
        Case { site: "resolve/load.rs", input: Text(ed("  max_joins_per_sec: 10\n", "")), want: "add `max_joins_per_sec: ", fix: Some(|t, c| rep(t, "load:\n", &format!("load:\n  {c}\n"))) },
        Case { site: "resolve/load.rs", input: Text(ed("load:\n", "load:\n  end_within: 30s\n")), want: "add `end: finish-watching`", fix: Some(|t, c| rep(t, "load:\n", &format!("load:\n  {c}\n"))) },
        Case { site: "resolve.rs", input: join("{ path: /api, method: GETT }"), want: "did you mean `GET`?", fix: Some(|t, c| t.replace("GETT", c)) },
        Case { site: "resolve.rs", input: Text(ed("{ url: /hls/stream.m3u8, duration: 30s }", "{ duration: 30s }")), want: "add `url: /hls/stream.m3u8`", fix: Some(|t, c| rep(t, "{ duration: 30s }", &format!("{{ {c}, duration: 30s }}"))) },
        Case { site: "resolve.rs", input: Text(ed("duration: 30s }", "duration: { median: 1m, p90: 10s } }")), want: "cannot be below the median", fix: None },
        Case { site: "resolve/load.rs", input: Text(ed("joins_per_sec: 5 }", &format!("joins_per_sec: 5 }}{}", (1..=100).map(|i| format!("\n    - {{ name: p{i}, duration: 1s, joins_per_sec: 1 }}")).collect::<String>()))), want: "merge neighbouring phases", fix: None },
        Case { site: "resolve/load.rs", input: Text(ed("duration: 10s", "duration: 8760h")), want: "write `duration: 24h` here", fix: Some(|t, c| t.replace("duration: 8760h", c)) },
        // search.rs
        Case { site: "search.rs", input: search("search: { quantity: concurent_viewers, start: 10, max: 100 }"), want: "did you mean `concurrent_viewers`?", fix: Some(|t, c| t.replace("concurent_viewers", c)) },
        Case { site: "search.rs", input: search("search: { start: 10.5, max: 100 }"), want: "write `start: 11`", fix: Some(|t, c| t.replace("start: 10.5", c)) },
        Case { site: "search.rs", input: search("search: { start: 50, max: 20 }"), want: "write `max: 100` or more", fix: Some(|t, c| t.replace("max: 20 ", &format!("{c} "))) },
        Case { site: "search.rs", input: search("search: { start: 10, max: 500 }"), want: "write `max: 100`, or raise load.max_viewers", fix: Some(|t, c| t.replace("max: 500", c)) },
        Case { site: "search.rs", input: search("search: { start: 10, max: 100, slo: [eror_rate] }"), want: "did you mean `error_rate`?", fix: Some(|t, c| t.replace("eror_rate", c)) },
        Case { site: "search.rs", input: search("search: { start: 10, max: 100, slo: [] }"), want: "remove `slo` under search", fix: None },
        Case { site: "search.rs", input: Text(with("search: { start: 10, max: 100 }\n")), want: "add e.g. `slo: { error_rate: 0.01 }`", fix: Some(|t, c| format!("{t}{c}\n")) },
        Case { site: "search.rs", input: search("search: { start: 10, max: 100, precision: 90% }"), want: "write `precision: 5%`", fix: Some(|t, c| t.replace("precision: 90%", c)) },
        Case { site: "search.rs", input: search("search: { start: 10, max: 100, precision: 90 }"), want: "write `precision: 5%`", fix: Some(|t, c| t.replace("precision: 90", c)) },
        // secrets.rs
        Case { site: "secrets.rs", input: Text(ed("name: tiny", "name: ${UNSET_VAR}")), want: "give a default like `${UNSET_VAR:-value}`", fix: Some(|t, c| t.replace("${UNSET_VAR}", c)) },
        Case { site: "secrets.rs", input: Text(ed("name: tiny", "name: a${b")), want: "write `$${` for a literal `${`", fix: Some(|t, c| t.replace("a${b", &format!("a{c}b"))) },
        Case { site: "secrets.rs", input: Text(ed("name: tiny", "name: pre-${COLON}-post")), want: "put the whole value in double quotes", fix: None },
        Case { site: "secrets.rs", input: Text(ed("name: tiny", "name: ${TOKEN}").replace("target:\n", "target:\n  headers: { Authorization: \"Bearer ${TOKEN}\" }\n")), want: "use another variable here", fix: None },
        // slo.rs
        Case { site: "slo.rs", input: Text(with("slo:\n  conect_ms: { p99: 100 }\n")), want: "did you mean `connect_ms`?", fix: Some(|t, c| t.replace("conect_ms", c)) },
        Case { site: "slo.rs", input: Text(with("slo:\n  first_frame_ms: .inf\n")), want: "write `first_frame_ms: { p95: 1000 }`", fix: Some(|t, c| t.replace("first_frame_ms: .inf", c)) },
        Case { site: "slo.rs", input: Text(with("slo:\n  error_rate: { p95: 0.1 }\n")), want: "write `error_rate: 0.01`", fix: Some(|t, c| t.replace("error_rate: { p95: 0.1 }", c)) },
        Case { site: "slo.rs", input: Text(with("slo:\n  first_frame_ms: {}\n")), want: "write `first_frame_ms: { p95: 1000 }`", fix: Some(|t, c| t.replace("first_frame_ms: {}", c)) },
        Case { site: "slo.rs", input: Text(with("slo:\n  first_frame_ms: { p955: 100 }\n")), want: "did you mean `p95`?", fix: Some(|t, c| t.replace("p955", c)) },
        // target.rs
        Case { site: "target.rs", input: Text(ed("target:\n", "target:\n  headers: { X-A: \"a\\x01b\" }\n")), want: "header values cannot contain line breaks", fix: None },
        Case { site: "target.rs", input: Text(ed("target:\n", "target:\n  source_addrs: [10.0.0.0/17, 10.1.0.0/17, 10.2.0.0/17]\n")), want: "use a smaller range or CIDR block", fix: None },
        Case { site: "target.rs", input: Text(ed("target:\n", "target:\n  tls: { resume: true }\n")), want: "remove `tls: { resume: true }`", fix: Some(|t, c| t.replace(&format!("  {c}\n"), "")) },
        Case { site: "target.rs", input: Text(ed("embedded", "http://u:p@127.0.0.1:9/")), want: "`headers: { Authorization: \"Basic ${STAGING_BASIC_AUTH}\" }`", fix: Some(|t, c| rep(&t.replace("u:p@", ""), "target:\n", &format!("target:\n  {c}\n"))) },
        Case { site: "target.rs", input: Text(ed("embedded", "http://edge.example.com/")), want: "add `edge.example.com` to target.allow_hosts", fix: Some(|t, c| t.replace("localhost]", &format!("localhost, {c}]"))) },
        Case { site: "target.rs", input: Text(with(&format!("regions:\n{}", (0..51).map(|i| format!("  - {{ name: r{i} }}\n")).collect::<String>()))), want: "merge regions that share a network profile", fix: None },
        Case { site: "target.rs", input: Text(with("regions:\n  - { name: all }\n")), want: "name the region after its place", fix: None },
        Case { site: "target.rs", input: Text(with("regions:\n  - { name: eu, origin_rtt_ms: 5, network: { rtt_ms: 9, origin_rtt_ms: 3 } }\n")), want: "set origin_rtt_ms in one place", fix: None },
        Case { site: "target.rs", input: Text(with("regions:\n  - { name: eu, network: 4g-typicl }\n")), want: "did you mean `4g-typical`?", fix: Some(|t, c| t.replace("4g-typicl", c)) },
    ]
}

#[test]
fn every_suggestion_feeds_back_into_a_file_that_parses() {
    let dir = tempfile::tempdir().expect("tempdir");
    for case in cases() {
        let errors = match parse_input(&case.input, dir.path()) {
            Ok(_) => panic!("{}: {:?} parsed", case.site, case.want),
            Err(e) => e,
        };
        let Some(suggestion) = errors
            .iter()
            .filter_map(|e| e.suggestion.as_deref())
            .find(|s| s.contains(case.want))
        else {
            panic!(
                "{}: no suggestion with {:?} in:\n{errors}",
                case.site, case.want
            );
        };
        let fragments = code(suggestion);
        for frag in &fragments {
            let yaml_like = frag.contains(": ") || frag.starts_with(['{', '-', '[']);
            if yaml_like && *frag != "---" {
                let parsed: Result<serde_yaml::Value, _> = serde_yaml::from_str(frag);
                assert!(
                    parsed.is_ok(),
                    "{}: `{frag}` is not YAML: {suggestion}",
                    case.site
                );
            }
        }
        let Some(fix) = case.fix else { continue };
        let yaml_like = |f: &&&str| f.contains(": ");
        let first = fragments
            .iter()
            .find(yaml_like)
            .or(fragments.first())
            .unwrap_or_else(|| {
                panic!(
                    "{}: a fix needs a backticked fragment: {suggestion}",
                    case.site
                )
            });
        if let Err(e) = parse_input(&fixed(&case.input, fix, first), dir.path()) {
            panic!(
                "{}: the suggestion {suggestion:?} applied still fails:\n{e}",
                case.site
            );
        }
    }
}

#[test]
fn every_suggestion_site_has_a_case() {
    let sources = [
        ("data.rs", include_str!("data.rs")),
        ("error.rs", include_str!("error.rs")),
        ("extract.rs", include_str!("extract.rs")),
        ("mod.rs", include_str!("mod.rs")),
        ("overrides.rs", include_str!("overrides.rs")),
        ("resolve.rs", include_str!("resolve.rs")),
        ("resolve/load.rs", include_str!("resolve/load.rs")),
        ("search.rs", include_str!("search.rs")),
        ("secrets.rs", include_str!("secrets.rs")),
        ("slo.rs", include_str!("slo.rs")),
        ("target.rs", include_str!("target.rs")),
        ("text.rs", include_str!("text.rs")),
    ];
    let cases = cases();
    for (file, text) in sources {
        let sites = text.matches(".hint(").count() + text.matches(".suggest(").count();
        let covered = cases.iter().filter(|c| c.site == file).count();
        assert_eq!(
            covered, sites,
            "{file} has {sites} suggestion sites and {covered} cases in suggestion_tests.rs"
        );
    }
    // The other files of the module print none (a new one must join the list above).
    let others = [
        ("ctx.rs", include_str!("ctx.rs")),
        ("duration.rs", include_str!("duration.rs")),
        ("file.rs", include_str!("file.rs")),
        ("interpolate.rs", include_str!("interpolate.rs")),
        ("locate.rs", include_str!("locate.rs")),
        ("model.rs", include_str!("model.rs")),
        ("pos.rs", include_str!("pos.rs")),
        ("presets.rs", include_str!("presets.rs")),
    ];
    for (file, text) in others {
        assert!(
            !(text.contains(".hint(") || text.contains(".suggest(")),
            "{file} prints suggestions: add it to the list above, with cases"
        );
    }
}
