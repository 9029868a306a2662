//! `viewers.png`: concurrent viewers per region over time (top), and arrivals (above zero) and
//! departures (below zero) per second, stacked by region (bottom). The shape of the load the
//! target actually saw, next to the planned phases.

use crate::format;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::series::Series;
use super::style::{self, err, Area};
use crate::metrics::RunResult;

pub fn render(path: &Path, result: &RunResult, series: &Series) -> anyhow::Result<()> {
    let capped = result.overall.joins.capped;
    let subtitle = if capped > 0 {
        format!("Per second, by region (darker: arrivals, lighter: departures); {} planned arrivals were not started (max_viewers cap)", format::count(capped as f64))
    } else {
        "Per second, by region (darker: arrivals above 0; lighter: departures below 0); every planned arrival was started".to_string()
    };
    let (root, body) = style::canvas(path, "Viewers over time", &subtitle)?;
    if series.rows.is_empty() {
        style::no_data(&body, "No per-second rows in timeseries.csv")?;
        return root.present().map_err(err);
    }
    let panels = body.split_evenly((2, 1));
    concurrent(&panels[0], result, series)?;
    flow(&panels[1], result, series)?;
    root.present().map_err(err)
}

fn concurrent(area: &Area, result: &RunResult, series: &Series) -> anyhow::Result<()> {
    let x = style::time_range(&result.phases, series.last_second());
    let all = series.counts("all", "active_viewers");
    let y = 0.0..style::range(0.0, style::max_of(all.iter().map(|p| p.1))).end * 1.15;
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(x, y.clone())
        .map_err(err)?;
    mesh(&mut chart, "concurrent viewers")?;
    style::phase_bands(&mut chart, &result.phases, &y)?;
    for (i, r) in result.regions.iter().enumerate() {
        let color = style::region_color(i);
        chart
            .draw_series(LineSeries::new(
                series.counts(&r.name, "active_viewers"),
                color.stroke_width(3),
            ))
            .map_err(err)?
            .label(r.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(4))
            });
    }
    if result.regions.len() > 1 {
        let s = style::TOTAL_COLOR.stroke_width(3);
        chart
            .draw_series(DashedLineSeries::new(all, 10, 5, s))
            .map_err(err)?
            .label("all regions")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], s));
    }
    style::legend(&mut chart, style::LEGEND_TOP_LEFT)
}

fn flow(area: &Area, result: &RunResult, series: &Series) -> anyhow::Result<()> {
    let x = style::time_range(&result.phases, series.last_second());
    let arrivals = series.counts("all", "arrivals");
    let departures = series.counts("all", "departures");
    // One scale both ways, so arrivals and departures compare by eye. The end of a run can
    // cancel hundreds of viewers in one second; that bar is clipped (and labelled) rather than
    // allowed to flatten every other second.
    let up = style::max_of(arrivals.iter().map(|p| p.1)).max(1.0);
    let mut sorted: Vec<f64> = departures.iter().map(|p| p.1).collect();
    sorted.sort_by(f64::total_cmp);
    let robust = sorted
        .get(sorted.len().saturating_sub(1) * 95 / 100)
        .copied()
        .unwrap_or(0.0);
    let limit = up.max(robust * 1.5).max(1.0);
    let y = -limit * 1.15..limit * 1.3;
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(x, y.clone())
        .map_err(err)?;
    mesh(&mut chart, "per second (arrivals ↑ departures ↓)")?;
    style::phase_bands(&mut chart, &result.phases, &y)?;
    let mut above: std::collections::BTreeMap<i64, f64> = Default::default();
    let mut below: std::collections::BTreeMap<i64, f64> = Default::default();
    for (i, r) in result.regions.iter().enumerate() {
        let color = style::region_color(i);
        let mut bars = Vec::new();
        for (s, v) in series
            .counts(&r.name, "arrivals")
            .into_iter()
            .filter(|p| p.1 > 0.0)
        {
            let base = above.entry(s as i64).or_default();
            bars.push(Rectangle::new(
                [(s + 0.05, *base), (s + 0.95, *base + v)],
                color.filled(),
            ));
            *base += v;
        }
        // Departures in a lighter shade of the same colour: same region, other direction.
        let light = style::lighten(color, 0.45);
        for (s, v) in series
            .counts(&r.name, "departures")
            .into_iter()
            .filter(|p| p.1 > 0.0)
        {
            let base = below.entry(s as i64).or_default();
            let (from, to) = (-(*base).min(limit * 1.1), -(*base + v).min(limit * 1.1));
            if from > to {
                bars.push(Rectangle::new(
                    [(s + 0.05, from), (s + 0.95, to)],
                    light.filled(),
                ));
            }
            *base += v;
        }
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(r.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 8), (x + 22, y + 8)], color.filled()));
    }
    for (s, total) in below.iter().filter(|(_, t)| **t > limit * 1.1) {
        let text = format!("{} ↓", format::count(*total));
        let at = (*s as f64 + 0.5, -limit * 1.1);
        style::label_at(
            &mut chart,
            at,
            (-4, 0),
            &text,
            style::anchored(style::bold(15), HPos::Right, VPos::Center),
        )?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(chart.x_range().start, 0.0), (chart.x_range().end, 0.0)],
            style::TEXT.stroke_width(1),
        )))
        .map_err(err)?;
    style::legend(&mut chart, style::LEGEND_TOP_LEFT)
}

fn mesh(chart: &mut style::Chart, y_desc: &str) -> anyhow::Result<()> {
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .x_label_formatter(&|v| style::fmt_seconds(*v))
        .y_desc(y_desc)
        .axis_desc_style(style::font(20))
        .label_style(style::font(17))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(style::MUTED.mix(0.15))
        .y_label_formatter(&|v| format::count(v.abs()))
        .draw()
        .map_err(err)
}
