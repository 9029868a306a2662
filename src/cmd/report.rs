//! `report DIR` as a list of stages: read results.json → recompute the readiness from it and
//! timeseries.csv (files from before the analysis existed gain it, and a re-render always
//! matches the current rules) → write results.json again only if that changed → render every
//! report file → the summary.

use std::path::Path;

use super::Exit;
use crate::{analysis, report};

pub fn run(dir: &Path) -> anyhow::Result<Exit> {
    let mut result = report::load(dir)?;
    let before = result.readiness.clone();
    analysis::assess_dir(dir, &mut result);
    if result.readiness != before {
        report::write_results(dir, &result)?;
    }
    report::render_all(dir, &result)?;
    println!("{}", report::summary::render(&result));
    println!("Re-rendered the report in {}", dir.display());
    Ok(Exit::Success)
}
