//! Verdict per region and overall, headroom against the planned event, and what was not tested.
//!
//! **Target load.** With an `event` forecast: forecast × `load.scale` × `headroom`, per region
//! its share of it. Without one: the run's own planned peak (`plan::Plan::peak`, the plan rebuilt
//! from results.json's typed scenario and seed), reached
//! when the run got within [`PLAN_TOLERANCE`] of it (arrivals are whole viewers per second).
//!
//! **Verdict.** NOT READY when an SLO broke in a sustained way (see [`super::capacity`]) below
//! the target load, or a whole-run-only gate failed (the load where it broke is unknown, so it
//! cannot be shown to be above target). READY when every SLO held at or above the target load
//! (viewers and join rate). Otherwise AT RISK: held, but the target was not reached, the load
//! generator was the limit, the run stopped early, or nothing was gated. Overall is the worst of
//! the overall series and every region.

use crate::metrics::result::{Readiness, ScopeReadiness, Verdict};
use crate::metrics::{Metric, RunResult, RunStatus};
use crate::plan::Plan;
use crate::scenario::SloGate;

use super::capacity::{self, ScopeCapacity, SUSTAIN_S};
use super::network;
use super::series::Series;
use super::target::Target;
use crate::format;

/// How close to a plan-derived target counts as reaching it.
pub const PLAN_TOLERANCE: f64 = 0.05;

fn target(r: &RunResult) -> Target {
    match &r.scenario.resolved {
        Some(s) => super::target::of_scenario(s, &Plan::build(s, r.seed)),
        // `quick` has no scenario: no forecast, and no planned viewers.
        None => super::target::target(None, None, r.scenario.scale, 1.0, 0.0, 0.0),
    }
}

fn share(r: &RunResult, region: &str) -> f64 {
    r.scenario
        .resolved
        .as_ref()
        .and_then(|s| s.regions.iter().find(|x| x.name == region))
        .map(|x| x.share)
        .unwrap_or(1.0 / r.regions.len().max(1) as f64)
}

