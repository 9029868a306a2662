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
    let mut chart = ChartBuilder::on(&body)
        .margin(10)
        .x_label_area_size(60)
        .y_label_area_size(95)
        .build_cartesian_2d(style::range(0.0, x_max), y.clone())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("concurrent viewers")
        .y_desc(format!("{metric} time per second (ms)"))
        .axis_desc_style(style::font(20))
        .label_style(style::font(17))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(style::MUTED.mix(0.15))
        .x_label_formatter(&|v| style::fmt_axis(*v))
        .y_label_formatter(&|v| format::ms(*v))
        .draw()
        .map_err(err)?;
    let phase_color = |name: &str| {
        let i = result.phases.iter().position(|p| p.name == name);
        i.map_or(DRAIN_COLOR, |i| PHASE_COLORS[i % PHASE_COLORS.len()])
    };
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
    // Legend: one entry per phase that has points, then the marker meanings.
    let mut phases: Vec<&str> = Vec::new();
    for p in &points {
        if !phases.contains(&p.3) {
            phases.push(p.3);
        }
    }
    for name in phases {
        let color = phase_color(name);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(err)?
            .label(name.to_string())
            .legend(move |(x, y)| Circle::new((x + 10, y), 6, color.filled()));
    }
    if let Some(c) = &gated {
        let stat = c
            .trim_start_matches(&format!("{metric}_"))
            .trim_end_matches("_ms")
            .to_string();
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(err)?
            .label(format!("▲ {metric} {stat} (the SLO's statistic)"))
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 7, style::MUTED.stroke_width(2)));
    }
    match (gate, threshold) {
        (Some(g), Some(t)) => style::threshold_line(
            &mut chart,
            t,
            &format!("SLO {metric} {} ≤ {}", g.stat, format::ms(t)),
        )?,
        (Some(g), None) => {
            let note = format!(
                "SLO {metric} {} ≤ {}: far above this scale",
                g.stat,
                format::ms(g.threshold)
            );
            let at = (chart.x_range().end, y.end);
            style::label_at(
                &mut chart,
                at,
                (-10, 10),
                &note,
                style::anchored(
                    style::bold(17).color(&style::SLO_COLOR),
                    HPos::Right,
                    VPos::Top,
                ),
            )?;
        }
        _ => {}
    }
    if let Some(k) = knee_viewers {
        let s = style::TEXT.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(k, y.start), (k, y.end)],
                6,
                6,
                s,
            ))
            .map_err(err)?;
        let label = format!("knee ≈ {} viewers", format::count(k));
        style::label_at(
            &mut chart,
            (k, y.end),
            (8, 10),
            &label,
            style::anchored(style::bold(18), HPos::Left, VPos::Top),
        )?;
    }
    style::legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present().map_err(err)
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
