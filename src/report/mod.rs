//! Rendering: every output file is rendered from a [`RunResult`] alone (or a results directory,
//! via [`load`]), never from live engine state, so `peakready report DIR` reproduces them.
//! Never imports `engine`.

pub mod capacity;
pub mod card;
pub mod charts;
pub mod checklist;
pub mod compare;
pub mod compare_capacity;
pub mod html;
pub mod markdown;
pub mod summary;
pub mod table;
pub mod verify;
pub mod viewers;

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

/// Writes through a temp file and a rename. On failure (a full disk) the temp file is removed
/// and no partial file takes the path: what is there is whole or absent.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let written = fs::write(&tmp, bytes)
        .with_context(|| format!("writing {}", path.display()))
        .and_then(|()| {
            fs::rename(&tmp, path)
                .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
        });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// A PNG a renderer wrote is kept only when it is whole (ends with its IEND chunk): plotters
/// writes through a buffered file whose last flush error is lost, so a full disk would
/// otherwise leave a 0-byte or truncated image behind.
pub fn check_png(path: &Path) -> anyhow::Result<()> {
    const IEND: &[u8] = b"IEND\xaeB`\x82";
    let whole = fs::read(path).is_ok_and(|b| b.len() > 8 && b.ends_with(IEND));
    if !whole {
        let _ = fs::remove_file(path);
        anyhow::bail!(
            "{} was not written whole (disk full?); removed",
            path.display()
        );
    }
    Ok(())
}

/// Results of `peakready quick` (one URL, no scenario): no event, regions or plan to report on.
pub fn is_quick(r: &RunResult) -> bool {
    r.scenario.source == "quick"
        && r.regions.len() == 1
        && r.regions.iter().all(|b| b.name == "quick")
}

/// Render every human-facing file from the result; the error lists every file not written.
pub fn render_all(dir: &Path, result: &RunResult) -> anyhow::Result<()> {
    let failed = render_files(dir, result);
    if !failed.is_empty() {
        let lines: Vec<String> = failed.iter().map(|(f, e)| format!("{f}: {e}")).collect();
        anyhow::bail!(
            "some report files could not be written:\n  {}",
            lines.join("\n  ")
        );
    }
    Ok(())
}

/// Render every human-facing file; returns the files that could not be written, with why.
/// One failure never stops the others.
pub fn render_files(dir: &Path, result: &RunResult) -> Vec<(String, String)> {
    let mut failed: Vec<(String, String)> = Vec::new();
    for (file, text) in [
        ("report.md", markdown::render(result)),
        ("checklist.md", checklist::render(result)),
    ] {
        if let Err(e) = write_atomic(&dir.join(file), text.as_bytes()) {
            failed.push((file.to_string(), format!("{e:#}")));
        }
    }
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
    failed.extend(
        charts
            .failed
            .iter()
            .map(|(file, e)| (format!("charts/{file}"), format!("{e:#}"))),
    );
    let badges = card::Badge::for_result(result);
    let card_path = dir.join("report-card.png");
    if let Err(e) = card::render(&card_path, result, &badges).and_then(|()| check_png(&card_path)) {
        let _ = fs::remove_file(&card_path);
        failed.push(("report-card.png".into(), format!("{e:#}")));
    }
    if let Err(e) = html::write(dir, result) {
        failed.push(("report.html".into(), format!("{e:#}")));
    }
    failed
}

/// Read a results directory back.
pub fn load(dir: &Path) -> anyhow::Result<RunResult> {
    let path = dir.join("results.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let result = crate::metrics::schema::read(&text, &path.display().to_string())?;
    verify::histograms(&path, &result)?;
    let csv = dir.join("timeseries.csv");
    if csv.exists() {
        verify::series(&csv, result.incomplete.is_some())?;
    }
    Ok(result)
}
