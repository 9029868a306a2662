//! `load:` resolved: scale, caps, phases (durations, rates, ramps, spikes), the end of the plan,
//! and the caps on a plan's shape, each refused with a suggested value.

use crate::scenario::ctx::Ctx;
use crate::scenario::file;
use crate::scenario::model::*;

/// Caps on a plan's shape, documented in docs/scenario-reference.yaml. Past them a plan is a
/// mistake more often than a rehearsal, and they bound what checking and describing a plan
/// costs (`validate`, the preflight checks, every report's plan table). `MAX_REGIONS` is in
/// `target.rs`.
/// The longest plan (the phases' durations added up): a day. A longer soak is several runs.
pub const MAX_PLAN: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// The most phases in `load.phases`: a ramp is one phase (`ramp_to`), not one per step.
pub const MAX_PHASES: usize = 100;

pub(super) fn load(cx: &mut Ctx, l: file::LoadFile) -> Load {
    let scale = l.scale.unwrap_or(1.0);
    if !(scale.is_finite() && scale > 0.0 && scale <= 1e6) {
        cx.expected(
            "load.scale",
            "a fraction of the event in (0, 1000000], like 0.01",
            scale.to_string(),
        );
    }
    if l.phases.is_empty() {
        cx.err("load.phases", "needs at least one phase")
            .hint("add `- { name: steady, duration: 1m, joins_per_sec: 10 }`");
    }
    let mut raw_phases = l.phases;
    if raw_phases.len() > MAX_PHASES {
        // One error for the list, not one per phase: 100,000 phases cost one line to refuse.
        cx.err(
            "load.phases",
            format!(
                "{} phases, more than the {MAX_PHASES} a plan may have",
                raw_phases.len()
            ),
        )
        .hint("merge neighbouring phases (one phase with `ramp_to` is a rising rate), or split the rehearsal into several scenario files");
        raw_phases.clear();
    }
    let mut phases: Vec<Phase> = Vec::new();
    for (i, p) in raw_phases.into_iter().enumerate() {
        let key = format!("load.phases[{i}]");
        let name = p.name.unwrap_or_else(|| format!("phase-{}", i + 1));
        if name.contains([',', '"', '\n', '\r']) {
            // Phase names are a column of timeseries.csv, written unquoted.
            cx.expected(
                &format!("{key}.name"),
                "a name without commas, quotes or line breaks (like opening-spike)",
                format!("{name:?}"),
            );
        }
        if phases.iter().any(|q| q.name == name) {
            cx.err(
                &format!("{key}.name"),
                format!("duplicate phase name `{name}`"),
            )
            .hint("give every phase its own name; reports use them as labels");
        }
        cx.nonzero_duration(&format!("{key}.duration"), p.duration.0);
        cx.number(&format!("{key}.joins_per_sec"), p.joins_per_sec, false);
        if let Some(r) = p.ramp_to {
            cx.number(&format!("{key}.ramp_to"), r, false);
        }
        phases.push(Phase {
            name,
            duration: p.duration.0,
            joins_per_sec: p.joins_per_sec,
            ramp_to: p.ramp_to,
        });
    }
    plan_length(cx, &phases);
    let peak = phases
        .iter()
        .map(|p| p.joins_per_sec.max(p.ramp_to.unwrap_or(0.0)))
        .fold(0.0, f64::max);
    let arrivals: f64 = phases
        .iter()
        .map(|p| {
            (p.joins_per_sec + p.ramp_to.unwrap_or(p.joins_per_sec)) / 2.0
                * p.duration.as_secs_f64()
        })
        .sum();
    let max_viewers = match l.max_viewers {
        Some(0) => {
            cx.expected("load.max_viewers", "at least 1", "0");
            0
        }
        Some(v) => v,
        None => {
            let n = round_up_nice(arrivals);
            cx.err(
                "load",
                "`max_viewers` is required: it is the hard cap on concurrent simulated viewers",
            )
            .hint(format!(
                "add `max_viewers: {n}` (the phases start about {} viewers in all)",
                arrivals.ceil()
            ));
            0
        }
    };
    let max_joins_per_sec = match l.max_joins_per_sec {
        Some(v) => cx.number("load.max_joins_per_sec", v, true),
        None => {
            let n = round_up_nice(peak);
            cx.err(
                "load",
                "`max_joins_per_sec` is required: it is the hard cap on the arrival rate",
            )
            .hint(format!(
                "add `max_joins_per_sec: {n}` (the phases peak at {peak}/s)"
            ));
            0.0
        }
    };
    let abort_when = l.abort_when.map(|a| {
        if !(a.error_rate.is_finite() && a.error_rate > 0.0 && a.error_rate <= 1.0) {
            cx.expected(
                "load.abort_when.error_rate",
                "a fraction in (0, 1], like 0.5",
                a.error_rate.to_string(),
            );
        }
        AbortWhen {
            error_rate: a.error_rate,
            // Without a grace period the first failed request of the run would abort it.
            after: a
                .after
                .map(|d| d.0)
                .unwrap_or(std::time::Duration::from_secs(10)),
        }
    });
    let within = l
        .end_within
        .map(|d| d.0)
        .unwrap_or(std::time::Duration::from_secs(60));
    let end = match l.end {
        Some(file::EndFile::FinishWatching) => End::FinishWatching { within },
        Some(file::EndFile::Cut) | None => {
            if l.end_within.is_some() {
                cx.err("load.end_within", "only applies to `end: finish-watching`")
                    .hint("add `end: finish-watching`, or remove end_within");
            }
            End::Cut
        }
    };
    Load {
        scale,
        max_viewers,
        max_joins_per_sec,
        phases,
        abort_when,
        end,
    }
}

