//! `regions.png`: p50/p95/p99 of connect, join and first-frame time per region (and all regions),
//! from results.json, as three grouped-bar panels side by side.

use crate::format;
use std::path::Path;

use super::grouped::{self, Group, Panel};
use super::style::{self, err};
use crate::metrics::{Breakdown, Metric, RunResult, Stat};

const PERCENTILES: [Stat; 3] = [Stat::P50, Stat::P95, Stat::P99];

/// The groups for one metric: each region in its colour, then all regions in near-black.
pub fn groups(result: &RunResult, metric: Metric, percentiles: &[Stat]) -> Vec<Group> {
    let group = |b: &Breakdown, color| Group {
        name: b.name.clone(),
        color,
        bars: percentiles
            .iter()
            .map(|p| (p.to_string(), b.value(metric, *p)))
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

/// The stat a gate compares, as a bar shows it: a ratio's `value` gate is its mean.
fn shown_as(stat: Stat) -> Stat {
    if stat == Stat::Value {
        Stat::Mean
    } else {
        stat
    }
}

/// The first gate on `metric` among the shown bars, as a labelled line.
pub fn threshold(result: &RunResult, metric: Metric, shown: &[Stat]) -> Option<(f64, String)> {
    let g = result
        .scenario
        .slo
        .iter()
        .find(|g| g.metric == metric && shown.contains(&shown_as(g.stat)))?;
    Some((
        g.threshold,
        format!(
            "SLO {} ≤ {}",
            shown_as(g.stat),
            format::value(metric, g.threshold)
        ),
    ))
}

/// The chart's subtitle: the SLO line is promised only when one is drawn.
pub fn subtitle(what: &str, slo_line: bool) -> String {
    if slo_line {
        format!("{what}; red dashed line = SLO")
    } else {
        format!("{what}; no SLO set on these figures")
    }
}

pub fn render(path: &Path, result: &RunResult) -> anyhow::Result<()> {
    let specs = [Metric::ConnectMs, Metric::JoinMs, Metric::FirstFrameMs];
    let any_gate = specs
        .iter()
        .any(|m| threshold(result, *m, &PERCENTILES).is_some());
    let (root, body) = style::canvas(
        path,
        "Latency percentiles by region",
        &subtitle(
            "Whole run, from each region's merged HdrHistogram; lighter bars are lower percentiles",
            any_gate,
        ),
    )?;
    let panels = body.split_evenly((1, 3));
    for (area, metric) in panels.iter().zip(specs) {
        let panel = Panel {
            title: metric.label(),
            y_desc: "time",
            groups: groups(result, metric, &PERCENTILES),
            format: format::ms,
            millis: true,
            threshold: threshold(result, metric, &PERCENTILES),
        };
        grouped::draw(area, &panel)?;
    }
    root.present().map_err(err)
}
