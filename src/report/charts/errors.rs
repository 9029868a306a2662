//! `errors.png`: failed requests per second stacked by error class (the `err_*` columns of the
//! `all` rows), with the error rate (failed ÷ attempted) on the right axis.

use crate::format;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::series::Series;
use super::style::{self, err};
use crate::metrics::RunResult;

/// A fixed colour per class, so "timeout" is the same orange in every report.
fn class_color(class: &str) -> RGBColor {
    match class {
        "refused" => RGBColor(213, 94, 0),
        "timeout" => RGBColor(230, 159, 0),
        "http_5xx" => RGBColor(204, 121, 167),
        "http_4xx" => RGBColor(86, 180, 233),
        "reset" => RGBColor(0, 114, 178),
        "tls" => RGBColor(0, 158, 115),
        "dns" => RGBColor(240, 228, 66),
        "body_mismatch" => RGBColor(60, 60, 60),
        _ => RGBColor(150, 150, 150),
    }
}

pub fn render(path: &Path, result: &RunResult, series: &Series) -> anyhow::Result<()> {
    let (root, body) = style::canvas(
        path,
        "Errors over time — all regions",
        "Failed requests per second, stacked by class; black line = error rate (failed ÷ attempted requests, right axis)",
    )?;
    let classes: Vec<(&str, Vec<(f64, f64)>)> = series
        .error_columns()
        .into_iter()
        .map(|c| c.trim_start_matches("err_"))
        // Requests only: session events (a stale playlist) and viewer outcomes (in older
        // files) are not failed requests, and stacking them would count viewers twice.
        .filter(|c| crate::metrics::ErrorKind::from_name(c).is_some_and(|k| !k.is_outcome()))
        .map(|c| (c, series.counts("all", &format!("err_{c}"))))
        .filter(|(_, points)| points.iter().any(|p| p.1 > 0.0))
        .collect();
    let rate: Vec<(f64, Option<f64>)> = series
        .region("all")
        .map(|r| {
            let req = series.get(r, "requests").unwrap_or(0.0);
            (
                r.second as f64 + 0.5,
                (req > 0.0).then(|| series.get(r, "errors").unwrap_or(0.0) / req * 100.0),
            )
        })
        .collect();
    let mut per_second: std::collections::BTreeMap<i64, f64> = Default::default();
    for (_, points) in &classes {
        for (s, v) in points {
            *per_second.entry(*s as i64).or_default() += v;
        }
    }
    let x = style::time_range(&result.phases, series.last_second());
    // A floor of 5 keeps the axis readable (whole numbers) when there are few or no errors.
    let y_max = style::max_of(per_second.values().copied()).max(5.0);
    let y = 0.0..style::range(0.0, y_max).end * 1.15;
    let rate_max = style::max_of(rate.iter().filter_map(|p| p.1)).max(5.0);
    let mut chart = ChartBuilder::on(&body)
        .margin(10)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .right_y_label_area_size(90)
        .build_cartesian_2d(x.clone(), y.clone())
        .map_err(err)?
        .set_secondary_coord(x.clone(), 0.0..(rate_max * 1.15).clamp(1.0, 100.0));
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .x_label_formatter(&|v| style::fmt_seconds(*v))
        .y_desc("failed requests per second")
        .axis_desc_style(style::font(20))
        .label_style(style::font(17))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(style::MUTED.mix(0.15))
        .y_label_formatter(&|v| style::fmt_axis(*v))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("error rate (%)")
        .axis_desc_style(style::font(20))
        .label_style(style::font(17))
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .draw()
        .map_err(err)?;
    style::phase_bands(&mut chart, &result.phases, &y)?;
    if classes.is_empty() {
        let requests = result.overall.requests;
        let note = format!(
            "No errors: 0 of {} requests failed",
            format::count(requests as f64)
        );
        let at = ((x.start + x.end) / 2.0, (y.start + y.end) / 2.0);
        style::label_at(
            &mut chart,
            at,
            (0, 0),
            &note,
            style::anchored(
                style::bold(30).color(&style::MUTED),
                HPos::Center,
                VPos::Center,
            ),
        )?;
        return root.present().map_err(err);
    }
    // Stack bottom-up in column order; each second is a 0.9 s wide bar.
    let mut stacked: std::collections::BTreeMap<i64, f64> = Default::default();
    for (class, points) in &classes {
        let color = class_color(class);
        let bars: Vec<Rectangle<(f64, f64)>> = points
            .iter()
            .filter(|p| p.1 > 0.0)
            .map(|(s, v)| {
                let base = stacked.entry(*s as i64).or_default();
                let rect =
                    Rectangle::new([(*s + 0.05, *base), (*s + 0.95, *base + v)], color.filled());
                *base += v;
                rect
            })
            .collect();
        let total: f64 = points.iter().map(|p| p.1).sum();
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(format!("{class} ({})", format::count(total)))
            .legend(move |(x, y)| Rectangle::new([(x, y - 8), (x + 22, y + 8)], color.filled()));
    }
    let line = style::TOTAL_COLOR.stroke_width(2);
    for run in style::runs(&rate) {
        chart
            .draw_secondary_series(LineSeries::new(run, line))
            .map_err(err)?;
    }
    chart
        .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
        .map_err(err)?
        .label("error rate (right axis)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], line));
    style::legend(&mut chart, style::LEGEND_TOP_LEFT)?;
    root.present().map_err(err)
}
