//! `compare BASE CANDIDATE` as a list of stages: read both runs → compare them within the
//! tolerances → the plain table on stdout → the Markdown (`--out`) → the chart (`--chart`, or
//! beside `--out`). Exit 1 on a regression.

use std::path::PathBuf;

use anyhow::Context;

use super::Exit;
use crate::report::charts::compare as chart;
use crate::report::compare::{self, Tolerance};

/// How `compare` was asked to compare.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub base: PathBuf,
    pub candidate: PathBuf,
    pub tolerance: Tolerance,
    /// Also write the comparison as Markdown here.
    pub out: Option<PathBuf>,
    /// Where the chart goes; without it, beside `out` (if any).
    pub chart: Option<PathBuf>,
}

pub fn run(opts: &CompareOptions) -> anyhow::Result<Exit> {
    let c = compare::compare_paths(&opts.base, &opts.candidate, opts.tolerance)?;
    print!("{}", c.plain());
    if let Some(out) = &opts.out {
        crate::report::write_atomic(out, c.markdown().as_bytes())?;
        println!("  Comparison: {}", out.display());
    }
    if let Some(path) = chart_path(opts) {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        chart::render(
            &path,
            &c,
            &chart::run_name(&opts.base),
            &chart::run_name(&opts.candidate),
        )
        .with_context(|| format!("drawing {}", path.display()))?;
        println!("  Chart: {}", path.display());
    }
    Ok(if c.regressed() {
        Exit::Failed
    } else {
        Exit::Success
    })
}

/// An explicit `--chart` wins; otherwise the chart follows `--out`. `out.png` given as `--out`
/// must not be overwritten by its own chart, hence the `.chart.png` fallback.
fn chart_path(opts: &CompareOptions) -> Option<PathBuf> {
    opts.chart.clone().or_else(|| {
        opts.out.as_ref().map(|o| match o.extension() {
            Some(e) if e.eq_ignore_ascii_case("png") => o.with_extension("chart.png"),
            _ => o.with_extension("png"),
        })
    })
}
