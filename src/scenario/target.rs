//! Where load goes: `target` (URLs, headers and their secrets, source addresses), `regions`
//! (weights, network profiles) and the allow-list every URL in the scenario must pass.
//!
//! The allow-list is a safety rule from design.md: a host not in `target.allow_hosts` is
//! refused here, before any packet could be sent, for every URL the scenario names (base URLs,
//! absolute join/watch URLs, chat, publishers).

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use super::ctx::Ctx;
use super::error::nearest;
use super::file::{NetworkFile, OneOrMany, RegionFile, TargetFile};
use super::model::*;
use super::presets::{preset, preset_names};

/// The most regions in `regions` (one of the caps on a plan's shape, with `MAX_PLAN` and
/// `MAX_PHASES` in `resolve.rs`).
pub const MAX_REGIONS: usize = 50;

/// Hosts the embedded staging server listens on; implied when `base_url: embedded`.
const EMBEDDED_HOSTS: [&str; 2] = ["127.0.0.1", "localhost"];
/// More source addresses than this is a typo in a range, not a plan.
const MAX_SOURCE_ADDRS: usize = 65_536;

pub(crate) fn target(cx: &mut Ctx, t: TargetFile) -> Target {
    let base_url = base_url(cx, "target.base_url", &t.base_url).unwrap_or(BaseUrl::Embedded);
    let mut allow_hosts: Vec<String> = t
        .allow_hosts
        .unwrap_or_default()
        .iter()
        .map(|h| normalize_host(h))
        .collect();
    if base_url == BaseUrl::Embedded {
        for h in EMBEDDED_HOSTS {
            if !allow_hosts.iter().any(|a| a == h) {
                allow_hosts.push(h.to_string());
            }
        }
    }
    if let BaseUrl::Url(u) = &base_url {
        check_host(cx, "target.base_url", u, &allow_hosts);
    }
    let mut headers = Vec::new();
    for (name, raw) in t.headers.map(|h| h.0).unwrap_or_default() {
        let key = format!("target.headers.{name}");
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            cx.expected(
                &key,
                "an HTTP header name (letters, digits, `-`)",
                format!("`{name}`"),
            );
        }
        // `${VAR}`s are substituted already (and the secrets among them recorded): the check
        // says nothing about the value, which may be a secret.
        if http::HeaderValue::from_str(&raw).is_err() {
            cx.err(&key, "the value is not a valid HTTP header value")
                .hint("header values cannot contain line breaks or control characters");
        }
        headers.push((name, raw));
    }
    let timeout = t.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10));
    cx.nonzero_duration("target.timeout", timeout);
    let mut source_addrs = Vec::new();
    for (i, s) in t
        .source_addrs
        .map(OneOrMany::into_vec)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        match parse_addrs(s) {
            Ok(mut v) => source_addrs.append(&mut v),
            Err(expected) => {
                cx.expected(
                    &format!("target.source_addrs[{i}]"),
                    expected,
                    format!("{s:?}"),
                );
            }
        }
    }
    if source_addrs.len() > MAX_SOURCE_ADDRS {
        cx.err(
            "target.source_addrs",
            format!(
                "{} addresses is more than the {MAX_SOURCE_ADDRS} allowed",
                source_addrs.len()
            ),
        )
        .hint("use a smaller range or CIDR block");
    }
    let tls_resume = t.tls.and_then(|tls| tls.resume).unwrap_or(false);
    if tls_resume && base_url == BaseUrl::Embedded {
        cx.err(
            "target.tls.resume",
            "the embedded staging server speaks plain http: there is no TLS session to resume",
        )
        .hint("remove `tls: { resume: true }`, or point base_url at an https target");
    }
    Target {
        base_url,
        allow_hosts,
        header_names: headers.iter().map(|(n, _)| n.clone()).collect(),
        headers,
        insecure_tls: t.insecure_tls.unwrap_or(false),
        tls_resume,
        timeout,
        source_addrs,
    }
}

/// `embedded`, or an http(s) URL with a host.
fn base_url(cx: &mut Ctx, key: &str, raw: &str) -> Option<BaseUrl> {
    if raw == "embedded" {
        return Some(BaseUrl::Embedded);
    }
    match Url::parse(raw) {
        Ok(u) if has_userinfo(&u) => {
            refuse_userinfo(cx, key);
            None
        }
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Some(BaseUrl::Url(u))
        }
        _ => {
            cx.expected(
                key,
                "an http:// or https:// URL, or `embedded`",
                format!("{:?}", redact_userinfo(raw)),
            );
            None
        }
    }
}

