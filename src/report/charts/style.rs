//! What every chart shares: size, palette, fonts, phase bands, "no data" panels, axis ranges
//! and the drawing-error conversion. One place so that a region is the same colour in every
//! chart and on the report card.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::fonts;
use crate::plan::PlannedPhase;

/// Every chart is 1600×900: legible on a laptop screen and in a slide.
pub const WIDTH: u32 = 1600;
pub const HEIGHT: u32 = 900;

pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
pub type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Okabe–Ito: the palette designed to stay distinguishable with the common colour-vision
/// deficiencies. Regions take these in scenario order (black is kept for totals).
pub const REGION_COLORS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(240, 228, 66),  // yellow
];
/// Totals ("all regions") are drawn in near-black so they never collide with a region.
pub const TOTAL_COLOR: RGBColor = RGBColor(40, 40, 40);
/// SLO thresholds: a red that Okabe–Ito keeps apart from the region colours, always dashed and
/// labelled so colour is never the only cue.
pub const SLO_COLOR: RGBColor = RGBColor(200, 30, 30);
pub const TEXT: RGBColor = RGBColor(33, 37, 41);
pub const MUTED: RGBColor = RGBColor(110, 117, 125);
/// Alternating phase band tints: light enough that data stays the figure.
const BAND_TINTS: [RGBColor; 2] = [RGBColor(236, 240, 246), RGBColor(248, 249, 251)];

/// A per-second series where `None` is a second without samples.
pub type Gappy = Vec<(f64, Option<f64>)>;

pub fn region_color(index: usize) -> RGBColor {
    REGION_COLORS[index % REGION_COLORS.len()]
}

/// A lighter shade of `c` (`amount` 0 = unchanged, 1 = white), for p50/p95 beside p99.
pub fn lighten(c: RGBColor, amount: f64) -> RGBColor {
    let mix = |v: u8| {
        (v as f64 + (255.0 - v as f64) * amount)
            .round()
            .clamp(0.0, 255.0) as u8
    };
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

pub fn font(size: u32) -> TextStyle<'static> {
    fonts::ensure_registered();
    (fonts::FAMILY, size).into_font().color(&TEXT)
}

/// The width in pixels of `text` in the regular font at `size` (by character count when the
/// font cannot measure it).
pub fn text_width(text: &str, size: u32) -> i32 {
    font(size)
        .font
        .box_size(text)
        .map(|(w, _)| w as i32)
        .unwrap_or(text.chars().count() as i32 * size as i32)
}

pub fn bold(size: u32) -> TextStyle<'static> {
    fonts::ensure_registered();
    // `FontDesc::style` keeps the already-loaded face; the style must be given at creation.
    (fonts::FAMILY, size, FontStyle::Bold)
        .into_font()
        .color(&TEXT)
}

pub fn anchored(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

/// Turn any plotters error (their types are generic over the backend) into anyhow.
pub fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Open a white 1600×900 canvas with the chart's title and a one-line subtitle.
/// Returns the area below the title for the chart body.
pub fn canvas<'a>(
    path: &'a Path,
    title: &str,
    subtitle: &str,
) -> anyhow::Result<(Area<'a>, Area<'a>)> {
    fonts::ensure_registered();
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    root.draw(&Text::new(title.to_string(), (40, 22), bold(34)))
        .map_err(err)?;
    root.draw(&Text::new(
        subtitle.to_string(),
        (40, 68),
        font(20).color(&MUTED),
    ))
    .map_err(err)?;
    let body = root.margin(100, 20, 20, 30);
    Ok((root, body))
}

/// A range that plotters can draw: never empty, never inverted, with a little headroom.
pub fn range(min: f64, max: f64) -> std::ops::Range<f64> {
    let (lo, hi) = if min.is_finite() && max.is_finite() {
        (min.min(max), min.max(max))
    } else {
        (0.0, 1.0)
    };
    if hi - lo < 1e-9 {
        return lo..lo + 1.0;
    }
    lo..hi + (hi - lo) * 0.08
}

