//! `stall-ratio.png`: stalled time ÷ watched time per region (p50/p95/p99), only when the run
//! measured `stall_ratio`; otherwise no file at all rather than an empty chart.

use std::path::Path;

use super::grouped::{self, Panel};
use super::regions;
use super::style::{self, err};
use crate::metrics::RunResult;

const PERCENTILES: [&str; 3] = ["p50", "p95", "p99"];

fn percent(v: f64) -> String {
    if v >= 0.1 {
        format!("{:.0}%", v * 100.0)
    } else {
        format!("{:.1}%", v * 100.0)
    }
}

/// Returns `Ok(false)` (nothing written) when no region has a stall_ratio sample.
pub fn render(path: &Path, result: &RunResult) -> anyhow::Result<bool> {
    let measured = result
        .overall
        .metrics
        .get("stall_ratio")
        .is_some_and(|m| m.count > 0);
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
        groups: regions::groups(result, "stall_ratio", &PERCENTILES),
        format: percent,
        threshold: regions::threshold(result, "stall_ratio", &PERCENTILES, percent),
    };
    grouped::draw(&body, &panel)?;
    root.present().map_err(err)?;
    Ok(true)
}