/// A user name or password in a URL (`https://user:pass@host/`).
pub fn has_userinfo(u: &Url) -> bool {
    !u.username().is_empty() || u.password().is_some()
}

/// Credentials in a URL are refused, never used: a URL is printed by `validate` and written to
/// results.json and every report, and a secret in it would be too. Credentials belong in a
/// header whose value comes from the environment, which is never written anywhere.
fn refuse_userinfo(cx: &mut Ctx, key: &str) {
    cx.err(
        key,
        "the URL carries credentials (`user:password@`); URLs are printed and written to every \
         results file, so credentials are refused there (nothing was printed or sent)",
    )
    .hint(
        "remove `user:password@` from the URL and send the credentials as a header from the \
         environment: `headers: { Authorization: \"Basic ${STAGING_BASIC_AUTH}\" }`",
    );
}

/// `scheme://user:pass@host…` → `scheme://***@host…`, for error messages about a URL that did
/// not parse (a secret in it must not be echoed either).
pub fn redact_userinfo(raw: &str) -> String {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return raw.to_string();
    };
    let authority_end = raw[start..]
        .find(['/', '?', '#'])
        .map_or(raw.len(), |i| start + i);
    match raw[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &raw[..start], &raw[start + at..]),
        None => raw.to_string(),
    }
}

fn normalize_host(h: &str) -> String {
    h.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

fn check_host(cx: &mut Ctx, key: &str, u: &Url, allow: &[String]) {
    let Some(host) = u.host_str().map(normalize_host) else {
        return;
    };
    if !allow.contains(&host) {
        cx.err(key, format!("host `{host}` is not in target.allow_hosts, and load is only sent to hosts listed there"))
            .hint(format!("add `{host}` to target.allow_hosts"));
    }
}

/// A path relative to the region's base URL (`/x`), or an absolute URL with one of `schemes`
/// whose host is allowed.
pub(crate) fn check_path_or_url(cx: &mut Ctx, key: &str, s: &str, t: &Target, schemes: &[&str]) {
    if s.starts_with('/') {
        return;
    }
    let expected = format!("a path starting with `/` or a {} URL", schemes.join("/"));
    match Url::parse(s) {
        Ok(u) if has_userinfo(&u) => refuse_userinfo(cx, key),
        Ok(u) if schemes.contains(&u.scheme()) => check_host(cx, key, &u, &t.allow_hosts),
        _ => {
            cx.expected(key, expected, format!("{:?}", redact_userinfo(s)));
        }
    }
}

pub(crate) fn regions(cx: &mut Ctx, raw: Option<Vec<RegionFile>>, t: &Target) -> Vec<Region> {
    let Some(raw) = raw else {
        // One implicit region keeps "per region" reporting uniform for single-region tests.
        return vec![Region {
            name: "default".into(),
            share: 1.0,
            weight: 1.0,
            network: None,
            base_url: None,
            placement: None,
        }];
    };
    if raw.is_empty() {
        cx.err(
            "regions",
            "needs at least one region (or leave the key out for a single default region)",
        );
    }
    if raw.len() > MAX_REGIONS {
        // Checked before each region is, so a huge list costs one error, not one per item.
        cx.err(
            "regions",
            format!(
                "{} regions, more than the {} a scenario may have",
                raw.len(),
                MAX_REGIONS
            ),
        )
        .hint("merge regions that share a network profile: each region is a row in every table and chart");
        return Vec::new();
    }
    let mut out: Vec<Region> = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let key = format!("regions[{i}]");
        let name = r.name;
        if name.trim().is_empty() {
            cx.expected(&format!("{key}.name"), "a non-empty name", "\"\"");
        } else if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            // Region names become CSV fields and HdrHistogram log tags, which allow neither
            // spaces nor commas.
            cx.expected(
                &format!("{key}.name"),
                "letters, digits, `-`, `_` or `.` (like me-riyadh)",
                format!("{name:?}"),
            );
        } else if name == "all" || name == "overall" {
            cx.err(
                &format!("{key}.name"),
                format!("`{name}` is reserved for the all-regions rows"),
            )
            .hint("name the region after its place, like eu-frankfurt");
        }
        if out.iter().any(|o| o.name == name) {
            cx.err(
                &format!("{key}.name"),
                format!("duplicate region name `{name}`"),
            );
        }
        let weight = r.weight.unwrap_or(1.0);
        cx.number(&format!("{key}.weight"), weight, true);
        let mut network = r.network.and_then(|n| network(cx, &key, n));
        if let Some(o) = r.origin_rtt_ms {
            cx.number(&format!("{key}.origin_rtt_ms"), o, false);
            match &mut network {
                Some(p) if p.preset.is_none() && p.origin_rtt_ms != 0.0 => {
                    cx.err(
                        &format!("{key}.origin_rtt_ms"),
                        "also set in this region's network map",
                    )
                    .hint("set origin_rtt_ms in one place");
                }
                Some(p) => p.origin_rtt_ms = o,
                None => {
                    network = Some(NetworkProfile {
                        preset: None,
                        rtt_ms: 0.0,
                        jitter_ms: 0.0,
                        loss_pct: 0.0,
                        down_kbps: 0,
                        up_kbps: 0,
                        origin_rtt_ms: o,
                    })
                }
            }
        }
        let base_url = r.base_url.and_then(|b| {
            let k = format!("{key}.base_url");
            let u = base_url(cx, &k, &b)?;
            if let BaseUrl::Url(url) = &u {
                check_host(cx, &k, url, &t.allow_hosts);
            }
            Some(u)
        });
        let placement = r.placement.map(|p| placement(cx, &key, p));
        out.push(Region {
            name,
            share: 0.0,
            weight,
            network,
            base_url,
            placement,
        });
    }
    let total: f64 = out
        .iter()
        .map(|r| r.weight)
        .filter(|w| w.is_finite() && *w > 0.0)
        .sum();
    if total > 0.0 {
        for r in &mut out {
            r.share = r.weight / total;
        }
    }
    out
}

