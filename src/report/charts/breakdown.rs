//! `connect-breakdown.png`: where connection setup time goes, per region: DNS, TCP connect, TLS
//! and time to first byte, stacked horizontally. Uses the **mean** of each step: means add up
//! (the bar's length is the mean total), percentiles of parts do not.

use crate::format;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::style::{self, err};
use crate::metrics::{Breakdown, Metric, RunResult, Stat};

/// Steps in the order a connection goes through them, with viridis colours: ordered, and
/// distinguishable with colour-vision deficiencies; they also stay apart from region colours.
const STEPS: [(Metric, RGBColor); 4] = [
    (Metric::DnsMs, RGBColor(68, 1, 84)),
    (Metric::ConnectMs, RGBColor(49, 104, 142)),
    (Metric::TlsMs, RGBColor(53, 183, 121)),
    (Metric::TtfbMs, RGBColor(253, 231, 37)),
];

fn mean(b: &Breakdown, metric: Metric) -> Option<f64> {
    b.value(metric, Stat::Mean)
}

pub fn render(path: &Path, result: &RunResult) -> anyhow::Result<()> {
    let (root, body) = style::canvas(
        path,
        "Connection setup by region — mean time per step (ms)",
        "Means, so the segments add up to the mean total; steps with no samples (DNS for an IP, TLS for plain HTTP) are 0",
    )?;
    let mut rows: Vec<(&str, &Breakdown)> = result
        .regions
        .iter()
        .map(|b| (b.name.as_str(), b))
        .collect();
    if result.regions.len() > 1 {
        rows.push(("all regions", &result.overall));
    }
    let totals: Vec<f64> = rows
        .iter()
        .map(|(_, b)| STEPS.iter().filter_map(|s| mean(b, s.0)).sum())
        .collect();
    if totals.iter().all(|t| *t <= 0.0) {
        style::no_data(&body, "No connection timings in this run")?;
        return root.present().map_err(err);
    }
    let n = rows.len() as f64;
    // Legend as a row above the bars: the plot has no free corner once the bars are long.
    let items: Vec<(String, RGBColor)> = STEPS
        .iter()
        .map(|(metric, color)| {
            let label = metric.label();
            let measured = rows.iter().any(|(_, b)| mean(b, *metric).is_some());
            (
                if measured {
                    label.to_string()
                } else {
                    format!("{label} (no samples)")
                },
                *color,
            )
        })
        .collect();
    style::legend_row(&body, 240, 0, &items)?;
    let body = body.margin(40, 0, 0, 0);
    // Room on the right for the "… total" labels.
    let x = 0.0..style::range(0.0, style::max_of(totals.iter().copied())).end * 1.12;
    let mut chart = ChartBuilder::on(&body)
        .margin(10)
        .x_label_area_size(60)
        .y_label_area_size(230)
        .build_cartesian_2d(x.clone(), 0.0..n)
        .map_err(err)?;
    let axis = format::MsAxis::for_top(x.end);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(axis.title("mean time"))
        .axis_desc_style(style::font(20))
        .label_style(style::font(17))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(style::MUTED.mix(0.15))
        .x_label_formatter(&|v| axis.tick(*v))
        .draw()
        .map_err(err)?;
    let base = body.get_base_pixel();
    for (i, (name, b)) in rows.iter().enumerate() {
        // First region at the top.
        let y0 = n - 1.0 - i as f64 + 0.18;
        let y1 = y0 + 0.64;
        let mut start = 0.0;
        for (metric, color) in STEPS {
            let Some(v) = mean(b, metric).filter(|v| *v > 0.0) else {
                continue;
            };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(start, y0), (start + v, y1)],
                    color.filled(),
                )))
                .map_err(err)?;
            // Label a segment only when it is wide enough to hold its number.
            let width_px =
                chart.backend_coord(&(start + v, y0)).0 - chart.backend_coord(&(start, y0)).0;
            let text = format::ms(v);
            if width_px as usize > text.chars().count() * 10 + 8 {
                let ink: &'static RGBColor = if color.1 > 180 { &style::TEXT } else { &WHITE };
                let s = style::anchored(style::font(16).color(ink), HPos::Center, VPos::Center);
                style::label_at(
                    &mut chart,
                    (start + v / 2.0, (y0 + y1) / 2.0),
                    (0, 0),
                    &text,
                    s,
                )?;
            }
            start += v;
        }
        let total = format!("{} total", format::ms(start));
        style::label_at(
            &mut chart,
            (start, (y0 + y1) / 2.0),
            (8, 0),
            &total,
            style::anchored(style::bold(17), HPos::Left, VPos::Center),
        )?;
        let (px, py) = chart.backend_coord(&(0.0, (y0 + y1) / 2.0));
        let name_style = style::anchored(style::bold(19), HPos::Right, VPos::Center);
        body.draw(&Text::new(
            name.to_string(),
            (px - base.0 - 12, py - base.1),
            name_style,
        ))
        .map_err(err)?;
    }
    root.present().map_err(err)
}
