//! The target section end to end: allowed hosts, TLS resumption, source addresses, and URLs
//! whose credentials must never be echoed.

use super::tests::{edit, errors, parse, pos_of, MINIMAL};

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
fn urls_that_do_not_parse_are_echoed_without_their_credentials() {
    use super::target::redact_userinfo;
    assert_eq!(redact_userinfo("ftp://u:secret@host/x"), "ftp://***@host/x");
    assert_eq!(redact_userinfo("http://host/a@b"), "http://host/a@b");
    assert_eq!(redact_userinfo("no scheme"), "no scheme");
}
