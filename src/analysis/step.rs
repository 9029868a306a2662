//! Judging one capacity-search step on its own window, never on the whole run.
//!
//! A step's results directory holds the usual per-second files. The window's numbers are
//! rebuilt from them exactly: the `histograms.hlog` intervals of the window's seconds are added
//! (percentiles of the window, never averaged) and the `timeseries.csv` counters summed (error
//! rate = failed ÷ attempted requests of the window), per region and overall. The gates are then
//! evaluated by `slo::measured`, the same rule as a run's.
//!
//! Before any gate, the generator is checked: a step whose viewers were not started on time
//! (achieved ÷ intended arrivals below [`MIN_SEND_RATIO`], or generator lag p99 above the run's
//! late threshold) is *generator-limited*: the level was never offered to the target, so the
//! step says nothing about it.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::Histogram;

use crate::metrics::result::{decode_histogram, new_histogram, summarize_all};
use crate::metrics::search::{StepGate, StepVerdict};
use crate::metrics::{Breakdown, Metric, Stat};
use crate::scenario::{SearchQuantity, SloGate};

use crate::format::num;

/// Below this share of the intended arrivals, the generator did not offer the level.
pub const MIN_SEND_RATIO: f64 = 0.95;

pub use crate::metrics::generator::MIN_LATE;

/// Metrics timed from a viewer's intended start (coordinated omission): generator lag is part
/// of them.
const TIMED_FROM_INTENT: [&str; 2] = ["join_ms", "first_frame_ms"];

/// The window's (and the whole step's) numbers, per region and overall.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Regions in scenario order, then `overall`.
    pub window: Vec<Breakdown>,
    /// The same from the step's start to the window's end (join-time metrics of a
    /// concurrent-viewer step, whose viewers all joined before the window).
    pub step: Vec<Breakdown>,
    /// Fewest viewers watching in any second of the window, same order.
    pub min_active: Vec<u64>,
    /// Arrivals started before the window ended (all regions).
    pub arrivals: u64,
    /// Arrivals started before the window opened (all regions).
    pub arrivals_before_window: u64,
}

/// Rebuild a step's window `[from_s, to_s)` from its results directory.
pub fn read_window(
    dir: &Path,
    regions: &[String],
    from_s: u64,
    to_s: u64,
) -> Result<Window, String> {
    let series = super::series::read(&dir.join("timeseries.csv"))?;
    let log_path = dir.join("histograms.hlog");
    let log =
        std::fs::read(&log_path).map_err(|e| format!("reading {}: {e}", log_path.display()))?;
    let scopes = regions.len() + 1;
    type Hists = Vec<BTreeMap<Metric, Histogram<u64>>>;
    let (mut win_h, mut step_h): (Hists, Hists) =
        (vec![BTreeMap::new(); scopes], vec![BTreeMap::new(); scopes]);
    for entry in IntervalLogIterator::new(&log) {
        let Ok(LogEntry::Interval(i)) = entry else {
            continue;
        };
        let second = i.start_timestamp().as_secs_f64().round() as u64;
        if second >= to_s {
            continue;
        }
        let tag = i.tag().map(|t| t.as_str()).unwrap_or_default();
        let Some((region, metric)) = tag.rsplit_once('/') else {
            continue;
        };
        let (Some(r), Some(m)) = (
            regions.iter().position(|x| x == region),
            Metric::from_name(metric),
        ) else {
            continue;
        };
        let h = decode_histogram(i.encoded_histogram())
            .map_err(|e| format!("{}: second {second}, {tag}: {e}", log_path.display()))?;
        let add = |into: &mut Hists| -> Result<(), String> {
            for scope in [r, regions.len()] {
                let acc = match into[scope].entry(m) {
                    std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(new_histogram().map_err(|e| e.to_string())?)
                    }
                };
                acc.add(&h)
                    .map_err(|e| format!("adding histograms: {e:?}"))?;
            }
            Ok(())
        };
        add(&mut step_h)?;
        if second >= from_s {
            add(&mut win_h)?;
        }
    }
    let name = |i: usize| regions.get(i).cloned().unwrap_or_else(|| "overall".into());
    let csv_name = |i: usize| regions.get(i).cloned().unwrap_or_else(|| "all".into());
    let mut out = Window::default();
    for i in 0..scopes {
        let rows = series.region(&csv_name(i));
        let counts = |from: u64| {
            rows.iter()
                .filter(|r| r.second >= from && r.second < to_s)
                .fold((0u64, 0u64), |(q, e), r| (q + r.requests, e + r.errors))
        };
        let build = |(requests, errors): (u64, u64),
                     hists: &BTreeMap<Metric, Histogram<u64>>|
         -> Result<Breakdown, String> {
            Ok(Breakdown {
                name: name(i),
                requests,
                error_rate: if requests == 0 {
                    0.0
                } else {
                    errors as f64 / requests as f64
                },
                metrics: summarize_all(hists)?,
                ..Breakdown::default()
            })
        };
        out.window.push(build(counts(from_s), &win_h[i])?);
        out.step.push(build(counts(0), &step_h[i])?);
        let in_window: Vec<u64> = rows
            .iter()
            .filter(|r| r.second >= from_s && r.second < to_s)
            .map(|r| r.active_viewers)
            .collect();
        // A window with no row at all had nobody watching.
        out.min_active
            .push(in_window.iter().copied().min().unwrap_or(0));
        if i == regions.len() {
            out.arrivals = rows
                .iter()
                .filter(|r| r.second < to_s)
                .map(|r| r.arrivals)
                .sum();
            out.arrivals_before_window = rows
                .iter()
                .filter(|r| r.second < from_s)
                .map(|r| r.arrivals)
                .sum();
        }
    }
    Ok(out)
}

