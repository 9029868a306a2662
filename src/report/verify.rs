//! Refusing corrupt results inputs: `report`, `compare` and `merge` read files a person may have
//! edited, truncated or copied half-way. A histogram that does not decode, a CSV row cut short, a
//! negative or out-of-order second would otherwise flow into percentiles and verdicts, so they
//! are refused (exit 2) with the file, the place and what to do.

use std::collections::HashMap;
use std::path::Path;

use anyhow::bail;

use crate::metrics::result::decode_histogram;
use crate::metrics::series_file::SeriesFile;
use crate::metrics::{Breakdown, RunResult};

/// Every `hdr` in results.json decodes, and holds the count its summary states.
pub fn histograms(path: &Path, result: &RunResult) -> anyhow::Result<()> {
    let scopes = result
        .regions
        .iter()
        .map(|b| (format!("regions[{}]", b.name), b))
        .chain(std::iter::once(("overall".to_string(), &result.overall)));
    for (scope, b) in scopes {
        check_breakdown(path, &scope, b)?;
        for p in &b.phases {
            check_breakdown(path, &format!("{scope}.phases[{}]", p.name), p)?;
        }
    }
    Ok(())
}

fn check_breakdown(path: &Path, scope: &str, b: &Breakdown) -> anyhow::Result<()> {
    for (metric, m) in &b.metrics {
        let at = format!("{}: {scope}.metrics.{}.hdr", path.display(), metric.name());
        let h = match decode_histogram(&m.hdr) {
            Ok(h) => h,
            Err(e) => bail!(
                "{at} is not a valid HdrHistogram ({e}): the file was altered or truncated. \
                 Restore results.json from the run (or re-run); nothing was rendered"
            ),
        };
        if h.len() != m.count {
            bail!(
                "{at} holds {} samples but the summary says count {}: the file was altered. \
                 Restore results.json from the run (or re-run); nothing was rendered",
                h.len(),
                m.count
            );
        }
    }
    Ok(())
}

/// timeseries.csv is whole: every row has the header's fields (see the one reader,
/// `metrics::series_file`), `second` is a whole number ≥ 0, and seconds never go back within a
/// region. `cut_ok`: the run said its per-second data is incomplete (a full disk), so a last
/// line cut short is expected and skipped.
pub fn series(path: &Path, cut_ok: bool) -> anyhow::Result<()> {
    let file =
        SeriesFile::read(path).map_err(|e| anyhow::anyhow!("{e:#}; nothing was rendered"))?;
    if let (Some(n), false) = (file.torn_last_line, cut_ok) {
        bail!(
            "{}: line {n} has fewer fields than the header: the file is truncated or was edited. \
             Restore it from the run (or re-run); nothing was rendered",
            path.display()
        );
    }
    let mut last: HashMap<&str, u64> = HashMap::new();
    for row in &file.rows {
        if let Some(prev) = last.insert(&row.region, row.second) {
            if row.second < prev {
                bail!(
                    "{}: line {}: second {} of region `{}` comes after second {prev}: rows out of order, the file was edited",
                    path.display(),
                    row.line,
                    row.second,
                    row.region
                );
            }
        }
    }
    Ok(())
}