/// Judge one scope. `cap` is `None` when there is no time series to judge seconds from.
fn judge(
    r: &RunResult,
    scope: &str,
    cap: Option<&ScopeCapacity>,
    tv: f64,
    tj: f64,
    t: &Target,
    gates_ps: &[&SloGate],
) -> ScopeReadiness {
    let slack = if t.from_event {
        1.0
    } else {
        1.0 - PLAN_TOLERANCE
    };
    let mut reasons = Vec::new();
    let mut verdict = Verdict::Ready;
    let mut worst = |v: Verdict, reasons: &mut Vec<String>, why: String| {
        verdict = verdict.max(v);
        reasons.push(why);
    };
    let failed: Vec<_> = r
        .slo
        .iter()
        .filter(|s| s.scope == scope && !s.passed)
        .collect();
    if r.scenario.slo.is_empty() {
        let why = if r.slo.iter().any(|s| s.default) {
            "no SLOs in the scenario: only the default viewer_failure_rate gate was applied"
        } else {
            "no SLOs in the scenario: nothing was gated"
        };
        worst(Verdict::AtRisk, &mut reasons, why.into());
    }
    if let Some(k) = cap.and_then(|c| c.knee.as_ref()) {
        let b = &k.broken[0];
        let at = if tv > 0.0 {
            format!(" = {:.2}× target", k.active_viewers as f64 / tv)
        } else {
            String::new()
        };
        let mut why = format!(
            "{} broke ({} measured) at {} concurrent viewers{at} (second {}, for ≥ {SUSTAIN_S} s)",
            format::gate(b.metric, b.stat, b.threshold),
            format::value(b.metric, b.measured),
            format::num(k.active_viewers as f64),
            k.second
        );
        if let Some(cause) = network::explains_knee(r, scope, b.metric, b.stat, b.measured) {
            why = format!("{why}: {cause}");
        }
        // Breaking above the target is the headroom's edge, not a failure for this event.
        worst(
            if (k.active_viewers as f64) < tv * slack {
                Verdict::NotReady
            } else {
                Verdict::Ready
            },
            &mut reasons,
            why,
        );
    }
    for f in &failed {
        let gate = SloGate {
            metric: f.metric,
            stat: f.stat,
            threshold: f.threshold,
        };
        let measured = f
            .measured
            .map(|v| format::value(f.metric, v))
            .unwrap_or_else(|| "no samples".into());
        let cause = network::explains(r, scope, f.metric, f.stat, f.measured);
        if let Some(why) = viewer_gate_words(r, scope, &gate, &measured) {
            worst(Verdict::NotReady, &mut reasons, why);
        } else if !gates_ps.contains(&&gate) || cap.is_none() {
            let why = match &cause {
                Some(cause) => format!(
                    "{} failed over the whole run ({measured}): {cause}",
                    format::gate(f.metric, f.stat, f.threshold)
                ),
                None => format!(
                    "{} failed over the whole run ({measured}); with no per-second data the load where it broke is unknown",
                    format::gate(f.metric, f.stat, f.threshold)
                ),
            };
            worst(Verdict::NotReady, &mut reasons, why);
        } else if cap.is_some_and(|c| c.knee.is_none()) {
            // "Short spikes" only when nothing else explains the tail.
            let why = format!(
                "{} failed over the whole run ({measured}) though no {SUSTAIN_S}-second window broke: {}",
                format::gate(f.metric, f.stat, f.threshold),
                cause.as_deref().unwrap_or("short spikes")
            );
            worst(Verdict::AtRisk, &mut reasons, why);
        }
    }
    let held_v = cap.and_then(|c| c.held_viewers);
    let held_j = cap.and_then(|c| c.held_joins_per_sec);
    match (cap, held_v) {
        (None, _) => worst(
            Verdict::AtRisk,
            &mut reasons,
            "no timeseries.csv: capacity could not be measured".into(),
        ),
        (Some(_), None) => worst(
            Verdict::AtRisk,
            &mut reasons,
            format!("no load held every SLO for {SUSTAIN_S} s in a row"),
        ),
        (Some(_), Some(v)) if (v as f64) < tv * slack => {
            let why = format!("SLOs held up to {} concurrent viewers, below the target of {} ({:.2}×): the target load was not tested", format::num(v as f64), format::num(tv), v as f64 / tv.max(1e-9));
            worst(Verdict::AtRisk, &mut reasons, why);
        }
        _ => {}
    }
    if let Some(j) = held_j.filter(|&j| j < tj * slack && held_v.is_some()) {
        let why = format!(
            "SLOs held up to {} joins/s, below the target of {} joins/s ({:.2}×)",
            format::num(j),
            format::num(tj),
            j / tj.max(1e-9)
        );
        worst(Verdict::AtRisk, &mut reasons, why);
    }
    if r.generator.limited {
        let why = r
            .generator
            .message
            .clone()
            .unwrap_or_else(|| "the load generator, not the target, limited this run".into());
        worst(Verdict::AtRisk, &mut reasons, why);
    }
    if r.status != RunStatus::Completed {
        let why = format!(
            "the run stopped early ({})",
            r.status_reason.as_deref().unwrap_or("interrupted")
        );
        worst(Verdict::AtRisk, &mut reasons, why);
    }
    if verdict == Verdict::Ready {
        reasons.push(format!(
            "every SLO held up to {} concurrent viewers and {} joins/s, at or above the target of {} and {} joins/s",
            format::num(held_v.unwrap_or(0) as f64),
            format::num(held_j.unwrap_or(0.0)),
            format::num(tv),
            format::num(tj)
        ));
    }
    ScopeReadiness {
        scope: scope.to_string(),
        verdict,
        reasons,
        target_viewers: tv,
        target_joins_per_sec: tj,
        // One peak everywhere: the recorder's (every arrival), which the per-second samples
        // can only understate.
        peak_viewers: r
            .regions
            .iter()
            .chain(std::iter::once(&r.overall))
            .find(|b| b.name == scope)
            .map(|b| b.peak_concurrent_viewers)
            .into_iter()
            .chain(cap.map(|c| c.peak_viewers))
            .max()
            .unwrap_or(0),
        peak_joins_per_sec: cap.map(|c| c.peak_joins_per_sec).unwrap_or(0.0),
        held_viewers: held_v,
        held_joins_per_sec: held_j,
        knee: cap.and_then(|c| c.knee.clone()),
        headroom: held_v.filter(|_| tv > 0.0).map(|v| v as f64 / tv),
    }
}

/// A failed viewer gate in words: how many of the scope's viewers could not watch, and how
/// their visits ended. `None` for other gates.
fn viewer_gate_words(r: &RunResult, scope: &str, gate: &SloGate, measured: &str) -> Option<String> {
    if !matches!(
        gate.metric,
        Metric::ViewerFailureRate | Metric::VideoStartFailureRate
    ) {
        return None;
    }
    let b = r
        .regions
        .iter()
        .chain(std::iter::once(&r.overall))
        .find(|b| b.name == scope)?;
    let v = &b.viewers;
    let how: Vec<String> = v
        .outcomes
        .iter()
        .filter(|(o, n)| o.is_failure() && **n > 0)
        .map(|(o, n)| format!("{} {}", format::count(*n as f64), o.words()))
        .collect();
    Some(format!(
        "{} of {} viewers could not watch ({}): {} failed ({measured})",
        format::count(v.failed as f64),
        format::count(v.started as f64),
        how.join(", "),
        format::gate(gate.metric, gate.stat, gate.threshold),
    ))
}