/// What a step needs besides its window.
pub struct StepInput<'a> {
    pub quantity: SearchQuantity,
    pub level: f64,
    /// Regions' shares of the level, scenario order.
    pub shares: &'a [f64],
    pub gates: &'a [SloGate],
    pub intended_arrivals: f64,
    pub lag_p99_ms: f64,
    pub late_threshold_ms: f64,
    /// Viewers started later than `late_threshold_ms`.
    pub late_arrivals: u64,
}

/// The generator check, then every gate in every scope. Returns the verdict, the gates and the
/// reason in words (the first failure with its value, or the generator's shortfall).
pub fn judge(w: &Window, input: &StepInput) -> (StepVerdict, Vec<StepGate>, String) {
    let ratio = if input.intended_arrivals > 0.0 {
        w.arrivals as f64 / input.intended_arrivals
    } else {
        1.0
    };
    let lag = format!(
        "{} late, lag p99 {}",
        num(input.late_arrivals as f64),
        crate::format::ms(input.lag_p99_ms)
    );
    // A concurrent-viewer level is offered only if all its viewers had started when the window
    // opened; a join rate, if at least MIN_SEND_RATIO of its arrivals were started by the end.
    let offered = match input.quantity {
        SearchQuantity::ConcurrentViewers => (w.arrivals_before_window as f64
            >= input.intended_arrivals)
            .then_some(())
            .ok_or_else(|| {
                format!(
                    "the generator had started {} of the {} viewers when the window opened ({lag})",
                    num(w.arrivals_before_window as f64),
                    num(input.intended_arrivals)
                )
            }),
        SearchQuantity::JoinsPerSec => (ratio >= MIN_SEND_RATIO).then_some(()).ok_or_else(|| {
            format!(
                "the generator started {} of {} intended arrivals ({}, at least {} needed; {lag})",
                num(w.arrivals as f64),
                num(input.intended_arrivals),
                crate::format::pct(ratio),
                crate::format::pct(MIN_SEND_RATIO),
            )
        }),
    };
    if let Err(reason) = offered {
        return (StepVerdict::GeneratorLimited, Vec::new(), reason);
    }
    let mut gates = Vec::new();
    let scopes = w.window.len();
    for i in 0..scopes {
        let (win, step) = (&w.window[i], &w.step[i]);
        if input.quantity == SearchQuantity::ConcurrentViewers {
            // Every viewer of the level must still be watching: one who could not is a failure.
            let share = input.shares.get(i).copied().unwrap_or(1.0);
            let expected = if i + 1 == scopes {
                input.level
            } else {
                (input.level * share).floor()
            };
            let measured = w.min_active[i] as f64;
            gates.push(StepGate {
                scope: win.name.clone(),
                metric: "viewers_held".into(),
                stat: "min".into(),
                threshold: expected,
                measured: Some(measured),
                passed: measured >= expected,
                over: "window".into(),
            });
        }
        for g in input.gates {
            let in_window = super::slo::measured(win, g);
            let (value, over) = match in_window {
                None if input.quantity == SearchQuantity::ConcurrentViewers => {
                    (super::slo::measured(step, g), "step")
                }
                v => (v, "window"),
            };
            gates.push(StepGate {
                scope: win.name.clone(),
                metric: g.metric.name().to_string(),
                stat: g.stat.name().to_string(),
                threshold: g.threshold,
                measured: value,
                passed: value.is_some_and(|v| v <= g.threshold),
                over: over.into(),
            });
        }
    }
    let reason = match gates.iter().find(|g| !g.passed) {
        None => "every gate held in the window".to_string(),
        Some(f) => gate_failure_words(f),
    };
    // Lag only adds to latencies timed from the intended instant, so a pass despite it stands
    // and a failed error or viewer gate is the target's. A step that failed only on such a
    // latency while the generator was late cannot be told apart: not judged.
    let lagging = input.lag_p99_ms > input.late_threshold_ms && input.late_arrivals >= MIN_LATE;
    let failed: Vec<&StepGate> = gates.iter().filter(|g| !g.passed).collect();
    if lagging
        && !failed.is_empty()
        && failed
            .iter()
            .all(|g| TIMED_FROM_INTENT.contains(&g.metric.as_str()))
    {
        let reason = format!(
            "{reason}, but the generator started viewers late ({lag}), which that time includes"
        );
        return (StepVerdict::GeneratorLimited, gates, reason);
    }
    let verdict = if gates.iter().all(|g| g.passed) {
        StepVerdict::Pass
    } else {
        StepVerdict::Fail
    };
    (verdict, gates, reason)
}

