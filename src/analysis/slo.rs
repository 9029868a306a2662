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
    let mut gates: Vec<(SloGate, bool)> = result
        .scenario
        .slo
        .iter()
        .map(|g| (g.clone(), false))
        .collect();
    let set = gates
        .iter()
        .any(|(g, _)| g.metric == Metric::ViewerFailureRate);
    if !set && result.overall.viewers.started > 0 {
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
    let gates = gates(result);
    let mut out = Vec::new();
    for b in result
        .regions
        .iter()
        .chain(std::iter::once(&result.overall))
    {
        for (gate, default) in &gates {
            // Publishers are their own group: gated overall, never in a viewer region.
            if gate.metric.is_publisher() && b.name != result.overall.name {
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
    result.slo_passed = out.iter().all(|r| r.passed);
    result.slo = out;
}
