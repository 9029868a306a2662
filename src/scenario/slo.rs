//! `slo:` → pass/fail gates: known metric names, known stats, and thresholds in the right unit.
//!
//! Owns the rules for which metrics take a plain number (ratios) and which take a map of stats;
//! the names are the contract in design.md and `metrics::names`.

use super::error::did_you_mean;
use super::file::{OrderedMap, SloValue};
use super::model::{Slo, SloGate};
use super::resolve::Ctx;

/// Metric names an SLO may gate on (design.md's list; `error_rate` is computed, not recorded).
pub(crate) const SLO_METRICS: [&str; 14] = [
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "ttfb_ms",
    "join_ms",
    "first_frame_ms",
    "segment_ms",
    "playlist_ms",
    "stall_count",
    "stall_ratio",
    "chat_connect_ms",
    "chat_delivery_ms",
    "publish_connect_ms",
    "error_rate",
];
const SLO_STATS: [&str; 7] = ["p50", "p90", "p95", "p99", "p99.9", "max", "mean"];
/// Metrics that are fractions and may be gated by a plain number.
const RATIOS: [&str; 2] = ["stall_ratio", "error_rate"];

pub(crate) fn slo(cx: &mut Ctx, map: OrderedMap<SloValue>) -> Slo {
    let mut gates = Vec::new();
    for (metric, value) in map.0 {
        let key = format!("slo.{metric}");
        if !SLO_METRICS.contains(&metric.as_str()) {
            let valid: Vec<String> = SLO_METRICS.map(String::from).into();
            let hint = did_you_mean(&metric, &valid, "valid metrics");
            cx.err(&key, format!("unknown metric `{metric}`"))
                .hint(hint);
            continue;
        }
        let is_ratio = RATIOS.contains(&metric.as_str());
        let check_threshold = |cx: &mut Ctx, key: &str, v: f64| {
            if is_ratio && !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                cx.expected(key, "a fraction between 0 and 1, like 0.02", v.to_string());
            } else {
                cx.number(key, v, false);
            }
        };
        match value {
            SloValue::Number(v) if is_ratio => {
                check_threshold(cx, &key, v);
                gates.push(SloGate {
                    metric,
                    stat: "value".into(),
                    threshold: v,
                });
            }
            SloValue::Number(v) => {
                cx.expected(&key, "a map of stat to threshold", v.to_string())
                    .hint(format!("write `{metric}: {{ p95: {v} }}`"));
            }
            SloValue::Stats(_) if metric == "error_rate" => {
                cx.expected(&key, "a fraction like 0.01", "a map")
                    .hint("error_rate is one number per run: write `error_rate: 0.01`");
            }
            SloValue::Stats(stats) => {
                if stats.0.is_empty() {
                    cx.err(&key, "needs at least one stat")
                        .hint(format!("write `{metric}: {{ p95: … }}`"));
                }
                for (stat, threshold) in stats.0 {
                    let skey = format!("{key}.{stat}");
                    if !SLO_STATS.contains(&stat.as_str()) {
                        let valid: Vec<String> = SLO_STATS.map(String::from).into();
                        let hint = did_you_mean(&stat, &valid, "valid stats");
                        cx.err(&skey, format!("unknown stat `{stat}`")).hint(hint);
                        continue;
                    }
                    check_threshold(cx, &skey, threshold);
                    gates.push(SloGate {
                        metric: metric.clone(),
                        stat,
                        threshold,
                    });
                }
            }
        }
    }
    Slo { gates }
}