/// The largest finite value, or 0 for none (callers pass it to [`range`]).
pub fn max_of(values: impl IntoIterator<Item = f64>) -> f64 {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

/// Time axis (seconds) covering both the data and the planned phases.
pub fn time_range(phases: &[PlannedPhase], last_second: f64) -> std::ops::Range<f64> {
    let planned = phases
        .iter()
        .map(|p| p.start_s + p.duration_s)
        .fold(0.0, f64::max);
    let end = planned.max(last_second + 1.0).max(1.0);
    0.0..end
}

/// Shade each planned phase and print its name at the top of the band. Drawn first, so series
/// sit on top. Drain (after the last phase) is left white and labelled as such.
pub fn phase_bands(
    chart: &mut Chart,
    phases: &[PlannedPhase],
    y: &std::ops::Range<f64>,
) -> anyhow::Result<()> {
    let x = chart.x_range();
    let clamp = |v: f64| v.clamp(x.start, x.end);
    for (i, p) in phases.iter().enumerate() {
        let (a, b) = (clamp(p.start_s), clamp(p.start_s + p.duration_s));
        if b <= a {
            continue;
        }
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(a, y.start), (b, y.end)],
                BAND_TINTS[i % 2].filled(),
            )))
            .map_err(err)?;
        // Narrow phases (a 5 s spike) get a smaller label rather than an overlapping one.
        let label = if p.capped {
            format!("{} (capped)", p.name)
        } else {
            p.name.clone()
        };
        let width = chart.backend_coord(&(b, y.end)).0 - chart.backend_coord(&(a, y.end)).0;
        let size = if (width as usize) < label.chars().count() * 10 {
            13
        } else {
            17
        };
        label_at(
            chart,
            ((a + b) / 2.0, y.end),
            (0, 6),
            &label,
            anchored(font(size).color(&MUTED), HPos::Center, VPos::Top),
        )?;
    }
    let end = phases
        .iter()
        .map(|p| p.start_s + p.duration_s)
        .fold(0.0, f64::max);
    if end > x.start && end < x.end - 1.0 {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(end, y.start), (end, y.end)],
                MUTED.mix(0.5).stroke_width(1),
            )))
            .map_err(err)?;
        label_at(
            chart,
            ((end + x.end) / 2.0, y.end),
            (0, 6),
            "drain",
            anchored(font(15).color(&MUTED), HPos::Center, VPos::Top),
        )?;
    }
    Ok(())
}

/// Text anchored at a data point, shifted by a pixel offset (labels above bars, band names).
pub fn label_at(
    chart: &mut Chart,
    at: (f64, f64),
    offset: (i32, i32),
    text: &str,
    style: TextStyle<'static>,
) -> anyhow::Result<()> {
    let element = EmptyElement::at(at) + Text::new(text.to_string(), offset, style);
    chart
        .draw_series(std::iter::once(element))
        .map(|_| ())
        .map_err(err)
}

/// A centred grey note in `area` ("No join samples in this run"), instead of an empty axis.
pub fn no_data(area: &Area, message: &str) -> anyhow::Result<()> {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Rectangle::new(
        [(0, 0), (w as i32 - 1, h as i32 - 1)],
        MUTED.mix(0.4).stroke_width(1),
    ))
    .map_err(err)?;
    area.draw(&Text::new(
        message.to_string(),
        (w as i32 / 2, h as i32 / 2),
        anchored(font(26).color(&MUTED), HPos::Center, VPos::Center),
    ))
    .map_err(err)
}

