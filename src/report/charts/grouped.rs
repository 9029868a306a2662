//! Grouped bar panels (one group per region, one bar per percentile), shared by `regions.png`
//! and `stall-ratio.png`. Bars take the region's colour, lighter for lower percentiles, and every
//! bar carries its percentile name and value, so no legend lookup (and no colour vision) is
//! needed to read it.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::style::{self, err, Area};

pub struct Group {
    pub name: String,
    pub color: RGBColor,
    /// (percentile name, value); `None` when the region has no sample of this metric.
    pub bars: Vec<(String, Option<f64>)>,
}

pub struct Panel<'a> {
    pub title: &'a str,
    pub y_desc: &'a str,
    pub groups: Vec<Group>,
    /// A bar's value label (with its unit), and the y ticks unless `millis`.
    pub format: fn(f64) -> String,
    /// Durations in ms: the y axis gets one unit for every tick, named in its title.
    pub millis: bool,
    /// SLO line: (threshold, label).
    pub threshold: Option<(f64, String)>,
}

/// Shade for the j-th of n bars: the last (highest percentile) at full colour.
fn shade(color: RGBColor, j: usize, n: usize) -> RGBColor {
    let steps = n.saturating_sub(1).max(1) as f64;
    style::lighten(color, 0.6 * (n - 1 - j.min(n - 1)) as f64 / steps)
}

/// A group name on one line if it fits, else split at its first `-` or space
/// (`latam-` / `sao-paulo`), else shortened with an ellipsis.
fn name_lines(name: &str, size: u32, room: i32) -> Vec<String> {
    if style::text_width(name, size) <= room {
        return vec![name.to_string()];
    }
    if let Some(i) = name.find(['-', ' ']) {
        let (a, b) = name.split_at(i + 1);
        return vec![
            crate::report::card::fit(a.trim(), size, room),
            crate::report::card::fit(b.trim(), size, room),
        ];
    }
    vec![crate::report::card::fit(name, size, room)]
}

pub fn draw(area: &Area, panel: &Panel) -> anyhow::Result<()> {
    let (w, _) = area.dim_in_pixel();
    area.draw(&Text::new(
        panel.title.to_string(),
        (w as i32 / 2, 4),
        style::anchored(style::bold(22), HPos::Center, VPos::Top),
    ))
    .map_err(err)?;
    // The SLO's label goes under the title, outside the plot: at the line's end it would sit
    // on the last group's bars.
    if let Some((_, label)) = &panel.threshold {
        area.draw(&Text::new(
            format!("– – {label}"),
            (w as i32 / 2, 32),
            style::anchored(
                style::bold(16).color(&style::SLO_COLOR),
                HPos::Center,
                VPos::Top,
            ),
        ))
        .map_err(err)?;
    }
    let body = area.margin(58, 0, 0, 0);
    let values = panel
        .groups
        .iter()
        .flat_map(|g| g.bars.iter().filter_map(|b| b.1));
    let data_max = style::max_of(values);
    if panel
        .groups
        .iter()
        .all(|g| g.bars.iter().all(|b| b.1.is_none()))
    {
        return style::no_data(&body, "No samples");
    }
    let top = match &panel.threshold {
        // Keep the SLO line in view when it is near the bars; far above, it would flatten them.
        Some((t, _)) if *t <= data_max * 4.0 => t.max(data_max),
        _ => data_max,
    };
    let n = panel.groups.len() as f64;
    let y = 0.0..style::range(0.0, top).end * 1.1;
    let mut chart = ChartBuilder::on(&body)
        .margin(10)
        .x_label_area_size(70)
        .y_label_area_size(85)
        .build_cartesian_2d(0.0..n, y.clone())
        .map_err(err)?;
    let format = panel.format;
    let ms_axis = panel.millis.then(|| crate::format::MsAxis::for_top(y.end));
    let y_desc = ms_axis.map_or(panel.y_desc.to_string(), |a| a.title(panel.y_desc));
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(y_desc)
        .axis_desc_style(style::font(19))
        .label_style(style::font(16))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(style::MUTED.mix(0.15))
        .y_label_formatter(&|v| ms_axis.map_or_else(|| format(*v), |a| a.tick(*v)))
        .draw()
        .map_err(err)?;
    let base = body.get_base_pixel();
    for (i, g) in panel.groups.iter().enumerate() {
        let bars = g.bars.len().max(1) as f64;
        let width = 0.8 / bars;
        for (j, (pct, value)) in g.bars.iter().enumerate() {
            let x0 = i as f64 + 0.1 + j as f64 * width;
            let x1 = x0 + width * 0.9;
            let mid = (x0 + x1) / 2.0;
            let (tag, value_text) = match value {
                Some(v) => {
                    let fill = shade(g.color, j, g.bars.len());
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x0, 0.0), (x1, *v)],
                            fill.filled(),
                        )))
                        .map_err(err)?;
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x0, 0.0), (x1, *v)],
                            g.color.stroke_width(1),
                        )))
                        .map_err(err)?;
                    (*v, format(*v))
                }
                None => (0.0, "–".to_string()),
            };
            // A value goes above its bar when it fits the bar's width; the highest percentile is
            // always labelled (it may spill into the gap between groups, which is free).
            let bar_px = chart.backend_coord(&(x1, 0.0)).0 - chart.backend_coord(&(x0, 0.0)).0;
            let text_px = style::text_width(&value_text, 14);
            if text_px <= bar_px + 6 || j + 1 == g.bars.len() {
                let label_y = tag.min(y.end);
                style::label_at(
                    &mut chart,
                    (mid, label_y),
                    (0, -4),
                    &value_text,
                    style::anchored(style::font(14), HPos::Center, VPos::Bottom),
                )?;
            }
            // Percentile names under each bar, drawn on the area (they sit in the label margin).
            let (px, py) = chart.backend_coord(&(mid, 0.0));
            body.draw(&Text::new(
                pct.clone(),
                (px - base.0, py - base.1 + 6),
                style::anchored(
                    style::font(14).color(&style::MUTED),
                    HPos::Center,
                    VPos::Top,
                ),
            ))
            .map_err(err)?;
        }
        let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        let room = chart.backend_coord(&(i as f64 + 0.98, 0.0)).0
            - chart.backend_coord(&(i as f64 + 0.02, 0.0)).0;
        for (k, line) in name_lines(&g.name, 16, room).into_iter().enumerate() {
            let at = (px - base.0, py - base.1 + 28 + k as i32 * 19);
            body.draw(&Text::new(
                line,
                at,
                style::anchored(style::bold(16), HPos::Center, VPos::Top),
            ))
            .map_err(err)?;
        }
    }
    match &panel.threshold {
        Some((t, _)) if *t <= y.end => style::slo_line(&mut chart, *t)?,
        Some(_) => {
            // Far above the bars: said in the panel's margin, under the SLO's label.
            area.draw(&Text::new(
                "(above this scale)",
                (w as i32 / 2, 50),
                style::anchored(
                    style::font(13).color(&style::SLO_COLOR),
                    HPos::Center,
                    VPos::Top,
                ),
            ))
            .map_err(err)?;
        }
        None => {}
    }
    Ok(())
}
