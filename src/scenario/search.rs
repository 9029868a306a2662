//! `search:` → [`Search`]: the block `peakready capacity` reads. Checks that the levels fit the
//! scenario's own caps (a search must never ask for more than `load.max_viewers` or
//! `load.max_joins_per_sec`), that `precision` is a percentage, and that the gates judging a
//! step are gates the scenario has.

use std::time::Duration;

use super::ctx::Ctx;
use super::error::did_you_mean;
use super::file::{Dur, SearchFile};
use super::model::{Load, Search, SearchQuantity, Slo};

/// Written into every suggestion, so a fix can be pasted and parses.
pub const EXAMPLE: &str = "search: { quantity: concurrent_viewers, start: 50, max: 2000, step: 20s, precision: 5%, hold: 60s }";

pub(crate) fn search(cx: &mut Ctx, s: SearchFile, load: &Load, slo: &Slo) -> Search {
    let quantity = match s.quantity.as_deref() {
        None | Some("concurrent_viewers") => SearchQuantity::ConcurrentViewers,
        Some("joins_per_sec") => SearchQuantity::JoinsPerSec,
        Some(other) => {
            let valid = vec![
                "concurrent_viewers".to_string(),
                "joins_per_sec".to_string(),
            ];
            let hint = did_you_mean(other, &valid, "valid quantities");
            cx.expected(
                "search.quantity",
                "concurrent_viewers or joins_per_sec",
                format!("`{other}`"),
            )
            .hint(hint);
            SearchQuantity::ConcurrentViewers
        }
    };
    let whole = quantity == SearchQuantity::ConcurrentViewers;
    for (key, v) in [("search.start", s.start), ("search.max", s.max)] {
        if !(v.is_finite() && v > 0.0) {
            cx.expected(key, "a number greater than 0", v.to_string());
        } else if whole && v.fract() != 0.0 {
            cx.expected(key, "a whole number of viewers", v.to_string())
                .hint(format!(
                    "write `{}: {}`",
                    key.trim_start_matches("search."),
                    v.round().max(1.0)
                ));
        }
    }
    let (cap, cap_key) = match quantity {
        SearchQuantity::ConcurrentViewers => (load.max_viewers as f64, "load.max_viewers"),
        SearchQuantity::JoinsPerSec => (load.max_joins_per_sec, "load.max_joins_per_sec"),
    };
    if s.max < s.start {
        // Twice the start, but never above the cap, which would be refused in turn.
        let max = if cap > 0.0 {
            (s.start * 2.0).min(cap).max(s.start)
        } else {
            s.start * 2.0
        };
        cx.err("search.max", format!("is below search.start ({})", s.start))
            .hint(format!("write `max: {max}` or more"));
    }
    if cap > 0.0 && s.max > cap {
        cx.err(
            "search.max",
            format!(
                "{} {} is above {cap_key} ({cap}), the scenario's hard cap",
                s.max,
                quantity.unit()
            ),
        )
        .hint(format!(
            "write `max: {cap}`, or raise {cap_key} if this target may take it"
        ));
    }
    let dur = |cx: &mut Ctx, key: &str, d: Option<Dur>, default: u64, nonzero: bool| {
        let d = d.map_or(Duration::from_secs(default), |d| d.0);
        if nonzero {
            cx.nonzero_duration(key, d);
        }
        d
    };
    let ramp = dur(cx, "search.ramp", s.ramp, 10, true);
    let settle = dur(cx, "search.settle", s.settle, 5, false);
    let step = dur(cx, "search.step", s.step, 20, true);
    let cooldown = dur(cx, "search.cooldown", s.cooldown, 5, false);
    let hold = dur(cx, "search.hold", s.hold, 60, false);
    let precision = match &s.precision {
        None => 0.05,
        Some(v) => precision(cx, v),
    };
    let max_steps = s.max_steps.unwrap_or(20);
    if max_steps == 0 {
        cx.expected("search.max_steps", "at least 1", "0");
    }
    // A broken `slo:` entry has its own error; naming it here again would only be noise.
    let slo_broken = cx.errors.iter().any(|e| e.key.starts_with("slo"));
    let gates = match s.slo {
        None => slo.gates.clone(),
        Some(names) if slo_broken => slo
            .gates
            .iter()
            .filter(|g| names.iter().any(|n| n == g.metric.name()))
            .cloned()
            .collect(),
        Some(names) => {
            let known: Vec<String> = slo
                .gates
                .iter()
                .map(|g| g.metric.name().to_string())
                .collect();
            for (i, n) in names.iter().enumerate() {
                if !known.contains(n) {
                    let hint = if known.is_empty() {
                        "add the gate under `slo:` first (e.g. `error_rate: 0.01`)".to_string()
                    } else {
                        did_you_mean(n, &known, "the scenario's slo gates")
                    };
                    cx.err(
                        &format!("search.slo[{i}]"),
                        format!("`{n}` is not one of the scenario's slo gates"),
                    )
                    .hint(hint);
                }
            }
            let gates: Vec<_> = slo
                .gates
                .iter()
                .filter(|g| names.iter().any(|n| n == g.metric.name()))
                .cloned()
                .collect();
            if names.is_empty() {
                cx.err("search.slo", "names no gate: nothing would judge a step")
                    .hint("remove `slo` under search to judge steps on every slo gate, or list some like [error_rate]");
            }
            gates
        }
    };
    if slo.gates.is_empty() {
        cx.err(
            "search",
            "a capacity search needs SLO gates to judge each step, and `slo:` has none",
        )
        .hint("add e.g. `slo: { error_rate: 0.01 }` at the top level");
    }
    Search {
        quantity,
        start: s.start,
        max: s.max,
        ramp,
        settle,
        step,
        cooldown,
        precision,
        hold,
        gates,
        max_steps,
    }
}

/// `5%` → 0.05; a bare fraction (0.05) is accepted too. Between 0.1% and 50%.
fn precision(cx: &mut Ctx, v: &serde_yaml::Value) -> f64 {
    let parsed = match v {
        serde_yaml::Value::String(t) => t
            .trim()
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .map(|p| p / 100.0),
        serde_yaml::Value::Number(n) => n.as_f64().filter(|f| *f < 1.0),
        _ => None,
    };
    let found = match v {
        serde_yaml::Value::String(t) => format!("{t:?}"),
        serde_yaml::Value::Number(n) => n.to_string(),
        _ => "a non-number".into(),
    };
    match parsed {
        Some(p) if p.is_finite() && (0.001..=0.5).contains(&p) => p,
        Some(_) => {
            cx.expected(
                "search.precision",
                "a percentage between 0.1% and 50%",
                found,
            )
            .hint("write `precision: 5%`");
            0.05
        }
        None => {
            let hint = match v.as_f64() {
                // `precision: 5` meant 5%; only offered when that is itself in range.
                Some(n) if (1.0..=50.0).contains(&n) => format!("write `precision: {n}%`"),
                _ => "write `precision: 5%`".to_string(),
            };
            cx.expected("search.precision", "a percentage like 5%", found)
                .hint(hint);
            0.05
        }
    }
}
