//! Judging a run from its results alone: SLO gates, capacity and the knee from the per-second
//! series, headroom against the planned event, a verdict per region and overall, and what was
//! not tested. Reads `RunResult` and `timeseries.csv`; never imports `engine` or `report`.

pub mod capacity;
pub mod network;
pub mod readiness;
pub mod search;
pub mod series;
pub mod slo;
pub mod step;
pub mod target;
mod untested;

use std::path::Path;

use crate::metrics::RunResult;

/// The judgement every verb applies to a fresh RunResult (and `report DIR` to a loaded one):
/// SLO gates per scope, "nobody joined" called out, and, when the run has a results directory,
/// readiness from its `timeseries.csv` read back exactly as a re-render will.
pub fn judge(result: &mut RunResult, dir: Option<&Path>) {
    slo::evaluate(result);
    let nobody_joined = result.overall.joins.attempted > 0 && result.overall.joins.succeeded == 0;
    let notice = "no viewer could join: the run fails whatever the SLOs say";
    if nobody_joined && !result.notices.iter().any(|n| n == notice) {
        result.notices.push(notice.into());
    }
    if let Some(dir) = dir {
        assess_dir(dir, result);
    }
}

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
    let mut readiness = readiness::assess(result, series.as_ref());
    // A capacity search's verdict comes from its steps, not from this directory's one run.
    if let Some(c) = &result.capacity {
        let shares: Vec<(String, f64)> = result
            .scenario
            .resolved
            .iter()
            .flat_map(|s| &s.regions)
            .map(|x| (x.name.clone(), x.share))
            .collect();
        search::apply(&mut readiness, c, &shares);
    }
    if let Some(why) = &result.incomplete {
        mark_incomplete(&mut readiness, why);
    }
    result.readiness = Some(readiness);
}

/// A run whose per-second files could not all be written gets no verdict: capacity, knee and
/// headroom would be computed from the seconds that happened to be written before the disk
/// filled, so they are withdrawn, not shown as findings.
fn mark_incomplete(readiness: &mut crate::metrics::result::Readiness, why: &str) {
    let reason = format!(
        "INCOMPLETE: {why}, so no readiness verdict is computed from the truncated per-second \
         data. Whole-run figures (percentiles, errors, SLO results) are exact. Free disk space \
         for the results directory and run again"
    );
    readiness.headroom_words = reason.clone();
    for scope in std::iter::once(&mut readiness.overall).chain(readiness.regions.iter_mut()) {
        scope.verdict = crate::metrics::result::Verdict::Incomplete;
        scope.reasons = vec![reason.clone()];
        scope.held_viewers = None;
        scope.held_joins_per_sec = None;
        scope.knee = None;
        scope.headroom = None;
    }
}