/// Split a series with gaps (seconds without samples) into drawable runs, so a line never
/// bridges a silent stretch and never drops to zero for "no data".
pub fn runs(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for &(x, y) in points {
        match y.filter(|v| v.is_finite()) {
            Some(v) => current.push((x, v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Draw a gappy line with a legend entry; isolated points get a dot so they stay visible.
pub fn gappy_line(
    chart: &mut Chart,
    points: &[(f64, Option<f64>)],
    style: ShapeStyle,
    label: &str,
) -> anyhow::Result<()> {
    let mut labelled = false;
    for run in runs(points) {
        if run.len() == 1 {
            chart
                .draw_series(run.iter().map(|&p| Circle::new(p, 3, style.filled())))
                .map_err(err)?;
        }
        let series = chart
            .draw_series(LineSeries::new(run, style))
            .map_err(err)?;
        if !labelled {
            let legend_style = style;
            series
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], legend_style));
            labelled = true;
        }
    }
    Ok(())
}

/// Legend box in the given corner, on a translucent white so it never hides data entirely.
pub fn legend<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(MUTED.mix(0.6))
        .label_font(font(18))
        .margin(12)
        .draw()
        .map_err(err)
}

/// A horizontal dashed SLO line across the plot, unlabelled (the caller labels it outside).
pub fn slo_line(chart: &mut Chart, y: f64) -> anyhow::Result<()> {
    let x = chart.x_range();
    chart
        .draw_series(DashedLineSeries::new(
            vec![(x.start, y), (x.end, y)],
            14,
            8,
            SLO_COLOR.stroke_width(3),
        ))
        .map(|_| ())
        .map_err(err)
}

/// A horizontal dashed threshold line with its label at the right end.
pub fn threshold_line(chart: &mut Chart, y: f64, label: &str) -> anyhow::Result<()> {
    let x = chart.x_range();
    slo_line(chart, y)?;
    label_at(
        chart,
        (x.end, y),
        (-8, -6),
        label,
        anchored(bold(17).color(&SLO_COLOR), HPos::Right, VPos::Bottom),
    )
}

/// Axis label for seconds since start: whole seconds read better than "10.0".
pub fn fmt_seconds(v: f64) -> String {
    format!("{v:.0}")
}

/// An axis value that may be fractional when the range is small (0.5 errors/s), with
/// thousands separators when it is whole.
pub fn fmt_axis(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        crate::format::count(v)
    } else {
        format!("{v:.1}")
    }
}

/// Legend just below the phase names (which sit at the top of the plot), at the left.
pub const LEGEND_TOP_LEFT: SeriesLabelPosition = SeriesLabelPosition::Coordinate(14, 34);

/// A legend drawn as one row of swatches on the canvas (above a chart), for charts whose plot
/// area has no free corner.
pub fn legend_row(area: &Area, x: i32, y: i32, items: &[(String, RGBColor)]) -> anyhow::Result<()> {
    let mut x = x;
    for (label, color) in items {
        area.draw(&Rectangle::new([(x, y), (x + 22, y + 18)], color.filled()))
            .map_err(err)?;
        area.draw(&Rectangle::new(
            [(x, y), (x + 22, y + 18)],
            MUTED.mix(0.5).stroke_width(1),
        ))
        .map_err(err)?;
        area.draw(&Text::new(
            label.clone(),
            (x + 30, y + 9),
            anchored(font(18), HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
        let w = font(18)
            .font
            .box_size(label)
            .map(|(w, _)| w as i32)
            .unwrap_or(label.len() as i32 * 10);
        x += 30 + w + 36;
    }
    Ok(())
}

/// Like [`legend_row`], with line swatches (for line charts), drawn above the plot so the
/// legend never hides data.
pub fn legend_lines(
    area: &Area,
    x: i32,
    y: i32,
    items: &[(String, ShapeStyle)],
) -> anyhow::Result<()> {
    let mut x = x;
    for (label, style) in items {
        area.draw(&PathElement::new(vec![(x, y + 9), (x + 28, y + 9)], *style))
            .map_err(err)?;
        let text = anchored(font(17), HPos::Left, VPos::Center);
        area.draw(&Text::new(label.clone(), (x + 36, y + 9), text))
            .map_err(err)?;
        let w = font(17)
            .font
            .box_size(label)
            .map(|(w, _)| w as i32)
            .unwrap_or(label.len() as i32 * 10);
        x += 36 + w + 32;
    }
    Ok(())
}
