//! Folding the recorder's cells into the per-region and overall [`Breakdown`]s of a RunResult.
//! Histograms are merged, never percentiles averaged.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::cell::{Cell, Counters};
use super::names::{ErrorKind, Metric};
use super::outcome::ViewerCounts;
use super::recorder::RecorderState;
use super::result::{new_histogram, summarize_all, Breakdown, JoinCounts};

/// Counters and histograms being summed up.
#[derive(Default)]
struct Accumulator {
    counters: Counters,
    hists: BTreeMap<Metric, Histogram<u64>>,
}

impl Accumulator {
    fn add(&mut self, cell: &Cell) {
        self.counters.add(&cell.counters);
        for (metric, hist) in Metric::RECORDED.iter().zip(&cell.hists) {
            let Some(hist) = hist.as_ref().filter(|h| !h.is_empty()) else {
                continue;
            };
            match self.hists.get_mut(metric) {
                Some(acc) => {
                    let _ = acc.add(hist);
                }
                None => {
                    if let Ok(mut acc) = new_histogram() {
                        let _ = acc.add(hist);
                        self.hists.insert(*metric, acc);
                    }
                }
            }
        }
    }

    fn breakdown(&self, name: &str) -> Result<Breakdown, String> {
        let c = &self.counters;
        let errors = ErrorKind::ALL
            .iter()
            .filter(|k| c.errors[k.index()] > 0)
            .map(|k| (*k, c.errors[k.index()]))
            .collect();
        Ok(Breakdown {
            name: name.to_string(),
            joins: JoinCounts {
                attempted: c.arrivals,
                succeeded: c.joins_ok,
                failed: c.joins_failed,
                capped: c.capped,
            },
            departures: c.departures,
            viewers: ViewerCounts::from_counts(&c.outcomes),
            peak_concurrent_viewers: 0,
            requests: c.requests,
            errors,
            error_rate: if c.requests == 0 {
                0.0
            } else {
                c.request_errors() as f64 / c.requests as f64
            },
            metrics: summarize_all(&self.hists)?,
            phases: Vec::new(),
        })
    }
}

/// Per-region breakdowns (with per-phase entries) and the overall one; an error when a
/// histogram could not be encoded.
pub fn breakdowns(
    state: &RecorderState,
    regions: &[String],
    phases: &[String],
) -> Result<(Vec<Breakdown>, Breakdown), String> {
    let mut overall = Accumulator::default();
    let mut overall_phases: Vec<Accumulator> =
        phases.iter().map(|_| Accumulator::default()).collect();
    let mut out = Vec::new();
    for (r, name) in regions.iter().enumerate() {
        let mut region = Accumulator::default();
        let mut per_phase = Vec::new();
        for (p, phase_name) in phases.iter().enumerate() {
            let Some(cell) = state.cells.get(r).and_then(|c| c.get(p)) else {
                continue;
            };
            let mut phase = Accumulator::default();
            phase.add(cell);
            region.add(cell);
            overall.add(cell);
            overall_phases[p].add(cell);
            per_phase.push(phase.breakdown(phase_name)?);
        }
        let mut b = region.breakdown(name)?;
        b.departures = state.departures.get(r).copied().unwrap_or(0);
        b.peak_concurrent_viewers = state.peak_active.get(r).copied().unwrap_or(0);
        b.phases = per_phase;
        // Publishers belong to no viewer region (the engine files them under the first one):
        // their metrics are reported once, overall.
        for scope in std::iter::once(&mut b) {
            scope.metrics.retain(|m, _| !m.is_publisher());
            for p in &mut scope.phases {
                p.metrics.retain(|m, _| !m.is_publisher());
            }
        }
        out.push(b);
    }
    let mut all = overall.breakdown("overall")?;
    all.departures = state.departures.iter().sum();
    all.peak_concurrent_viewers = state.peak_active_overall;
    all.phases = phases
        .iter()
        .zip(&overall_phases)
        .map(|(n, a)| a.breakdown(n))
        .collect::<Result<_, _>>()?;
    Ok((out, all))
}
