//! Judging a run from its results alone: SLO gates, capacity and the knee from the per-second
//! series, headroom against the planned event, a verdict per region and overall, and what was
//! not tested. Reads `RunResult` and `timeseries.csv`; never imports `engine` or `report`.

pub mod capacity;
pub mod planned;
pub mod readiness;
pub mod series;
pub mod slo;
mod untested;

use std::path::Path;

use crate::metrics::RunResult;

/// Assess a run whose results directory is `dir` (reads `dir/timeseries.csv`) and store the
/// readiness in the result. A missing or unreadable series still yields a verdict (AT RISK at
/// best, since capacity could not be measured) and a notice saying why.
pub fn assess_dir(dir: &Path, result: &mut RunResult) {
    let series = match series::read(&dir.join("timeseries.csv")) {
        Ok(s) => Some(s),
        Err(e) => {
            let notice = format!("capacity analysis skipped: {e}");
            if !result.notices.contains(&notice) {
                result.notices.push(notice);
            }
            None
        }
    };
    result.readiness = Some(readiness::assess(result, series.as_ref()));
}
