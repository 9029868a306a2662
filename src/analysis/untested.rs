//! What a run did not exercise, in words: a readiness report is only as good as what it says it
//! did not test.

use crate::metrics::{Metric, RunResult};
use crate::scenario::WatchProtocol;

use crate::format;

fn measured(r: &RunResult, metric: Metric) -> bool {
    r.overall.measured(metric)
}

pub fn list(r: &RunResult, has_series: bool) -> Vec<String> {
    let s = r.scenario.resolved.as_ref();
    let mut out = Vec::new();
    if r.scenario.scale < 1.0 {
        let forecast = s
            .and_then(|s| s.event.as_ref())
            .and_then(|e| e.expected_peak_viewers)
            .map(|v| v as f64);
        out.push(match forecast {
            Some(f) => format!(
                "the full scale: this was a {} rehearsal; the event's {} concurrent viewers were not generated",
                format::pct(r.scenario.scale),
                format::num(f)
            ),
            None => format!("the full scale: this was a {} rehearsal", format::pct(r.scenario.scale)),
        });
    }
    if s.is_some_and(|s| s.viewer.watch.protocol == WatchProtocol::None) {
        out.push("video delivery (viewer.watch.protocol is `none`)".into());
    }
    if s.map_or(true, |s| s.viewer.chat.is_none()) {
        out.push("chat, gifts and likes (no `viewer.chat`)".into());
    } else if !measured(r, Metric::ChatConnectMs) && !measured(r, Metric::ChatDeliveryMs) {
        out.push("chat: `viewer.chat` is configured but no chat sample was measured".into());
    }
    if s.map_or(true, |s| s.publishers.is_none()) {
        out.push("stream ingest by publishers (no `publishers`)".into());
    } else if !measured(r, Metric::PublishConnectMs) {
        out.push("stream ingest: `publishers` is configured but nothing was measured".into());
    }
    if r.scenario.target.starts_with("http://") && !measured(r, Metric::TlsMs) {
        out.push(format!(
            "TLS handshakes and certificates (the target {} is plain http)",
            r.scenario.target
        ));
    }
    let no_network: Vec<String> = s
        .iter()
        .flat_map(|s| &s.regions)
        .filter(|x| x.network.is_none())
        .map(|x| x.name.clone())
        .collect();
    if !no_network.is_empty() {
        out.push(format!(
            "regional networks (latency, loss, bandwidth) for {}: no `network` profile, so their viewers saw this machine's network",
            no_network.join(", ")
        ));
    }
    let host = url::Url::parse(&r.scenario.target)
        .ok()
        .and_then(|u| u.host_str().map(String::from))
        .unwrap_or_default();
    if host == "127.0.0.1" || host == "localhost" || host == "::1" {
        out.push("a real edge, CDN and load balancer path: the target was on loopback".into());
    } else if host.parse::<std::net::IpAddr>().is_ok() && !measured(r, Metric::DnsMs) {
        out.push("DNS resolution (the target is an IP address)".into());
    }
    for g in &r.scenario.slo {
        if g.metric != Metric::ErrorRate && !measured(r, g.metric) {
            out.push(format!("{}: gated but never measured", g.metric));
        }
    }
    if !has_series {
        out.push(
            "capacity per second: timeseries.csv is missing from the results directory".into(),
        );
    }
    out
}
