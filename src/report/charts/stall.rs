//! `stall-ratio.png`: stalled time ÷ watched time per region (p50/p95/p99), only when the run
//! measured `stall_ratio`; otherwise no file at all rather than an empty chart.

use std::path::Path;

use super::grouped::{self, Panel};
use super::regions;
use super::style::{self, err};
use crate::format;
use crate::metrics::{Metric, RunResult, Stat};

const PERCENTILES: [Stat; 3] = [Stat::P50, Stat::P95, Stat::P99];

/// Returns `Ok(false)` (nothing written) when no region has a stall_ratio sample.
pub fn render(path: &Path, result: &RunResult) -> anyhow::Result<bool> {
    let measured = result.overall.measured(Metric::StallRatio);
    if !measured {
        return Ok(false);
    }
    let (root, body) = style::canvas(
        path,
        "Stall ratio by region",
        "Stalled time ÷ watched time per viewer; lighter bars are lower percentiles; red dashed line = SLO",
    )?;
    let panel = Panel {
        title: "Stall ratio (per viewer)",
        y_desc: "stalled share of watch time",
        groups: regions::groups(result, Metric::StallRatio, &PERCENTILES),
        format: format::pct,
        threshold: regions::threshold(result, Metric::StallRatio, &PERCENTILES),
    };
    grouped::draw(&body, &panel)?;
    root.present().map_err(err)?;
    Ok(true)
}
