//! The `compare` chart: base vs candidate p95 and p99 per scope (each region, then overall), one
//! grouped-bar panel per latency metric, and the error rates as an annotated strip underneath.
//!
//! Base bars are neutral grey; candidate bars take their verdict's colour, and every candidate
//! carries its delta in percent plus the verdict word ("regression", "improved"), so the chart
//! reads without colour vision. Drawn from a [`Comparison`] alone, like the Markdown table.

use crate::format;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::style::{self, err, Area};
use crate::metrics::{Metric, Stat};
use crate::report::compare::{CompareRow, Comparison, Tolerance};

const BASE_COLOR: RGBColor = RGBColor(172, 177, 184);
const SAME_COLOR: RGBColor = style::REGION_COLORS[0];
const BETTER_COLOR: RGBColor = style::REGION_COLORS[2];
const STATS: [Stat; 2] = [Stat::P95, Stat::P99];
/// Six panels (2 × 3) keep bars wide enough for their labels; further metrics stay in the table.
const MAX_PANELS: usize = 6;
/// Always shown when the runs have them: the metrics a viewer feels first.
const KEY_METRICS: [Metric; 3] = [Metric::ConnectMs, Metric::JoinMs, Metric::FirstFrameMs];

#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    Regression,
    Improved,
    Unchanged,
    Missing,
}

impl Verdict {
    fn of(r: &CompareRow, t: Tolerance) -> Verdict {
        let (Some(b), Some(c)) = (r.base, r.candidate) else {
            return Verdict::Missing;
        };
        // Mirror of the regression rule, so "improved" is as strict as "regression".
        let better = if r.is_rate() {
            (b - c) * 100.0 > t.error_pp
        } else {
            b - c > t.ms && (b <= 0.0 || (b - c) / b * 100.0 > t.pct)
        };
        match (r.regression, better) {
            (true, _) => Verdict::Regression,
            (_, true) => Verdict::Improved,
            _ => Verdict::Unchanged,
        }
    }

    /// `'static` because the shared text styles are `TextStyle<'static>`.
    fn color(self) -> &'static RGBColor {
        match self {
            Verdict::Regression => &style::SLO_COLOR,
            Verdict::Improved => &BETTER_COLOR,
            _ => &SAME_COLOR,
        }
    }

    fn word(self) -> Option<&'static str> {
        match self {
            Verdict::Regression => Some("regression"),
            Verdict::Improved => Some("improved"),
            _ => None,
        }
    }
}

