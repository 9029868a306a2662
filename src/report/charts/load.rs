//! `load-vs-p99.png`: concurrent viewers (x) against the per-second join p99 (y), one point per
//! second of the run, coloured by phase, with the SLO threshold and, once the analysis provides
//! it, the knee (the load at which the first SLO broke).

use crate::format;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::series::Series;
use super::style::{self, err};
use crate::metrics::RunResult;
use crate::metrics::{Metric, Stat};
use crate::scenario::SloGate;

/// Phases in time order on a viridis ramp (stopping short of its yellow, which vanishes on
/// white): later phases are lighter, so the eye can follow the run's progression.
const PHASE_COLORS: [RGBColor; 5] = [
    RGBColor(68, 1, 84),
    RGBColor(59, 82, 139),
    RGBColor(33, 145, 140),
    RGBColor(53, 183, 121),
    RGBColor(144, 200, 60),
];
const DRAIN_COLOR: RGBColor = RGBColor(150, 150, 150);

/// The gate the chart is about: join time first (what the viewer waits for), else TCP connect.
fn gate(result: &RunResult) -> Option<&SloGate> {
    let gates = &result.scenario.slo;
    gates
        .iter()
        .find(|g| g.metric == Metric::JoinMs)
        .or_else(|| gates.iter().find(|g| g.metric == Metric::ConnectMs))
}

/// `join` or `connect`: the gated one; without a gate, join time if the run has join samples
/// (it has join steps), else the connect every viewer makes.
fn plotted_metric(gated: Option<Metric>, has_join: bool, has_connect: bool) -> &'static str {
    match gated {
        Some(Metric::ConnectMs) => "connect",
        Some(_) => "join",
        None if !has_join && has_connect => "connect",
        None => "join",
    }
}

pub fn render(
    path: &Path,
    result: &RunResult,
    series: &Series,
    knee_viewers: Option<f64>,
) -> anyhow::Result<()> {
    let gate = gate(result);
    let has_samples = |metric: &str| {
        let column = format!("{metric}_p99_ms");
        series
            .region("all")
            .any(|r| series.get(r, &column).is_some())
    };
    let metric = plotted_metric(
        gate.map(|g| g.metric),
        has_samples("join"),
        has_samples("connect"),
    );
    let (root, body) = style::canvas(
        path,
        &format!("Load vs {metric} p99"),
        &format!("One point per second, all regions: ● {metric} p99 of that second against concurrent viewers; colour = phase"),
    )?;
    let p99 = format!("{metric}_p99_ms");
    // When the SLO gates another percentile (join p95), plot that one too, so the threshold line
    // is compared with the statistic it is about.
    let gated = gate
        .filter(|g| g.stat != Stat::P99)
        .map(|g| format!("{metric}_{}_ms", g.stat))
        .filter(|c| series.columns.contains(c));
    let points: Vec<(f64, Option<f64>, Option<f64>, &str)> = series
        .region("all")
        .map(|r| {
            (
                series.get(r, "active_viewers").unwrap_or(0.0),
                series.get(r, &p99),
                gated.as_deref().and_then(|c| series.get(r, c)),
                r.phase.as_str(),
            )
        })
        .collect();
    if points.iter().all(|p| p.1.is_none() && p.2.is_none()) {
        style::no_data(
            &body,
            &format!("No per-second {metric} samples in timeseries.csv"),
        )?;
        return root.present().map_err(err);
    }
    let x_max = style::max_of(points.iter().map(|p| p.0).chain(knee_viewers));
    let y_data = style::max_of(points.iter().flat_map(|p| [p.1, p.2]).flatten());
    let threshold = gate.map(|g| g.threshold).filter(|t| *t <= y_data * 4.0);
    let y = 0.0..style::range(0.0, y_data.max(threshold.unwrap_or(0.0))).end;
    let phase_color = |name: &str| {
        let i = result.phases.iter().position(|p| p.name == name);
        i.map_or(DRAIN_COLOR, |i| PHASE_COLORS[i % PHASE_COLORS.len()])
    };
    // Every label sits in rows above the plot, never inside it: points can be anywhere (a
    // spike's first second is top left, the peak top right), so any spot inside may cover one.
    let mut items: Vec<(Swatch, String)> = Vec::new();
    for p in &points {
        let color = phase_color(p.3);
        if !items.iter().any(|(_, name)| name == p.3) {
            items.push((Swatch::Dot(color), p.3.to_string()));
        }
    }
    if let Some(g) = gate.filter(|_| gated.is_some()) {
        items.push((
            Swatch::Triangle,
            format!("{metric} {} (the SLO's statistic)", g.stat),
        ));
    }
    if let Some(g) = gate {
        let far = if threshold.is_some() {
            ""
        } else {
            ": far above this scale"
        };
        items.push((
            Swatch::Slo,
            format!("SLO {metric} {} ≤ {}{far}", g.stat, format::ms(g.threshold)),
        ));
    }
    if let Some(k) = knee_viewers {
        items.push((Swatch::Knee, format!("knee ≈ {} viewers", format::count(k))));
    }
    let legend_h = legend(&body, &items)?;
    let plot = body.margin(legend_h, 0, 0, 0);
    let axis = format::MsAxis::for_top(y.end);
    let mut chart = ChartBuilder::on(&plot)
        .margin(10)
        .x_label_area_size(60)
        .y_label_area_size(95)
        .build_cartesian_2d(style::range(0.0, x_max), y.clone())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("concurrent viewers")
        .y_desc(axis.title(&format!("{metric} time per second")))
        .axis_desc_style(style::font(20))
        .label_style(style::font(17))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(style::MUTED.mix(0.15))
        .x_label_formatter(&|v| style::fmt_axis(*v))
        .y_label_formatter(&|v| axis.tick(*v))
        .draw()
        .map_err(err)?;
    // The lines first, the points on top: a line never hides a point.
    if let Some(t) = threshold {
        let x = chart.x_range();
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x.start, t), (x.end, t)],
                14,
                8,
                style::SLO_COLOR.stroke_width(3),
            ))
            .map_err(err)?;
    }
    if let Some(k) = knee_viewers {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(k, y.start), (k, y.end)],
                6,
                6,
                style::TEXT.stroke_width(2),
            ))
            .map_err(err)?;
    }
    for (x, _, v, phase) in &points {
        if let Some(v) = v {
            chart
                .draw_series(std::iter::once(TriangleMarker::new(
                    (*x, *v),
                    7,
                    phase_color(phase).stroke_width(2),
                )))
                .map_err(err)?;
        }
    }
    for (x, v, _, phase) in &points {
        if let Some(v) = v {
            chart
                .draw_series(std::iter::once(Circle::new(
                    (*x, *v),
                    6,
                    phase_color(phase).filled(),
                )))
                .map_err(err)?;
        }
    }
    root.present().map_err(err)
}

