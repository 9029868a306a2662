//! The report card's numbers: viewers who could not watch, connect p99, join p95, first-frame
//! p95, request error rate and peak concurrent viewers against the readiness target, each with
//! the SLO it is held to and how it stands (word + colour).

use plotters::prelude::*;

use super::{fit, wrap, Severity, WIDTH};
use crate::format;
use crate::metrics::{Metric, RunResult, SloResult, Stat};
use crate::report::charts::style::{bold, err, font, Area, MUTED, TEXT};

/// One of the numbers: its name, value, the SLO it is held to, and how it stands.
pub(super) struct Tile {
    pub name: &'static str,
    pub value: String,
    pub target: String,
    pub status: Option<(Severity, String)>,
}

fn slo_tile(result: &RunResult, name: &'static str, metric: Metric, stat: Stat) -> Tile {
    let format = |v: f64| format::value(metric, v);
    let o = &result.overall;
    let measured = o.value(metric, stat);
    let gate = result
        .slo
        .iter()
        .find(|g| g.scope == "overall" && g.metric == metric && g.stat == stat);
    let slo = |g: &SloResult| {
        let default = if g.default { " (default)" } else { "" };
        format!("SLO ≤ {}{default}", format(g.threshold))
    };
    let (mut target, status) = match gate {
        Some(g) if g.passed => (slo(g), Some((Severity::Ok, "within SLO".to_string()))),
        Some(g) => (slo(g), Some((Severity::Critical, "over SLO".to_string()))),
        None if measured.is_none() => ("not measured by this run".to_string(), None),
        None => ("no SLO set".to_string(), None),
    };
    // A percentile over the viewers that got that far: say how many.
    if let Some(over) = crate::report::viewers::over_viewers(o, metric) {
        target = format!("over {over} · {target}");
    }
    if metric == Metric::ViewerFailureRate {
        target = format!(
            "{} of {} · {target}",
            format::count(o.viewers.failed as f64),
            format::count(o.viewers.started as f64)
        );
    }
    Tile {
        name,
        value: match (measured, gate) {
            (Some(v), _) => format(v),
            // A gated metric with no samples failed its SLO: say so; otherwise a dash.
            (None, Some(_)) => "no samples".into(),
            (None, None) => "–".into(),
        },
        target,
        status,
    }
}

/// Peak concurrency against the readiness target: the same two figures report.md's readiness
/// table and the checklist print.
fn peak_tile(result: &RunResult) -> Tile {
    let rd = result.readiness.as_ref().map(|r| &r.overall);
    let peak = rd.map_or(result.overall.peak_concurrent_viewers, |r| r.peak_viewers) as f64;
    match rd.map(|r| r.target_viewers) {
        Some(target) if target > 0.0 => {
            let share = peak / target;
            let status = if share >= 0.95 {
                (Severity::Ok, "target reached".to_string())
            } else {
                (
                    Severity::Warning,
                    format!("{} of the target", format::pct(share)),
                )
            };
            Tile {
                name: "Peak concurrent viewers",
                value: format::count(peak),
                target: format!("readiness target: {}", format::num(target)),
                status: Some(status),
            }
        }
        _ => Tile {
            name: "Peak concurrent viewers",
            value: format::count(peak),
            target: "no readiness target".into(),
            status: None,
        },
    }
}

/// The card's numbers, left to right.
pub(super) fn tiles(result: &RunResult) -> Vec<Tile> {
    vec![
        slo_tile(
            result,
            "Viewers who could not watch",
            Metric::ViewerFailureRate,
            Stat::Value,
        ),
        slo_tile(result, "Connect time p99", Metric::ConnectMs, Stat::P99),
        slo_tile(result, "Join time p95", Metric::JoinMs, Stat::P95),
        slo_tile(result, "First frame p95", Metric::FirstFrameMs, Stat::P95),
        slo_tile(result, "Request error rate", Metric::ErrorRate, Stat::Value),
        peak_tile(result),
    ]
}

pub(super) fn numbers(root: &Area, result: &RunResult, y: i32) -> anyhow::Result<()> {
    let tiles = tiles(result);
    let gap = 16;
    let n = tiles.len() as i32;
    let w = (WIDTH as i32 - 80 - gap * (n - 1)) / n;
    for (i, t) in tiles.iter().enumerate() {
        let x0 = 40 + i as i32 * (w + gap);
        let (y0, y1) = (y, y + 215);
        root.draw(&Rectangle::new([(x0, y0), (x0 + w, y1)], WHITE.filled()))
            .map_err(err)?;
        let edge = t.status.as_ref().map_or(MUTED, |s| s.0.color());
        root.draw(&Rectangle::new(
            [(x0, y0), (x0 + w, y1)],
            MUTED.mix(0.35).stroke_width(1),
        ))
        .map_err(err)?;
        // A coloured strip on the left edge, backed by the status words below.
        root.draw(&Rectangle::new([(x0, y0), (x0 + 8, y1)], edge.filled()))
            .map_err(err)?;
        for (j, line) in wrap(t.name, 17, w - 36).into_iter().take(2).enumerate() {
            root.draw(&Text::new(
                line,
                (x0 + 24, y0 + 12 + j as i32 * 21),
                font(17).color(&MUTED),
            ))
            .map_err(err)?;
        }
        root.draw(&Text::new(
            fit(&t.value, 40, w - 36),
            (x0 + 24, y0 + 60),
            bold(40).color(&TEXT),
        ))
        .map_err(err)?;
        // Two lines, wrapped at words: the target line says "over 20 of 100 viewers".
        for (j, line) in wrap(&t.target, 15, w - 36).into_iter().take(2).enumerate() {
            root.draw(&Text::new(
                line,
                (x0 + 24, y0 + 112 + j as i32 * 19),
                font(15).color(&TEXT),
            ))
            .map_err(err)?;
        }
        if let Some((sev, words)) = &t.status {
            let text = format!("{} {words}", sev.symbol());
            root.draw(&Text::new(
                fit(&text, 19, w - 36),
                (x0 + 24, y0 + 165),
                bold(19).color(&sev.color()),
            ))
            .map_err(err)?;
        }
    }
    Ok(())
}