fn network(cx: &mut Ctx, region: &str, n: NetworkFile) -> Option<NetworkProfile> {
    let key = format!("{region}.network");
    match n {
        NetworkFile::Preset(name) => {
            let found = preset(&name);
            if found.is_none() {
                let names: Vec<String> = preset_names().into_iter().map(String::from).collect();
                let list = names.join(", ");
                let hint = match nearest(&name, &names) {
                    Some(n) => format!("did you mean `{n}`? presets: {list}"),
                    None => {
                        format!("presets: {list}, or a map like {{ rtt_ms: 90, down_kbps: 12000 }}")
                    }
                };
                cx.err(&key, format!("unknown network preset `{name}`"))
                    .hint(hint);
            }
            found
        }
        NetworkFile::Explicit(m) => {
            let mut num = |field: &str, v: Option<f64>| {
                cx.number(&format!("{key}.{field}"), v.unwrap_or(0.0), false)
            };
            let profile = NetworkProfile {
                preset: None,
                rtt_ms: num("rtt_ms", m.rtt_ms),
                jitter_ms: num("jitter_ms", m.jitter_ms),
                loss_pct: num("loss_pct", m.loss_pct),
                down_kbps: m.down_kbps.unwrap_or(0),
                up_kbps: m.up_kbps.unwrap_or(0),
                origin_rtt_ms: num("origin_rtt_ms", m.origin_rtt_ms),
            };
            if profile.loss_pct > 100.0 {
                cx.expected(
                    &format!("{key}.loss_pct"),
                    "a percentage between 0 and 100",
                    profile.loss_pct.to_string(),
                );
            }
            Some(profile)
        }
    }
}

