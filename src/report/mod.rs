//! Rendering: every output file is rendered from a [`RunResult`] alone (or a results directory,
//! via [`load`]), never from live engine state, so `peakready report DIR` reproduces them.
//! Never imports `engine`.

pub mod card;
pub mod charts;
pub mod checklist;
pub mod compare;
pub mod html;
pub mod markdown;
pub mod summary;
pub mod table;

use std::fs;
use std::path::Path;

use anyhow::Context;

use crate::metrics::RunResult;

/// Write `results.json` atomically (temp file + rename): a crash mid-write never leaves a
/// half-written file where a good one was.
pub fn write_results(dir: &Path, result: &RunResult) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(result).context("serializing results")?;
    write_atomic(&dir.join("results.json"), &json)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Render every human-facing file from the result.
pub fn render_all(dir: &Path, result: &RunResult) -> anyhow::Result<()> {
    write_atomic(&dir.join("report.md"), markdown::render(result).as_bytes())?;
    write_atomic(
        &dir.join("checklist.md"),
        checklist::render(result).as_bytes(),
    )?;
    // Charts, card and HTML come after report.md and never stop each other: a failed chart is
    // reported once everything that could be written has been.
    let extras = charts::ChartExtras {
        knee_viewers: result
            .readiness
            .as_ref()
            .and_then(|r| r.overall.knee.as_ref())
            .map(|k| k.active_viewers as f64),
    };
    let charts = charts::render_all(dir, result, &extras);
    let mut failed: Vec<String> = charts
        .failed
        .iter()
        .map(|(file, e)| format!("{file}: {e:#}"))
        .collect();
    let badges = card::Badge::for_result(result);
    if let Err(e) = card::render(&dir.join("report-card.png"), result, &badges) {
        failed.push(format!("report-card.png: {e:#}"));
    }
    if let Err(e) = html::write(dir, result) {
        failed.push(format!("report.html: {e:#}"));
    }
    if !failed.is_empty() {
        anyhow::bail!("some report files could not be rendered (results.json, report.md and the rest are written):\n  {}", failed.join("\n  "));
    }
    Ok(())
}

/// Read a results directory back.
pub fn load(dir: &Path) -> anyhow::Result<RunResult> {
    let path = dir.join("results.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let result: RunResult = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a peakready results file", path.display()))?;
    if result.schema != crate::metrics::result::SCHEMA_VERSION {
        anyhow::bail!(
            "{} has schema {}, this peakready reads schema {}",
            path.display(),
            result.schema,
            crate::metrics::result::SCHEMA_VERSION
        );
    }
    Ok(result)
}