/// How a run is named in the title: its directory, or the directory holding its results.json.
pub fn run_name(path: &Path) -> String {
    let full = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let dir = if full.is_file() {
        full.parent().unwrap_or(&full)
    } else {
        &full
    };
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Latency metrics in the comparison's (journey) order, with at least one value on either side.
fn metrics(c: &Comparison) -> Vec<Metric> {
    let mut out: Vec<Metric> = Vec::new();
    for r in &c.rows {
        let has_value = r.base.is_some() || r.candidate.is_some();
        if !r.is_rate() && has_value && !out.contains(&r.metric) {
            out.push(r.metric);
        }
    }
    out
}

/// The panels to draw when there are more metrics than room: regressed ones first (a chart that
/// hides the failure is worse than none), then the key metrics, then journey order.
fn pick(c: &Comparison, all: &[Metric]) -> Vec<Metric> {
    let regressed = |m: &Metric| c.rows.iter().any(|r| r.regression && r.metric == *m);
    let mut keep: Vec<&Metric> = all.iter().filter(|m| regressed(m)).collect();
    keep.extend(all.iter().filter(|m| KEY_METRICS.contains(m)));
    keep.extend(all.iter());
    let mut chosen: Vec<&Metric> = Vec::new();
    for m in keep {
        if chosen.len() < MAX_PANELS && !chosen.contains(&m) {
            chosen.push(m);
        }
    }
    // Back to journey order, so panels read left to right like a viewer's session.
    all.iter().filter(|m| chosen.contains(m)).cloned().collect()
}

fn text_width(text: &str, style: &TextStyle) -> i32 {
    style
        .font
        .box_size(text)
        .map(|(w, _)| w as i32)
        .unwrap_or(text.chars().count() as i32 * 10)
}

pub fn render(path: &Path, c: &Comparison, base_name: &str, cand_name: &str) -> anyhow::Result<()> {
    let t = c.tolerance;
    let subtitle = format!(
        "p95 and p99 per region and overall · regression = worse by > {} and > {} (error rate: > {} pp) · grey = base",
        format::pct(t.pct / 100.0),
        format::ms(t.ms),
        t.error_pp
    );
    let title = format!("{base_name} vs {cand_name}");
    let (root, body) = style::canvas(path, &title, &subtitle)?;
    let regressions = c.rows.iter().filter(|r| r.regression).count();
    let (verdict, color) = if regressions == 0 {
        ("no regression".to_string(), Verdict::Improved.color())
    } else {
        let word = format!("REGRESSION ({regressions})");
        (word, Verdict::Regression.color())
    };
    root.draw(&Text::new(
        verdict,
        (style::WIDTH as i32 - 40, 26),
        style::anchored(style::bold(30).color(color), HPos::Right, VPos::Top),
    ))
    .map_err(err)?;

    let (w, h) = body.dim_in_pixel();
    let (top, rest) = body.split_vertically(34);
    let (grid, strip) = rest.split_vertically(h as i32 - 34 - 74);
    let legend = [
        ("base".to_string(), BASE_COLOR),
        ("candidate, within tolerance".to_string(), SAME_COLOR),
        ("candidate, improved".to_string(), BETTER_COLOR),
        ("candidate, regression".to_string(), style::SLO_COLOR),
    ];
    style::legend_row(&top, 0, 4, &legend)?;

    let all = metrics(c);
    let shown = pick(c, &all);
    let comparable = c
        .rows
        .iter()
        .any(|r| !r.is_rate() && r.base.is_some() && r.candidate.is_some());
    if shown.is_empty() || !comparable {
        style::no_data(
            &grid,
            "No common metrics: the runs share no latency samples",
        )?;
    } else {
        let cols = match shown.len() {
            n @ 1..=2 => n,
            4 => 2,
            _ => 3,
        };
        let rows = shown.len().div_ceil(cols);
        let cells = grid.split_evenly((rows, cols));
        for (area, metric) in cells.iter().zip(&shown) {
            panel(area, c, *metric)?;
        }
        let hidden: Vec<&str> = all
            .iter()
            .filter(|m| !shown.contains(m))
            .map(|m| m.name())
            .collect();
        if !hidden.is_empty() {
            top.draw(&Text::new(
                format!("also compared (see table): {}", hidden.join(", ")),
                (w as i32, 13),
                style::anchored(
                    style::font(16).color(&style::MUTED),
                    HPos::Right,
                    VPos::Center,
                ),
            ))
            .map_err(err)?;
        }
    }
    error_strip(&strip, c)?;
    root.present().map_err(err)
}

/// One metric: a group per scope, and in each group a (base, candidate) pair per percentile.
fn panel(area: &Area, c: &Comparison, metric: Metric) -> anyhow::Result<()> {
    let (w, _) = area.dim_in_pixel();
    area.draw(&Text::new(
        metric.label(),
        (w as i32 / 2, 6),
        style::anchored(style::bold(20), HPos::Center, VPos::Top),
    ))
    .map_err(err)?;
    let body = area.margin(32, 6, 4, 4);
    let mut scopes: Vec<&str> = Vec::new();
    for r in c.rows.iter().filter(|r| r.metric == metric) {
        if !scopes.contains(&r.scope.as_str()) {
            scopes.push(&r.scope);
        }
    }
    let row = |scope: &str, stat: Stat| {
        c.rows
            .iter()
            .find(|r| r.metric == metric && r.scope == scope && r.stat == stat)
    };
    let values = scopes
        .iter()
        .flat_map(|s| STATS.iter().filter_map(move |st| row(s, *st)))
        .flat_map(|r| [r.base, r.candidate])
        .flatten();
    // Headroom above the tallest bar for its two label lines.
    let y = 0.0..style::range(0.0, style::max_of(values)).end * 1.3;
    let n = scopes.len().max(1) as f64;
    let axis = format::MsAxis::for_top(y.end);
    let mut chart = ChartBuilder::on(&body)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..n, y.clone())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(6)
        .y_desc(axis.title("time"))
        .axis_desc_style(style::font(17))
        .label_style(style::font(15))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(style::MUTED.mix(0.15))
        .y_label_formatter(&|v| axis.tick(*v))
        .draw()
        .map_err(err)?;
    let base_px = body.get_base_pixel();
    let px = |chart: &style::Chart, at: (f64, f64)| {
        let (x, y) = chart.backend_coord(&at);
        (x - base_px.0, y - base_px.1)
    };
    for (i, scope) in scopes.iter().enumerate() {
        // The label box (left, right, top) of the previous pair, to stack rather than overlap.
        let mut previous: Option<(i32, i32, i32)> = None;
        for (k, stat) in STATS.iter().enumerate() {
            let Some(r) = row(scope, *stat) else { continue };
            let verdict = Verdict::of(r, c.tolerance);
            let x0 = i as f64 + 0.08 + k as f64 * 0.44;
            let bars = [
                (x0, r.base, BASE_COLOR),
                (x0 + 0.2, r.candidate, *verdict.color()),
            ];
            for (x, value, color) in bars {
                if let Some(v) = value {
                    let rect = [(x, 0.0), (x + 0.18, v.min(y.end))];
                    chart
                        .draw_series([
                            Rectangle::new(rect, color.filled()),
                            Rectangle::new(rect, color.mix(0.9).stroke_width(1)),
                        ])
                        .map_err(err)?;
                }
            }
            let (cx, axis_y) = px(&chart, (x0 + 0.19, 0.0));
            body.draw(&Text::new(
                stat.to_string(),
                (cx, axis_y + 5),
                style::anchored(
                    style::font(14).color(&style::MUTED),
                    HPos::Center,
                    VPos::Top,
                ),
            ))
            .map_err(err)?;
            let delta = match (r.delta_pct(), verdict) {
                (_, Verdict::Missing) => "n/a".to_string(),
                (Some(p), _) => format::pct_change(p / 100.0),
                (None, _) => "–".to_string(),
            };
            let lines: Vec<&str> = [Some(delta.as_str()), verdict.word()]
                .into_iter()
                .flatten()
                .collect();
            let top_value = r.base.into_iter().chain(r.candidate).fold(0.0, f64::max);
            let (_, mut bottom) = px(&chart, (x0, top_value.min(y.end)));
            bottom -= 4;
            let label_style = |size| {
                let s = if verdict == Verdict::Regression {
                    style::bold(size)
                } else {
                    style::font(size)
                };
                s.color(verdict.color())
            };
            let width = lines
                .iter()
                .map(|l| text_width(l, &label_style(14)))
                .max()
                .unwrap_or(0);
            let (left, right) = (cx - width / 2, cx + width / 2);
            if let Some((pl, pr, ptop)) = previous {
                if left < pr && right > pl && bottom > ptop - 2 {
                    bottom = ptop - 2;
                }
            }
            for (j, line) in lines.iter().enumerate() {
                body.draw(&Text::new(
                    line.to_string(),
                    (cx, bottom - j as i32 * 17),
                    style::anchored(label_style(14), HPos::Center, VPos::Bottom),
                ))
                .map_err(err)?;
            }
            previous = Some((left, right, bottom - lines.len() as i32 * 17));
        }
        let (cx, axis_y) = px(&chart, (i as f64 + 0.5, 0.0));
        let room = px(&chart, (i as f64 + 0.96, 0.0)).0 - px(&chart, (i as f64 + 0.04, 0.0)).0;
        body.draw(&Text::new(
            crate::report::card::fit(scope, 16, room),
            (cx, axis_y + 24),
            style::anchored(style::bold(16), HPos::Center, VPos::Top),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// Error rates as one line of text per scope: small numbers read better than tiny bars.
fn error_strip(area: &Area, c: &Comparison) -> anyhow::Result<()> {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Rectangle::new(
        [(0, 6), (w as i32 - 1, h as i32 - 1)],
        style::MUTED.mix(0.4).stroke_width(1),
    ))
    .map_err(err)?;
    let mid = (h as i32 + 6) / 2;
    let head = style::bold(18);
    area.draw(&Text::new(
        "Error rate (base → candidate)",
        (16, mid),
        style::anchored(head.clone(), HPos::Left, VPos::Center),
    ))
    .map_err(err)?;
    let mut x = 16 + text_width("Error rate (base → candidate)", &head) + 36;
    let rates: Vec<&CompareRow> = c
        .rows
        .iter()
        .filter(|r| r.metric == Metric::ErrorRate)
        .collect();
    if rates.is_empty() {
        let note = style::anchored(
            style::font(17).color(&style::MUTED),
            HPos::Left,
            VPos::Center,
        );
        return area
            .draw(&Text::new("no common metrics", (x, mid), note))
            .map_err(err);
    }
    let pct = |v: Option<f64>| v.map_or("n/a".to_string(), format::pct);
    for r in rates {
        let verdict = Verdict::of(r, c.tolerance);
        let delta = r
            .delta()
            .map_or(String::new(), |d| format!(" ({})", format::pp(d)));
        let word = verdict.word().map_or(String::new(), |w| format!(" {w}"));
        let text = format!(
            "{}: {} → {}{delta}{word}",
            r.scope,
            pct(r.base),
            pct(r.candidate)
        );
        let s = match verdict {
            Verdict::Regression => style::bold(17).color(&style::SLO_COLOR),
            Verdict::Improved => style::font(17).color(&BETTER_COLOR),
            _ => style::font(17),
        };
        let width = text_width(&text, &s);
        // Past the right edge the remaining scopes are in the table; say so instead of clipping.
        if x + width > w as i32 - 16 {
            let more = style::anchored(
                style::font(17).color(&style::MUTED),
                HPos::Left,
                VPos::Center,
            );
            area.draw(&Text::new("… (see table)", (x, mid), more))
                .map_err(err)?;
            break;
        }
        area.draw(&Text::new(
            text,
            (x, mid),
            style::anchored(s, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
        x += width + 40;
    }
    Ok(())
}
