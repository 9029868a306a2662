//! Configuration from outside the file, end to end: `${VAR}` substitution and its errors,
//! header variables as secrets (never in an error, a debug print or results.json), `--set` and
//! where its errors point.

use super::tests::{edit, errors, parse, pos_of, FILE, MINIMAL, REFERENCE, TOKEN};
use super::*;

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
