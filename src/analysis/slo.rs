//! SLO gates evaluated per region and overall. A gated metric with no samples fails: a run that
//! measured nothing has not shown the SLO holds.
//!
//! A run whose viewers could not watch must never pass unnoticed: when the scenario sets no
//! `viewer_failure_rate` gate, [`DEFAULT_VIEWER_FAILURE_RATE`] applies to every run that started
//! viewers, marked `default` in the results.

use crate::metrics::{Breakdown, Metric, RunResult, SloResult, Stat};
use crate::scenario::SloGate;

/// The `viewer_failure_rate` gate applied when the scenario sets none.
pub const DEFAULT_VIEWER_FAILURE_RATE: f64 = 0.01;

/// The measured value a gate compares against, in the gate's unit.
pub fn measured(b: &Breakdown, gate: &SloGate) -> Option<f64> {
    b.value(gate.metric, gate.stat)
}

/// The scenario's gates, then the default viewer gate when it applies (flagged `true`).
pub fn gates(result: &RunResult) -> Vec<(SloGate, bool)> {
    gates_of(&result.scenario.slo, result.overall.viewers.started)
}

/// `slo` and, when it has no `viewer_failure_rate` gate and viewers started, the default one.
pub fn gates_of(slo: &[SloGate], viewers_started: u64) -> Vec<(SloGate, bool)> {
    let mut gates: Vec<(SloGate, bool)> = slo.iter().map(|g| (g.clone(), false)).collect();
    let set = gates
        .iter()
        .any(|(g, _)| g.metric == Metric::ViewerFailureRate);
    if !set && viewers_started > 0 {
        gates.push((default_viewer_gate(), true));
    }
    gates
}

pub fn default_viewer_gate() -> SloGate {
    SloGate {
        metric: Metric::ViewerFailureRate,
        stat: Stat::Value,
        threshold: DEFAULT_VIEWER_FAILURE_RATE,
    }
}

pub fn evaluate(result: &mut RunResult) {
    let out = judge(&gates(result), &result.regions, &result.overall);
    result.slo_passed = out.iter().all(|r| r.passed);
    result.slo = out;
}

/// Every gate in every region, then overall: the rule of a run, of `merge`, and of the
/// collector's live view of the merged seconds.
pub fn judge(
    gates: &[(SloGate, bool)],
    regions: &[Breakdown],
    overall: &Breakdown,
) -> Vec<SloResult> {
    let mut out = Vec::new();
    for (b, is_overall) in regions
        .iter()
        .map(|b| (b, false))
        .chain(std::iter::once((overall, true)))
    {
        for (gate, default) in gates {
            // Publishers are their own group: gated overall, never in a viewer region.
            if gate.metric.is_publisher() && !is_overall {
                continue;
            }
            let value = measured(b, gate);
            out.push(SloResult {
                scope: b.name.clone(),
                metric: gate.metric,
                stat: gate.stat,
                threshold: gate.threshold,
                measured: value,
                passed: value.is_some_and(|v| v <= gate.threshold),
                default: *default,
            });
        }
    }
    out
}
