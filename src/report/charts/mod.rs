//! PNG charts (plotters, bitmap backend, embedded fonts), rendered from a results directory
//! alone: `results.json` (as a [`RunResult`]) and `timeseries.csv`. One file per chart; shared
//! palette, fonts, phase bands and "no data" handling live in [`style`].
//!
//! Every chart is attempted even when an earlier one fails, so one bad chart never costs the
//! others; the failures come back together for the caller to report.

pub mod breakdown;
pub mod compare;
pub mod errors;
pub mod fonts;
pub mod grouped;
pub mod latency;
pub mod load;
pub mod regions;
pub mod series;
pub mod stall;
pub mod steps;
pub mod style;
pub mod viewers;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::metrics::RunResult;
use series::Series;

/// What the analysis can add to the charts once it exists. Everything defaults to "not known".
#[derive(Debug, Clone, Default)]
pub struct ChartExtras {
    /// Concurrent viewers at which the first SLO broke (the knee), marked on `load-vs-p99.png`.
    pub knee_viewers: Option<f64>,
}

/// Outcome of [`render_all`]: the files written and, per failed chart, why.
#[derive(Debug, Default)]
pub struct Rendered {
    pub written: Vec<PathBuf>,
    pub failed: Vec<(String, anyhow::Error)>,
}

type Renderer = fn(&Path, &RunResult, &Series, &ChartExtras) -> anyhow::Result<bool>;

/// The charts, in the order the HTML report shows them. A renderer returns `Ok(false)` when the
/// chart does not apply to this run (no stall metric), so no empty chart is written.
pub const CHARTS: [(&str, &str, Renderer); 8] = [
    ("latency.png", "Latency over time", |p, r, s, _| {
        latency::render(p, r, s).map(|_| true)
    }),
    ("regions.png", "Percentiles by region", |p, r, _, _| {
        regions::render(p, r).map(|_| true)
    }),
    (
        "connect-breakdown.png",
        "Connection setup by region",
        |p, r, _, _| breakdown::render(p, r).map(|_| true),
    ),
    ("load-vs-p99.png", "Load vs join p99", |p, r, s, e| {
        load::render(p, r, s, e.knee_viewers).map(|_| true)
    }),
    ("errors.png", "Errors over time", |p, r, s, _| {
        errors::render(p, r, s).map(|_| true)
    }),
    ("viewers.png", "Viewers over time", |p, r, s, _| {
        viewers::render(p, r, s).map(|_| true)
    }),
    ("stall-ratio.png", "Stall ratio by region", |p, r, _, _| {
        stall::render(p, r)
    }),
    (
        "capacity-steps.png",
        "Capacity search steps",
        |p, r, _, _| steps::render(p, r),
    ),
];

/// Render every chart into `dir/charts/`. `timeseries.csv` missing or unreadable is itself a
/// failure, but the charts drawn from results.json alone are still written.
pub fn render_all(dir: &Path, result: &RunResult, extras: &ChartExtras) -> Rendered {
    let mut out = Rendered::default();
    let charts_dir = dir.join("charts");
    if let Err(e) = std::fs::create_dir_all(&charts_dir)
        .with_context(|| format!("creating {}", charts_dir.display()))
    {
        out.failed.push(("charts/".into(), e));
        return out;
    }
    let series = match Series::load(&dir.join("timeseries.csv")) {
        Ok(s) => s,
        Err(e) => {
            out.failed.push(("timeseries.csv".into(), e));
            Series::default()
        }
    };
    for (file, _, render) in CHARTS {
        let path = charts_dir.join(file);
        // A chart that does not apply must not leave a stale file from an earlier render.
        let _ = std::fs::remove_file(&path);
        // plotters can panic on degenerate input it does not anticipate; a panic in one chart
        // must not lose the report, so it is caught and reported like an error.
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            render(&path, result, &series, extras)
        }));
        match attempt {
            Ok(Ok(true)) => match crate::report::check_png(&path) {
                Ok(()) => out.written.push(path),
                Err(e) => out.failed.push((file.to_string(), e)),
            },
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                let _ = std::fs::remove_file(&path);
                out.failed.push((file.to_string(), e));
            }
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                out.failed.push((
                    file.to_string(),
                    anyhow::anyhow!("the chart renderer panicked"),
                ));
            }
        }
    }
    out
}
