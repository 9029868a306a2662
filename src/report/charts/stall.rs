//! `stall-ratio.png`: stalled time ÷ watched time per region (p50/p95/p99), only when the run
//! measured `stall_ratio`; otherwise no file at all rather than an empty chart.

use std::path::Path;

use super::grouped::{self, Panel};
use super::regions;
use super::style::{self, err};
use crate::format;
use crate::metrics::{Metric, RunResult, Stat};

const PERCENTILES: [Stat; 3] = [Stat::P50, Stat::P95, Stat::P99];

/// The bars: p50/p95/p99, led by the mean when a gate compares the mean (`stall_ratio: 0.02`
/// gates the mean of the viewers' ratios), so the SLO line has the bar it is about.
fn shown(result: &RunResult) -> Vec<Stat> {
    let mean_gated = result
        .scenario
        .slo
        .iter()
        .any(|g| g.metric == Metric::StallRatio && matches!(g.stat, Stat::Value | Stat::Mean));
    let mut stats = Vec::new();
    if mean_gated {
        stats.push(Stat::Mean);
    }
    stats.extend(PERCENTILES);
    stats
}

/// Returns `Ok(false)` (nothing written) when no region has a stall_ratio sample.
pub fn render(path: &Path, result: &RunResult) -> anyhow::Result<bool> {
    let measured = result.overall.measured(Metric::StallRatio);
    if !measured {
        return Ok(false);
    }
    let stats = shown(result);
    let threshold = regions::threshold(result, Metric::StallRatio, &stats);
    let what = if stats.contains(&Stat::Mean) {
        "Stalled time ÷ watched time per viewer; the mean, then percentiles, lighter = lower"
    } else {
        "Stalled time ÷ watched time per viewer; lighter bars are lower percentiles"
    };
    let (root, body) = style::canvas(
        path,
        "Stall ratio by region",
        &regions::subtitle(what, threshold.is_some()),
    )?;
    let panel = Panel {
        title: "Stall ratio (per viewer)",
        y_desc: "stalled share of watch time",
        groups: regions::groups(result, Metric::StallRatio, &stats),
        format: format::pct,
        millis: false,
        threshold,
    };
    grouped::draw(&body, &panel)?;
    root.present().map_err(err)?;
    Ok(true)
}