/// The readiness of a run from its result and (when present) its per-second series.
pub fn assess(r: &RunResult, series: Option<&Series>) -> Readiness {
    let t = target(r);
    let columns = series
        .map(|s| s.latency_columns.clone())
        .unwrap_or_default();
    let all_gates: Vec<SloGate> = super::slo::gates(r).into_iter().map(|g| g.0).collect();
    let gates_ps: Vec<&SloGate> = all_gates
        .iter()
        .filter(|g| capacity::per_second(g, &columns))
        .collect();
    let gates_owned: Vec<SloGate> = gates_ps.iter().map(|g| (*g).clone()).collect();
    let scope_cap =
        |name: &str| series.map(|s| capacity::analyse(&s.region(name), &gates_owned, &columns));
    let regions: Vec<ScopeReadiness> = r
        .regions
        .iter()
        .map(|b| {
            let sh = share(r, &b.name);
            judge(
                r,
                &b.name,
                scope_cap(&b.name).as_ref(),
                t.viewers * sh,
                t.joins_per_sec * sh,
                &t,
                &gates_ps,
            )
        })
        .collect();
    let mut overall = judge(
        r,
        &r.overall.name,
        scope_cap("all").as_ref(),
        t.viewers,
        t.joins_per_sec,
        &t,
        &gates_ps,
    );
    if let Some(worst) = regions
        .iter()
        .filter(|x| x.verdict > overall.verdict)
        .max_by_key(|x| x.verdict)
    {
        overall.verdict = worst.verdict;
        overall.reasons.retain(|w| !w.starts_with("every SLO held"));
        overall
            .reasons
            .insert(0, format!("{} is {}", worst.scope, worst.verdict.words()));
    }
    let whole_run_gates = all_gates
        .iter()
        .filter(|g| !gates_ps.contains(g))
        .map(|g| format::gate(g.metric, g.stat, g.threshold))
        .collect();
    Readiness {
        headroom_words: headroom_words(r, &overall, &t),
        overall,
        regions,
        target_basis: if t.from_event {
            "event".into()
        } else {
            "plan".into()
        },
        sustain_s: SUSTAIN_S as u32,
        whole_run_gates,
        not_tested: super::untested::list(r, series.is_some()),
    }
}

fn headroom_words(r: &RunResult, o: &ScopeReadiness, t: &Target) -> String {
    let ev = r.scenario.resolved.as_ref().and_then(|s| s.event.as_ref());
    let scale = format::pct(r.scenario.scale);
    let failed = r.slo.iter().filter(|s| !s.passed).count();
    let held = match (o.held_viewers, failed) {
        (Some(v), 0) => format!(
            "{} concurrent viewers held every SLO",
            format::num(v as f64)
        ),
        // Never "held every SLO" when one failed: the per-second gates held, the run did not.
        (Some(v), n) => format!(
            "{} concurrent viewers held every per-second SLO, but {n} of {} SLO checks failed over the whole run",
            format::num(v as f64),
            r.slo.len()
        ),
        (None, _) => format!("no load held every SLO for {SUSTAIN_S} s"),
    };
    let ratio = o
        .headroom
        .map(|h| format!(", {h:.2}× the target"))
        .unwrap_or_default();
    if t.from_event {
        let name = ev.map_or("the event", |e| e.name.as_str());
        let hr = t.headroom;
        let forecast = t.forecast_viewers.unwrap_or(0.0);
        let what = if r.scenario.scale < 1.0 {
            format!("a {scale} rehearsal")
        } else {
            "a full-scale rehearsal".into()
        };
        let mut s = format!(
            "This run was {what} of {name}: {held} against a target of {} (= {} × {scale} × {hr}){ratio}",
            format::num(t.viewers),
            format::num(forecast)
        );
        if let (Some(j), Some(fj)) = (
            o.held_joins_per_sec,
            ev.and_then(|e| e.expected_peak_joins_per_sec),
        ) {
            s.push_str(&format!(
                "; {} joins/s held against {} joins/s (= {} × {scale} × {hr})",
                format::num(j),
                format::num(t.joins_per_sec),
                format::num(fj)
            ));
        }
        s.push('.');
        s
    } else {
        format!(
            "No `event` forecast, so the target is this run's own planned peak ({scale} scale): {held} against a planned {} concurrent viewers and {} joins/s{ratio}.",
            format::num(t.viewers),
            format::num(t.joins_per_sec)
        )
    }
}
