//! SLO gates evaluated per region and overall. A gated metric with no samples fails: a run that
//! measured nothing has not shown the SLO holds.

use crate::metrics::{Breakdown, RunResult, SloResult};
use crate::scenario::SloGate;

/// The measured value a gate compares against, in the gate's unit.
pub fn measured(b: &Breakdown, gate: &SloGate) -> Option<f64> {
    b.value(gate.metric, gate.stat)
}

pub fn evaluate(result: &mut RunResult) {
    let gates = result.scenario.slo.clone();
    let mut out = Vec::new();
    for b in result
        .regions
        .iter()
        .chain(std::iter::once(&result.overall))
    {
        for gate in &gates {
            let value = measured(b, gate);
            out.push(SloResult {
                scope: b.name.clone(),
                metric: gate.metric,
                stat: gate.stat,
                threshold: gate.threshold,
                measured: value,
                passed: value.is_some_and(|v| v <= gate.threshold),
            });
        }
    }
    result.slo_passed = out.iter().all(|r| r.passed);
    result.slo = out;
}
