//! `slo:` → pass/fail gates: known metric names, known stats, and thresholds in the right unit.
//!
//! Owns the rules for which metrics take a plain number (ratios) and which take a map of stats;
//! the names are the contract in design.md and `metrics::names`.

use super::ctx::Ctx;
use super::error::did_you_mean;
use super::file::{OrderedMap, SloValue};
use super::model::{Slo, SloGate};
use crate::metrics::{Metric, Stat, Unit, METRICS};

/// Metric names an SLO may gate on (design.md's list, kept in `metrics::names::METRICS`).
pub(crate) fn slo_metrics() -> Vec<String> {
    METRICS
        .iter()
        .filter(|i| i.gateable)
        .map(|i| i.name.to_string())
        .collect()
}

/// Gateable fractions: may be gated by a plain number.
fn is_ratio(metric: Metric) -> bool {
    metric.unit() == Unit::Ratio
}

pub(crate) fn slo(cx: &mut Ctx, map: OrderedMap<SloValue>) -> Slo {
    let mut gates = Vec::new();
    for (metric, value) in map.0 {
        let key = format!("slo.{metric}");
        let Some(gated) = Metric::from_name(&metric).filter(|m| m.info().gateable) else {
            let hint = did_you_mean(&metric, &slo_metrics(), "valid metrics");
            cx.err(&key, format!("unknown metric `{metric}`"))
                .hint(hint);
            continue;
        };
        let is_ratio = is_ratio(gated);
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
                    metric: gated,
                    stat: Stat::Value,
                    threshold: v,
                });
            }
            SloValue::Number(v) => {
                // The number is reused only when it would itself be accepted (`.inf` is not).
                let threshold = if v.is_finite() && v >= 0.0 {
                    v
                } else {
                    example_threshold(gated)
                };
                cx.expected(&key, "a map of stat to threshold", v.to_string())
                    .hint(format!("write `{metric}: {{ p95: {threshold} }}`"));
            }
            SloValue::Stats(_) if gated.is_computed() => {
                cx.expected(&key, "a fraction like 0.01", "a map")
                    .hint(format!(
                        "{metric} is one number per run: write `{metric}: 0.01`"
                    ));
            }
            SloValue::Stats(stats) => {
                if stats.0.is_empty() {
                    let example = example_threshold(gated);
                    cx.err(&key, "needs at least one stat")
                        .hint(format!("write `{metric}: {{ p95: {example} }}`"));
                }
                for (stat, threshold) in stats.0 {
                    let skey = format!("{key}.{stat}");
                    let Some(stat) = Stat::from_name(&stat).filter(|s| Stat::GATEABLE.contains(s))
                    else {
                        let valid: Vec<String> =
                            Stat::GATEABLE.map(|s| s.name().to_string()).into();
                        let hint = did_you_mean(&stat, &valid, "valid stats");
                        cx.err(&skey, format!("unknown stat `{stat}`")).hint(hint);
                        continue;
                    };
                    check_threshold(cx, &skey, threshold);
                    gates.push(SloGate {
                        metric: gated,
                        stat,
                        threshold,
                    });
                }
            }
        }
    }
    Slo { gates }
}

/// A threshold that reads as a plausible gate in the metric's unit, for suggestions that need
/// a number the user did not give.
fn example_threshold(metric: Metric) -> f64 {
    match metric.unit() {
        Unit::Millis => 1000.0,
        Unit::Count => 1.0,
        Unit::Ratio => 0.01,
    }
}
