//! `regions.png`: p50/p95/p99 of connect, join and first-frame time per region (and all regions),
//! from results.json, as three grouped-bar panels side by side.

use std::path::Path;

use super::grouped::{self, Group, Panel};
use super::style::{self, err};
use crate::metrics::{Breakdown, RunResult};

const PERCENTILES: [&str; 3] = ["p50", "p95", "p99"];

/// The groups for one metric: each region in its colour, then all regions in near-black.
pub fn groups(result: &RunResult, metric: &str, percentiles: &[&str]) -> Vec<Group> {
    let group = |b: &Breakdown, color| Group {
        name: b.name.clone(),
        color,
        bars: percentiles
            .iter()
            .map(|p| (p.to_string(), b.metrics.get(metric).and_then(|m| m.stat(p))))
            .collect(),
    };
    let mut out: Vec<Group> = result
        .regions
        .iter()
        .enumerate()
        .map(|(i, b)| group(b, style::region_color(i)))
        .collect();
    // With a single region "all" would repeat it; show it only when it adds something.
    if result.regions.len() > 1 {
        out.push(Group {
            name: "all regions".into(),
            ..group(&result.overall, style::TOTAL_COLOR)
        });
    }
    out
}

/// The first gate on `metric` among the shown percentiles, as a labelled line.
pub fn threshold(
    result: &RunResult,
    metric: &str,
    percentiles: &[&str],
    format: fn(f64) -> String,
) -> Option<(f64, String)> {
    let g = result
        .scenario
        .slo
        .iter()
        .find(|g| g.metric == metric && percentiles.contains(&g.stat.as_str()))?;
    Some((
        g.threshold,
        format!("SLO {} ≤ {}", g.stat, format(g.threshold)),
    ))
}

pub fn render(path: &Path, result: &RunResult) -> anyhow::Result<()> {
    let (root, body) = style::canvas(
        path,
        "Latency percentiles by region",
        "Whole run, from each region's merged HdrHistogram; lighter bars are lower percentiles; red dashed line = SLO",
    )?;
    let panels = body.split_evenly((1, 3));
    let specs = [
        ("TCP connect", "connect_ms"),
        ("Join (all join steps)", "join_ms"),
        ("First frame", "first_frame_ms"),
    ];
    for (area, (title, metric)) in panels.iter().zip(specs) {
        let panel = Panel {
            title,
            y_desc: "milliseconds",
            groups: groups(result, metric, &PERCENTILES),
            format: style::fmt_ms,
            threshold: threshold(result, metric, &PERCENTILES, style::fmt_ms),
        };
        grouped::draw(area, &panel)?;
    }
    root.present().map_err(err)
}
