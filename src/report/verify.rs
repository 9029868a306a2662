//! Refusing corrupt results inputs: `report`, `compare` and `merge` read files a person may have
//! edited, truncated or copied half-way. A histogram that does not decode, a CSV row cut short, a
//! negative or out-of-order second would otherwise flow into percentiles and verdicts, so they
//! are refused (exit 2) with the file, the place and what to do.

use std::collections::HashMap;
use std::path::Path;

use anyhow::bail;

use crate::metrics::result::decode_histogram;
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

/// timeseries.csv is whole: every row has the header's fields, `second` is a whole number ≥ 0,
/// and seconds never go back within a region. `cut_ok`: the run said its per-second data is
/// incomplete (a full disk), so a last line cut short is expected and skipped.
pub fn series(path: &Path, cut_ok: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let mut lines = text.split('\n').enumerate().peekable();
    let Some((_, header)) = lines.next() else {
        bail!("{}: empty file", path.display());
    };
    let fields: Vec<&str> = header.split(',').collect();
    let (Some(second_col), Some(region_col)) = (
        fields.iter().position(|f| *f == "second"),
        fields.iter().position(|f| *f == "region"),
    ) else {
        bail!(
            "{}: line 1 has no `second` and `region` columns: not a peakready timeseries.csv",
            path.display()
        );
    };
    let mut last: HashMap<&str, u64> = HashMap::new();
    while let Some((i, line)) = lines.next() {
        let n = i + 1;
        let is_last = !matches!(lines.peek(), Some((_, rest)) if !rest.is_empty());
        if line.is_empty() && is_last {
            break;
        }
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != fields.len() {
            if cut_ok && is_last {
                break;
            }
            bail!(
                "{}: line {n} has {} fields, the header has {}: the file is truncated or was edited. \
                 Restore it from the run (or re-run); nothing was rendered",
                path.display(),
                cells.len(),
                fields.len()
            );
        }
        let raw = cells[second_col];
        let Ok(second) = raw.parse::<u64>() else {
            bail!(
                "{}: line {n}: second `{raw}` is not a whole number of seconds from 0: the file was edited",
                path.display()
            );
        };
        let region = cells[region_col];
        if let Some(prev) = last.insert(region, second) {
            if second < prev {
                bail!(
                    "{}: line {n}: second {second} of region `{region}` comes after second {prev}: rows out of order, the file was edited",
                    path.display()
                );
            }
        }
    }
    Ok(())
}