/// What a legend entry's swatch shows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Swatch {
    /// A phase's points.
    Dot(RGBColor),
    /// The SLO's own statistic (p95 beside the p99 points).
    Triangle,
    /// The SLO threshold: a red dashed horizontal line.
    Slo,
    /// The knee: a dark dashed vertical line.
    Knee,
}

/// Legend entries in rows across the top of `area`, wrapped at its width; returns the height
/// they take, which the plot is moved down by.
fn legend(area: &style::Area, items: &[(Swatch, String)]) -> anyhow::Result<i32> {
    const ROW: i32 = 28;
    let (w, _) = area.dim_in_pixel();
    let right = w as i32 - 20;
    let (mut x, mut y) = (110, 4);
    for (swatch, label) in items {
        let text_w = style::text_width(label, 17);
        let entry = 36 + text_w;
        if x > 110 && x + entry > right {
            x = 110;
            y += ROW;
        }
        let mid = y + 10;
        match swatch {
            Swatch::Dot(c) => area.draw(&Circle::new((x + 12, mid), 6, c.filled())),
            Swatch::Triangle => area.draw(&TriangleMarker::new(
                (x + 12, mid),
                7,
                style::MUTED.stroke_width(2),
            )),
            Swatch::Slo => area.draw(&PathElement::new(
                vec![(x, mid), (x + 10, mid)],
                style::SLO_COLOR.stroke_width(3),
            )),
            Swatch::Knee => area.draw(&PathElement::new(
                vec![(x + 12, mid - 10), (x + 12, mid - 3)],
                style::TEXT.stroke_width(2),
            )),
        }
        .map_err(err)?;
        match swatch {
            Swatch::Slo => area.draw(&PathElement::new(
                vec![(x + 16, mid), (x + 26, mid)],
                style::SLO_COLOR.stroke_width(3),
            )),
            Swatch::Knee => area.draw(&PathElement::new(
                vec![(x + 12, mid + 3), (x + 12, mid + 10)],
                style::TEXT.stroke_width(2),
            )),
            _ => Ok(()),
        }
        .map_err(err)?;
        let text = if *swatch == Swatch::Slo {
            style::font(17).color(&style::SLO_COLOR)
        } else {
            style::font(17)
        };
        area.draw(&Text::new(
            label.clone(),
            (x + 34, mid),
            style::anchored(text, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
        x += entry + 30;
    }
    Ok(if items.is_empty() { 0 } else { y + ROW + 4 })
}

#[cfg(test)]
mod tests {
    use super::plotted_metric;
    use crate::metrics::Metric;

    #[test]
    fn the_chart_plots_what_the_run_measured() {
        assert_eq!(plotted_metric(Some(Metric::JoinMs), true, true), "join");
        assert_eq!(
            plotted_metric(Some(Metric::ConnectMs), true, true),
            "connect"
        );
        assert_eq!(plotted_metric(None, true, true), "join");
        // No join steps: join_ms is never recorded, so the chart shows connect instead of
        // "no samples".
        assert_eq!(plotted_metric(None, false, true), "connect");
        assert_eq!(plotted_metric(None, false, false), "join");
    }
}