/// "sea: error_rate ≤ 1% broke (12.5%)", "overall: only 19 of 21 viewers were watching".
pub fn gate_failure_words(g: &StepGate) -> String {
    if g.metric == "viewers_held" {
        return format!(
            "{}: only {} of {} viewers were still watching",
            g.scope,
            num(g.measured.unwrap_or(0.0)),
            num(g.threshold)
        );
    }
    let (Some(metric), Some(stat)) = (Metric::from_name(&g.metric), Stat::from_name(&g.stat))
    else {
        return format!("{}: {} {} broke", g.scope, g.metric, g.stat);
    };
    let value = g
        .measured
        .map(|v| crate::format::value(metric, v))
        .unwrap_or_else(|| "no samples".into());
    let over = if g.over == "step" {
        ", over the step's joins"
    } else {
        ""
    };
    format!(
        "{}: {} broke ({value}{over})",
        g.scope,
        crate::format::gate(metric, stat, g.threshold)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::result::{new_histogram, record_value, summarize};

    fn gate(metric: &str, stat: &str, threshold: f64) -> SloGate {
        SloGate {
            metric: Metric::from_name(metric).expect("a metric"),
            stat: Stat::from_name(stat).expect("a stat"),
            threshold,
        }
    }

    fn scope(name: &str, requests: u64, error_rate: f64, join_p95_ms: Option<f64>) -> Breakdown {
        let mut b = Breakdown {
            name: name.into(),
            requests,
            error_rate,
            ..Breakdown::default()
        };
        if let Some(ms) = join_p95_ms {
            let mut h = new_histogram().expect("histogram");
            record_value(&mut h, (ms * 1000.0) as u64);
            b.metrics.insert(
                Metric::JoinMs,
                summarize(Metric::JoinMs, &h).expect("summary"),
            );
        }
        b
    }

    fn input<'a>(q: SearchQuantity, level: f64, gates: &'a [SloGate]) -> StepInput<'a> {
        StepInput {
            quantity: q,
            level,
            shares: &[0.5, 0.5],
            gates,
            intended_arrivals: level,
            lag_p99_ms: 2.0,
            late_threshold_ms: 50.0,
            late_arrivals: 0,
        }
    }

    fn window(
        active: [u64; 3],
        window: [Breakdown; 3],
        step: [Breakdown; 3],
        arrivals: u64,
    ) -> Window {
        Window {
            window: window.into(),
            step: step.into(),
            min_active: active.into(),
            arrivals,
            arrivals_before_window: arrivals,
        }
    }

    #[test]
    fn a_region_that_lost_viewers_fails_the_step_and_is_named() {
        let gates = [gate("error_rate", "value", 0.01)];
        let ok = || {
            [
                scope("eu", 100, 0.0, None),
                scope("sea", 100, 0.0, None),
                scope("overall", 200, 0.0, None),
            ]
        };
        let w = window([10, 9, 19], ok(), ok(), 20);
        let (v, g, reason) = judge(&w, &input(SearchQuantity::ConcurrentViewers, 20.0, &gates));
        assert_eq!(v, StepVerdict::Fail);
        assert_eq!(reason, "sea: only 9 of 10 viewers were still watching");
        assert!(g.iter().any(|x| x.scope == "overall" && !x.passed));
    }

    #[test]
    fn join_time_gates_of_a_concurrent_step_fall_back_to_the_steps_joins() {
        let gates = [gate("join_ms", "p95", 500.0)];
        let window_part = || {
            [
                scope("eu", 50, 0.0, None),
                scope("sea", 50, 0.0, None),
                scope("overall", 100, 0.0, None),
            ]
        };
        let step_part = [
            scope("eu", 60, 0.0, Some(900.0)),
            scope("sea", 60, 0.0, Some(100.0)),
            scope("overall", 120, 0.0, Some(900.0)),
        ];
        let w = window([10, 10, 20], window_part(), step_part, 20);
        let (v, g, reason) = judge(&w, &input(SearchQuantity::ConcurrentViewers, 20.0, &gates));
        assert_eq!(v, StepVerdict::Fail);
        let eu = g
            .iter()
            .find(|x| x.scope == "eu" && x.metric == "join_ms")
            .expect("eu gate");
        assert_eq!((eu.over.as_str(), eu.passed), ("step", false));
        assert!(reason.starts_with("eu: join_ms"), "{reason}");
        assert!(reason.ends_with("over the step's joins)"), "{reason}");
        // A join-rate step has joins in its window: no fallback, and no samples fails.
        let (v, g, _) = judge(&w, &input(SearchQuantity::JoinsPerSec, 20.0, &gates));
        assert_eq!(v, StepVerdict::Fail);
        assert!(g.iter().all(|x| x.over == "window" && x.measured.is_none()));
    }

    #[test]
    fn a_generator_that_fell_behind_is_not_a_target_failure() {
        let gates = [gate("error_rate", "value", 0.01)];
        let bad = || {
            [
                scope("eu", 100, 0.5, None),
                scope("sea", 100, 0.5, None),
                scope("overall", 200, 0.5, None),
            ]
        };
        let w = window([10, 10, 20], bad(), bad(), 15);
        let (v, g, reason) = judge(&w, &input(SearchQuantity::JoinsPerSec, 20.0, &gates));
        assert_eq!(v, StepVerdict::GeneratorLimited);
        assert!(g.is_empty());
        assert!(
            reason.contains("15 of 20 intended arrivals (75%, at least 95% needed"),
            "{reason}"
        );
        // Late starts do not cause errors: a failed error gate is the target's, lag or not.
        let mut slow = input(SearchQuantity::JoinsPerSec, 20.0, &gates);
        slow.lag_p99_ms = 80.0;
        slow.late_arrivals = 3;
        let w = window([10, 10, 20], bad(), bad(), 20);
        assert_eq!(judge(&w, &slow).0, StepVerdict::Fail);
        // A concurrent level whose viewers had not all started when the window opened was
        // never offered.
        let mut late = window([10, 10, 20], bad(), bad(), 20);
        late.arrivals_before_window = 19;
        let (v, _, reason) = judge(
            &late,
            &input(SearchQuantity::ConcurrentViewers, 20.0, &gates),
        );
        assert_eq!(v, StepVerdict::GeneratorLimited);
        assert!(reason.contains("19 of the 20 viewers"), "{reason}");
    }

    #[test]
    fn lag_makes_only_a_latency_failure_ambiguous() {
        let gates = [gate("join_ms", "p95", 500.0)];
        let slow_joins = || {
            [
                scope("eu", 100, 0.0, Some(900.0)),
                scope("sea", 100, 0.0, Some(900.0)),
                scope("overall", 200, 0.0, Some(900.0)),
            ]
        };
        let w = window([10, 10, 20], slow_joins(), slow_joins(), 20);
        let mut lagging = input(SearchQuantity::JoinsPerSec, 20.0, &gates);
        lagging.lag_p99_ms = 400.0;
        lagging.late_arrivals = 5;
        let (v, _, reason) = judge(&w, &lagging);
        assert_eq!(v, StepVerdict::GeneratorLimited, "{reason}");
        assert!(reason.contains("which that time includes"), "{reason}");
        // One or two late starts are scheduling noise, not a generator out of breath.
        lagging.late_arrivals = 2;
        assert_eq!(judge(&w, &lagging).0, StepVerdict::Fail);
        // A pass despite lag stands: lag only makes the latency worse.
        let fast = || {
            [
                scope("eu", 100, 0.0, Some(90.0)),
                scope("sea", 100, 0.0, Some(90.0)),
                scope("overall", 200, 0.0, Some(90.0)),
            ]
        };
        let w = window([10, 10, 20], fast(), fast(), 20);
        lagging.late_arrivals = 50;
        assert_eq!(judge(&w, &lagging).0, StepVerdict::Pass);
    }
}
