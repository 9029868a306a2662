//! The report card's "five numbers": connect p99, join p95, first-frame p95, error rate and
//! peak concurrent viewers, each with the SLO it is held to and how it stands (word + colour).

use plotters::prelude::*;

use super::risks::planned_peak;
use super::{fit, Severity, WIDTH};
use crate::format;
use crate::metrics::{Metric, RunResult, Stat};
use crate::report::charts::style::{bold, err, font, Area, MUTED, TEXT};

/// One of the five numbers: its name, value, the SLO it is held to, and how it stands.
struct Tile {
    name: &'static str,
    value: String,
    target: String,
    status: Option<(Severity, String)>,
}

fn slo_tile(result: &RunResult, name: &'static str, metric: Metric, stat: Stat) -> Tile {
    let format = |v: f64| format::value(metric, v);
    let measured = result.overall.value(metric, stat);
    let gate = result
        .slo
        .iter()
        .find(|g| g.scope == "overall" && g.metric == metric && g.stat == stat);
    let (target, status) = match gate {
        Some(g) if g.passed => (
            format!("SLO ≤ {}", format(g.threshold)),
            Some((Severity::Ok, "within SLO".to_string())),
        ),
        Some(g) => (
            format!("SLO ≤ {}", format(g.threshold)),
            Some((Severity::Critical, "over SLO".to_string())),
        ),
        None => ("no SLO set".to_string(), None),
    };
    Tile {
        name,
        value: measured.map(format).unwrap_or_else(|| "no samples".into()),
        target,
        status,
    }
}

pub(super) fn numbers(root: &Area, result: &RunResult, y: i32) -> anyhow::Result<()> {
    let peak = result.overall.peak_concurrent_viewers as f64;
    let peak_tile = match planned_peak(result) {
        Some(plan) if plan > 0.0 => {
            let share = peak / plan;
            let status = if share >= 0.95 {
                (Severity::Ok, "planned peak reached".to_string())
            } else {
                (
                    Severity::Warning,
                    format!("{:.0}% of planned peak", share * 100.0),
                )
            };
            Tile {
                name: "Peak concurrent viewers",
                value: format::count(peak),
                target: format!("planned at this scale: {}", format::count(plan)),
                status: Some(status),
            }
        }
        _ => Tile {
            name: "Peak concurrent viewers",
            value: format::count(peak),
            target: "no event forecast".into(),
            status: None,
        },
    };
    let tiles = [
        slo_tile(result, "Connect time p99", Metric::ConnectMs, Stat::P99),
        slo_tile(result, "Join time p95", Metric::JoinMs, Stat::P95),
        slo_tile(result, "First frame p95", Metric::FirstFrameMs, Stat::P95),
        slo_tile(result, "Error rate", Metric::ErrorRate, Stat::Value),
        peak_tile,
    ];
    let gap = 20;
    let w = (WIDTH as i32 - 80 - gap * 4) / 5;
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
        root.draw(&Text::new(
            t.name,
            (x0 + 24, y0 + 18),
            font(19).color(&MUTED),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            fit(&t.value, 44, w - 36),
            (x0 + 24, y0 + 52),
            bold(44).color(&TEXT),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            fit(&t.target, 17, w - 36),
            (x0 + 24, y0 + 120),
            font(17).color(&TEXT),
        ))
        .map_err(err)?;
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
