//! `capacity-steps.png` (capacity searches only): each step's level (x) against the metric that
//! judged the search (y: the gate that failed at the lowest failing level, else the first
//! gate), pass ● / fail ✕ / generator-limited ○ markers numbered in the order they ran, the SLO
//! threshold, and the bracket between the highest pass and the lowest fail shaded.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::style::{self, err};
use crate::analysis::search::failing_step;
use crate::metrics::search::{CapacitySearch, SearchStep, StepVerdict};
use crate::metrics::RunResult;

const PASS: RGBColor = RGBColor(0, 158, 115);
const FAIL: RGBColor = style::SLO_COLOR;

/// The metric on the y axis: (metric, stat, threshold, axis label, value → y).
struct Judged {
    metric: String,
    stat: String,
    threshold: f64,
    label: String,
}

fn judged(c: &CapacitySearch) -> Option<Judged> {
    let g = failing_step(c)
        .and_then(|s| s.first_failure())
        .map(|g| (g.metric.clone(), g.stat.clone(), g.threshold))
        .or_else(|| {
            c.gates.first().map(|g| {
                (
                    g.metric.name().to_string(),
                    g.stat.name().to_string(),
                    g.threshold,
                )
            })
        })?;
    let label = if g.0 == "viewers_held" {
        "viewers still watching (% of the level)".to_string()
    } else if g.0.ends_with("_ms") {
        format!("{} {} in the window (ms)", g.0, g.1)
    } else if g.0 == "stall_count" {
        format!("{} {} in the window (stalls)", g.0, g.1)
    } else {
        format!("{} in the window (%)", g.0)
    };
    Some(Judged {
        metric: g.0,
        stat: g.1,
        threshold: g.2,
        label,
    })
}

/// The step's overall value on the chart's scale, when it was measured.
fn value(j: &Judged, s: &SearchStep) -> Option<f64> {
    if j.metric == "viewers_held" {
        return (s.level > 0.0 && s.verdict != StepVerdict::GeneratorLimited)
            .then(|| s.min_viewers_in_window as f64 / s.level * 100.0);
    }
    let g = s
        .gates
        .iter()
        .find(|g| g.scope == "overall" && g.metric == j.metric && g.stat == j.stat)?;
    let v = g.measured?;
    Some(if j.metric.ends_with("_ms") || j.metric == "stall_count" {
        v
    } else {
        v * 100.0
    })
}

pub fn render(path: &Path, r: &RunResult) -> anyhow::Result<bool> {
    let Some(c) = &r.capacity else {
        return Ok(false);
    };
    let (root, body) = style::canvas(
        path,
        &format!("Capacity search: {}", c.outcome.words()),
        &c.sentence,
    )?;
    let Some(j) = judged(c) else {
        style::no_data(&body, "No gate judged the steps")?;
        return root.present().map_err(err).map(|_| true);
    };
    let steps: Vec<&SearchStep> = c.steps.iter().chain(c.hold.iter()).collect();
    let threshold = if j.metric == "viewers_held" {
        100.0
    } else if j.metric.ends_with("_ms") || j.metric == "stall_count" {
        j.threshold
    } else {
        j.threshold * 100.0
    };
    let points: Vec<(f64, Option<f64>, &SearchStep)> =
        steps.iter().map(|s| (s.level, value(&j, s), *s)).collect();
    let y_max = style::max_of(points.iter().filter_map(|p| p.1).chain([threshold]));
    let y = 0.0..style::range(0.0, y_max).end * 1.1;
    let x_max = style::max_of(steps.iter().map(|s| s.level));
    let x = 0.0..style::range(0.0, x_max).end * 1.05;
    // The legend sits above the plot, so no marker can hide under it.
    let plot = body.margin(40, 0, 0, 0);
    let legend = vec![
        ("pass".to_string(), PASS.stroke_width(8)),
        ("fail".to_string(), FAIL.stroke_width(3)),
        (
            "generator-limited (not judged)".to_string(),
            style::MUTED.stroke_width(2),
        ),
        (
            "bracket".to_string(),
            RGBColor(230, 159, 0).mix(0.4).stroke_width(14),
        ),
    ];
    style::legend_lines(&body, 10, 0, &legend)?;
    let mut chart = ChartBuilder::on(&plot)
        .margin(10)
        .x_label_area_size(60)
        .y_label_area_size(95)
        .build_cartesian_2d(x.clone(), y.clone())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(format!("level ({})", c.quantity.unit()))
        .y_desc(&j.label)
        .axis_desc_style(style::font(20))
        .label_style(style::font(17))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(style::MUTED.mix(0.15))
        .x_label_formatter(&|v| style::fmt_axis(*v))
        .y_label_formatter(&|v| style::fmt_axis(*v))
        .draw()
        .map_err(err)?;
    if let (Some(p), Some(f)) = (c.highest_pass, c.lowest_fail) {
        let (a, b) = (p.min(f), p.max(f).max(p.min(f) + x_max * 0.004));
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(a, y.start), (b, y.end)],
                RGBColor(230, 159, 0).mix(0.25).filled(),
            )))
            .map_err(err)?;
        style::label_at(
            &mut chart,
            (a, y.end),
            (-6, 8),
            &format!("capacity {}–{}", style::fmt_axis(p), style::fmt_axis(f)),
            style::anchored(style::bold(17), HPos::Right, VPos::Top),
        )?;
    }
    let slo_label = if j.metric == "viewers_held" {
        "SLO: every viewer still watching".to_string()
    } else {
        format!("SLO ≤ {}", style::fmt_axis(threshold))
    };
    style::threshold_line(&mut chart, threshold, &slo_label)?;
    for (x, v, s) in &points {
        // A step with nothing measured (no samples, or not judged) sits on the axis, hollow.
        let at = (*x, v.unwrap_or(0.0));
        match s.verdict {
            StepVerdict::Pass => chart
                .draw_series(std::iter::once(Circle::new(at, 9, PASS.filled())))
                .map(|_| ())
                .map_err(err)?,
            StepVerdict::Fail => chart
                .draw_series(std::iter::once(Cross::new(at, 9, FAIL.stroke_width(4))))
                .map(|_| ())
                .map_err(err)?,
            _ => chart
                .draw_series(std::iter::once(Circle::new(
                    at,
                    9,
                    style::MUTED.stroke_width(2),
                )))
                .map(|_| ())
                .map_err(err)?,
        }
    }
    // One label per marker: a level tried twice (a step and the hold) reads "3, hold".
    let mut labels: Vec<((f64, f64), String)> = Vec::new();
    for (x, v, s) in &points {
        let at = (*x, v.unwrap_or(0.0));
        let tag = if s.stage == "hold" {
            "hold".to_string()
        } else {
            s.index.to_string()
        };
        match labels.iter_mut().find(|(p, _)| *p == at) {
            Some((_, text)) => text.push_str(&format!(", {tag}")),
            None => labels.push((at, tag)),
        }
    }
    for (at, text) in labels {
        style::label_at(
            &mut chart,
            at,
            (0, -14),
            &text,
            style::anchored(
                style::font(16).color(&style::MUTED),
                HPos::Center,
                VPos::Bottom,
            ),
        )?;
    }
    root.present().map_err(err)?;
    Ok(true)
}