/// The phases together may last at most [`MAX_PLAN`]; the suggestion shortens the longest one
/// by the excess when that leaves it a duration, else says to split the plan.
fn plan_length(cx: &mut Ctx, phases: &[Phase]) {
    use crate::scenario::duration::format_duration;
    let total = phases.iter().fold(std::time::Duration::ZERO, |a, p| {
        a.saturating_add(p.duration)
    });
    if total <= MAX_PLAN {
        return;
    }
    let Some((i, longest)) = phases.iter().enumerate().max_by_key(|(_, p)| p.duration) else {
        return;
    };
    let excess = total - MAX_PLAN;
    let key = format!("load.phases[{i}].duration");
    let problem = format!(
        "the phases last {} in all, more than the {} a plan may last",
        format_duration(total),
        format_duration(MAX_PLAN)
    );
    let hint = match longest
        .duration
        .checked_sub(excess)
        .filter(|d| !d.is_zero())
    {
        // Whole minutes read as a decision, and round down so the total fits.
        Some(d) => format!(
            "write `duration: {}` here, or split the rehearsal into runs of at most {}",
            format_duration(
                std::time::Duration::from_secs(d.as_secs() / 60 * 60)
                    .max(std::time::Duration::from_secs(1))
            ),
            format_duration(MAX_PLAN)
        ),
        None => format!(
            "split the rehearsal into runs of at most {} (a longer soak is several runs)",
            format_duration(MAX_PLAN)
        ),
    };
    cx.err(&key, problem).hint(hint);
}

/// 1, 2, 5 × 10^n at or above `x` (at least 1): a cap that reads as a decision, not a sum.
fn round_up_nice(x: f64) -> u64 {
    let x = x.max(1.0);
    let mut base = 1.0;
    loop {
        for m in [1.0, 2.0, 5.0] {
            if m * base >= x {
                return (m * base) as u64;
            }
        }
        base *= 10.0;
    }
}

#[cfg(test)]
mod tests {
    use super::round_up_nice;

    #[test]
    fn caps_round_up_to_readable_numbers() {
        assert_eq!(round_up_nice(0.0), 1);
        assert_eq!(round_up_nice(1800.0), 2000);
        assert_eq!(round_up_nice(2000.0), 2000);
        assert_eq!(round_up_nice(2001.0), 5000);
        assert_eq!(round_up_nice(51_000.0), 100_000);
    }
}