/// `127.0.0.2`, `127.0.0.2-127.0.0.40` (inclusive) or `127.0.0.0/28` → addresses. For IPv4
/// prefixes of /30 and wider the network and broadcast addresses are left out: they cannot be
/// bound as sources. The error is what we expected, for `ScenarioError::expected`.
pub(crate) fn parse_addrs(s: &str) -> Result<Vec<IpAddr>, String> {
    const EXPECTED: &str =
        "an IP address, a range like 127.0.0.2-127.0.0.40, or a CIDR block like 127.0.0.0/28";
    let s = s.trim();
    let err = || EXPECTED.to_string();
    if let Some((a, b)) = s.split_once('-') {
        let a: IpAddr = a.trim().parse().map_err(|_| err())?;
        let b: IpAddr = b.trim().parse().map_err(|_| err())?;
        let (lo, hi) = match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b))),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b)),
            _ => return Err(format!("{EXPECTED} (both ends of the same family)")),
        };
        if lo > hi {
            return Err(format!("{EXPECTED} (low end first)"));
        }
        return expand(a.is_ipv4(), lo, hi);
    }
    if let Some((ip, bits)) = s.split_once('/') {
        let ip: IpAddr = ip.trim().parse().map_err(|_| err())?;
        let bits: u32 = bits.trim().parse().map_err(|_| err())?;
        let width = if ip.is_ipv4() { 32 } else { 128 };
        if bits > width {
            return Err(err());
        }
        let raw = match ip {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        let host_bits = width - bits;
        let size = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let lo = raw & !size;
        let hi = lo | size;
        if ip.is_ipv4() && host_bits >= 2 {
            return expand(true, lo + 1, hi - 1);
        }
        return expand(ip.is_ipv4(), lo, hi);
    }
    s.parse::<IpAddr>().map(|a| vec![a]).map_err(|_| err())
}

fn expand(v4: bool, lo: u128, hi: u128) -> Result<Vec<IpAddr>, String> {
    if hi - lo >= MAX_SOURCE_ADDRS as u128 {
        return Err(format!("at most {MAX_SOURCE_ADDRS} source addresses"));
    }
    Ok((lo..=hi)
        .map(|n| {
            if v4 {
                IpAddr::V4((n as u32).into())
            } else {
                IpAddr::V6(n.into())
            }
        })
        .collect())
}

fn placement(cx: &mut Ctx, key: &str, p: super::file::PlacementFile) -> super::model::Placement {
    if p.shards == Some(0) {
        cx.expected(
            &format!("{key}.placement.shards"),
            "at least 1 generator pod",
            "0",
        );
    }
    let tolerations = p
        .tolerations
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let k = format!("{key}.placement.tolerations[{i}]");
            let operator = t.operator.unwrap_or_else(|| "Equal".into());
            if operator != "Equal" && operator != "Exists" {
                cx.expected(
                    &format!("{k}.operator"),
                    "Equal or Exists",
                    format!("{operator:?}"),
                );
            }
            if let Some(e) = &t.effect {
                if !matches!(e.as_str(), "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
                    cx.expected(
                        &format!("{k}.effect"),
                        "NoSchedule, PreferNoSchedule or NoExecute",
                        format!("{e:?}"),
                    );
                }
            }
            super::model::Toleration {
                key: t.key,
                operator,
                value: t.value,
                effect: t.effect,
                toleration_seconds: t.toleration_seconds,
            }
        })
        .collect();
    super::model::Placement {
        node_selector: p.node_selector.unwrap_or_default(),
        tolerations,
        shards: p.shards,
        context: p.context,
        emulate_network: p.emulate_network.unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_addrs;
    use std::net::IpAddr;

    fn ips(s: &str) -> Vec<String> {
        parse_addrs(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .iter()
            .map(IpAddr::to_string)
            .collect()
    }

    #[test]
    fn source_addrs_single_range_and_cidr() {
        assert_eq!(ips("127.0.0.2"), ["127.0.0.2"]);
        let range = ips("127.0.0.2-127.0.0.40");
        assert_eq!(range.len(), 39);
        assert_eq!(
            (range[0].as_str(), range[38].as_str()),
            ("127.0.0.2", "127.0.0.40")
        );
        let cidr = ips("127.0.0.0/28");
        assert_eq!(cidr.len(), 14);
        assert_eq!(
            (cidr[0].as_str(), cidr[13].as_str()),
            ("127.0.0.1", "127.0.0.14")
        );
        assert_eq!(ips("10.0.0.7/32"), ["10.0.0.7"]);
        assert_eq!(ips("::1"), ["::1"]);
        assert_eq!(ips("fe80::1-fe80::3").len(), 3);
    }

    #[test]
    fn source_addrs_rejects_nonsense() {
        for bad in [
            "127.0.0.40-127.0.0.2",
            "127.0.0.1-::1",
            "10.0.0.0/33",
            "10.0.0.0/8",
            "nope",
            "1.2.3",
        ] {
            assert!(parse_addrs(bad).is_err(), "{bad}");
        }
    }
}
