//! `latency.png`: join and connect percentiles per second (all regions), with concurrent viewers
//! on a second axis. Two stacked panels rather than one: join times are often 100× connect
//! times, and on one linear axis connect would be a flat line at zero.

use crate::format;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::series::Series;
use super::style::{self, err, Area, TOTAL_COLOR};
use crate::metrics::RunResult;

/// Percentile line styles: the same hue per metric, p99 darkest and thickest, so the eye finds
/// the tail first (colour is never the only cue: the legend names each line).
fn percentile_style(base: RGBColor, pct: &str) -> ShapeStyle {
    match pct {
        "p50" => style::lighten(base, 0.55).stroke_width(2),
        "p95" => style::lighten(base, 0.25).stroke_width(3),
        _ => base.stroke_width(4),
    }
}

pub fn render(path: &Path, result: &RunResult, series: &Series) -> anyhow::Result<()> {
    let (root, body) = style::canvas(
        path,
        "Latency over time — all regions",
        "Per-second percentiles, measured from each viewer's intended arrival; grey area = concurrent viewers (right axis)",
    )?;
    let panels = body.split_evenly((2, 1));
    let join = [
        ("p50", "join_p50_ms"),
        ("p95", "join_p95_ms"),
        ("p99", "join_p99_ms"),
    ];
    let connect = [("p50", "connect_p50_ms"), ("p99", "connect_p99_ms")];
    panel(
        &panels[0],
        result,
        series,
        "join time",
        "join",
        &join,
        RGBColor(0, 114, 178),
    )?;
    panel(
        &panels[1],
        result,
        series,
        "TCP connect time",
        "connect",
        &connect,
        RGBColor(213, 94, 0),
    )?;
    root.present().map_err(err)
}

fn panel(
    area: &Area,
    result: &RunResult,
    series: &Series,
    y_desc: &str,
    metric: &str,
    columns: &[(&str, &str)],
    color: RGBColor,
) -> anyhow::Result<()> {
    let lines: Vec<(&str, style::Gappy)> = columns
        .iter()
        .map(|(p, c)| (*p, series.points("all", c)))
        .collect();
    let y_max = style::max_of(lines.iter().flat_map(|(_, l)| l.iter().filter_map(|p| p.1)));
    let viewers = series.counts("all", "active_viewers");
    if lines.iter().all(|(_, l)| l.iter().all(|p| p.1.is_none())) {
        return style::no_data(area, &format!("No {metric} samples in this run"));
    }
    let x = style::time_range(&result.phases, series.last_second());
    let gate = result.scenario.slo.iter().find(|g| {
        g.metric.name() == format!("{metric}_ms") && columns.iter().any(|c| c.0 == g.stat.name())
    });
    // The SLO line is worth showing when it is near the data; far above, it would squash the
    // data into the bottom few pixels, so it is named in a note instead.
    let shown_gate = gate.filter(|g| g.threshold <= y_max * 4.0);
    let top = shown_gate.map_or(y_max, |g| g.threshold.max(y_max));
    // Extra headroom at the top keeps phase names clear of the lines.
    let y = 0.0..style::range(0.0, top).end * 1.12;
    let v_max = style::max_of(viewers.iter().map(|p| p.1));
    // Legend as a row above the plot: inside, it would hide the early seconds' data.
    let mut items: Vec<(String, ShapeStyle)> = lines
        .iter()
        .map(|(pct, _)| (format!("{metric} {pct}"), percentile_style(color, pct)))
        .collect();
    items.push((
        "concurrent viewers (right axis)".into(),
        TOTAL_COLOR.mix(0.25).stroke_width(12),
    ));
    style::legend_lines(area, 110, 2, &items)?;
    let area = &area.margin(26, 0, 0, 0);
    // Ticks and title in one unit: "(ms)" over ticks that read seconds would mislead.
    let axis = format::MsAxis::for_top(y.end);
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .right_y_label_area_size(90)
        .build_cartesian_2d(x.clone(), y.clone())
        .map_err(err)?
        .set_secondary_coord(x, style::range(0.0, v_max));
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .x_label_formatter(&|v| style::fmt_seconds(*v))
        .y_desc(axis.title(y_desc))
        .axis_desc_style(style::font(20))
        .label_style(style::font(17))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(style::MUTED.mix(0.15))
        .y_label_formatter(&|v| axis.tick(*v))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("concurrent viewers")
        .axis_desc_style(style::font(20))
        .label_style(style::font(17))
        .y_label_formatter(&|v| format::count(*v))
        .draw()
        .map_err(err)?;
    // Phase bands in primary coordinates; the viewers area and lines go on top.
    style::phase_bands(&mut chart, &result.phases, &y)?;
    chart
        .draw_secondary_series(
            AreaSeries::new(viewers.iter().copied(), 0.0, TOTAL_COLOR.mix(0.12))
                .border_style(TOTAL_COLOR.mix(0.35)),
        )
        .map_err(err)?
        .label("concurrent viewers")
        .legend(|(x, y)| {
            Rectangle::new([(x, y - 6), (x + 24, y + 6)], TOTAL_COLOR.mix(0.2).filled())
        });
    for (pct, points) in &lines {
        style::gappy_line(
            &mut chart,
            points,
            percentile_style(color, pct),
            &format!("{metric} {pct}"),
        )?;
    }
    match (gate, shown_gate) {
        (_, Some(g)) => style::threshold_line(
            &mut chart,
            g.threshold,
            &format!("SLO {} ≤ {}", g.stat, format::ms(g.threshold)),
        )?,
        (Some(g), None) => {
            let note = format!(
                "SLO {} ≤ {}: far above this scale",
                g.stat,
                format::ms(g.threshold)
            );
            let at = (chart.x_range().end, y.end);
            style::label_at(
                &mut chart,
                at,
                (-10, 30),
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
    Ok(())
}
