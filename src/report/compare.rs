//! `peakready compare BASE CANDIDATE`: the readiness verdict and peak viewers per scope, then
//! per region and metric p50/p95/p99, the request error rate, the viewer failure and video start
//! failure rates and the stall ratio, side by side with deltas, and a regression verdict for CI
//! gates.
//!
//! A latency regression must be worse by more than **both** tolerances (percentage and
//! milliseconds): the percentage alone flags 1 ms → 1.3 ms noise, the milliseconds alone miss a
//! doubling of a fast metric. A percentile is judged only when each run has at least
//! [`BEYOND`] samples beyond it ([`min_samples`]: 10 for p50, 100 for p95, 500 for p99); below
//! that it is shown but never called a regression (a p99 of 30 samples is just the worst one). A rate
//! regression is a rise of more than `error_pp` percentage points. A verdict that got worse
//! (READY → AT RISK → NOT READY) is a regression. [`Comparison`] is public so a chart can be
//! drawn from it.

use std::path::Path;

use anyhow::Context;

use crate::metrics::result::Verdict;
use crate::metrics::{Breakdown, Metric, RunResult, Stat, Unit, METRICS};

use super::table::{Align, Table};
use crate::format;

/// Metrics compared: every timing about the target, in table order (`metrics::METRICS`); the
/// generator's own lag says nothing about the target.
fn compared_metrics() -> impl Iterator<Item = Metric> {
    METRICS
        .iter()
        .filter(|i| i.unit == Unit::Millis && !i.about_generator)
        .map(|i| i.metric)
}
const STATS: [Stat; 3] = [Stat::P50, Stat::P95, Stat::P99];
/// Fewer samples than this on either side and a latency change is not judged.
pub const BEYOND: f64 = 5.0;

/// Samples a run needs for `stat` to be judged: [`BEYOND`] of them past the percentile.
pub fn min_samples(stat: Stat) -> u64 {
    let q = match stat {
        Stat::P50 => 0.5,
        Stat::P90 => 0.9,
        Stat::P95 => 0.95,
        Stat::P99 => 0.99,
        Stat::P999 => 0.999,
        _ => 0.0,
    };
    (BEYOND / (1.0 - q)).round() as u64
}
/// Fractions compared per scope, in percentage points: (metric, stat).
const RATES: [(Metric, Stat); 4] = [
    (Metric::ErrorRate, Stat::Value),
    (Metric::ViewerFailureRate, Stat::Value),
    (Metric::VideoStartFailureRate, Stat::Value),
    (Metric::StallRatio, Stat::P95),
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Percent worse a latency must be (relative to base) …
    pub pct: f64,
    /// … and milliseconds worse, for a regression.
    pub ms: f64,
    /// Percentage points an error rate must rise by.
    pub error_pp: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            pct: 10.0,
            ms: 5.0,
            error_pp: 1.0,
        }
    }
}

/// One compared value: a metric's stat in one scope (`error_rate` has stat `value`).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub scope: String,
    pub metric: Metric,
    pub stat: Stat,
    /// Milliseconds for `*_ms`, a fraction for `error_rate`; `None` when that run has no samples.
    pub base: Option<f64>,
    pub candidate: Option<f64>,
    pub regression: bool,
    /// Samples behind a latency on each side, when fewer than [`min_samples`] kept it unjudged.
    pub too_few: Option<(u64, u64)>,
}

impl CompareRow {
    /// A fraction (rates, the stall ratio), compared in percentage points.
    pub fn is_rate(&self) -> bool {
        self.metric.unit() == Unit::Ratio
    }

    pub fn delta(&self) -> Option<f64> {
        Some(self.candidate? - self.base?)
    }

    /// Change relative to base, in percent; `None` when base is zero or missing.
    pub fn delta_pct(&self) -> Option<f64> {
        let b = self.base?;
        (b > 0.0)
            .then(|| self.delta().map(|d| d / b * 100.0))
            .flatten()
    }
}

#[derive(Debug, Clone)]
pub struct Comparison {
    /// How each run is named in the output (path, scenario, start time).
    pub base: String,
    pub candidate: String,
    pub tolerance: Tolerance,
    pub rows: Vec<CompareRow>,
    /// Readiness and peak concurrent viewers per scope; a worse verdict is a regression.
    pub scopes: Vec<ScopeChange>,
    /// Differences that make the comparison less like-for-like.
    pub warnings: Vec<String>,
    /// Both runs are capacity searches: their capacities compared.
    pub capacity: Option<super::compare_capacity::CapacityComparison>,
}

/// One scope's verdict and peak concurrency in each run.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeChange {
    pub scope: String,
    pub base: Option<Verdict>,
    pub candidate: Option<Verdict>,
    pub base_peak: Option<u64>,
    pub candidate_peak: Option<u64>,
}

impl ScopeChange {
    pub fn worse(&self) -> bool {
        matches!((self.base, self.candidate), (Some(b), Some(c)) if c > b)
    }
}

impl Comparison {
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|r| r.regression)
            || self.scopes.iter().any(ScopeChange::worse)
            || self.capacity.as_ref().is_some_and(|c| c.regression)
    }
}

/// Read a results directory, or a results.json file directly.
pub fn load_any(path: &Path) -> anyhow::Result<RunResult> {
    if path.is_dir() {
        return super::load(path);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let result = crate::metrics::schema::read(&text, &path.display().to_string())?;
    super::verify::histograms(path, &result)?;
    Ok(result)
}

pub fn compare_paths(base: &Path, candidate: &Path, tol: Tolerance) -> anyhow::Result<Comparison> {
    let b = load_any(base)?;
    let c = load_any(candidate)?;
    let label = |p: &Path, r: &RunResult| {
        format!(
            "{} ({}, {})",
            p.display(),
            r.scenario.name,
            r.started_at.format("%Y-%m-%d %H:%M UTC")
        )
    };
    Ok(compare(&b, &c, tol, label(base, &b), label(candidate, &c)))
}

fn latency_row(
    scope: &str,
    metric: Metric,
    stat: Stat,
    b: Option<&Breakdown>,
    c: Option<&Breakdown>,
    tol: Tolerance,
) -> CompareRow {
    let get = |x: Option<&Breakdown>| x.and_then(|x| x.value(metric, stat));
    let (base, candidate) = (get(b), get(c));
    let count = |x: Option<&Breakdown>| x.and_then(|x| x.metrics.get(&metric)).map(|m| m.count);
    let too_few = match (count(b), count(c)) {
        (Some(bn), Some(cn)) if bn.min(cn) < min_samples(stat) => Some((bn, cn)),
        _ => None,
    };
    let regression = match (base, candidate) {
        _ if too_few.is_some() => false,
        (Some(bv), Some(cv)) => {
            let d = cv - bv;
            d > tol.ms && (bv <= 0.0 || d / bv * 100.0 > tol.pct)
        }
        _ => false,
    };
    CompareRow {
        scope: scope.into(),
        metric,
        stat,
        base,
        candidate,
        regression,
        too_few,
    }
}

/// A fraction of one scope, compared in percentage points; `None` when neither run has it.
fn rate_row(
    scope: &str,
    (metric, stat): (Metric, Stat),
    b: Option<&Breakdown>,
    c: Option<&Breakdown>,
    tol: Tolerance,
) -> Option<CompareRow> {
    let get = |x: Option<&Breakdown>| x.and_then(|x| x.value(metric, stat));
    let (base, candidate) = (get(b), get(c));
    if base.is_none() && candidate.is_none() && metric != Metric::ErrorRate {
        return None;
    }
    let regression =
        matches!((base, candidate), (Some(bv), Some(cv)) if (cv - bv) * 100.0 > tol.error_pp);
    Some(CompareRow {
        scope: scope.into(),
        metric,
        stat,
        base,
        candidate,
        regression,
        too_few: None,
    })
}

/// The top-level scenario keys whose content differs between the runs, leaving out what
/// legitimately differs between two runs of one scenario (the path the file was given by, the
/// embedded server's address), as `merge` does.
fn scenario_changes(base: &RunResult, cand: &RunResult) -> Vec<String> {
    match (&base.scenario.resolved, &cand.scenario.resolved) {
        (Some(b), Some(c)) => {
            crate::scenario::differing_sections(b, c, &["source", "target.base_url"])
        }
        _ => Vec::new(),
    }
}

pub fn compare(
    base: &RunResult,
    cand: &RunResult,
    tol: Tolerance,
    base_label: String,
    cand_label: String,
) -> Comparison {
    let mut warnings = Vec::new();
    if base.scenario.name != cand.scenario.name {
        warnings.push(format!(
            "different scenarios: `{}` vs `{}`",
            base.scenario.name, cand.scenario.name
        ));
    }
    if (base.scenario.scale - cand.scenario.scale).abs() > 1e-9 {
        warnings.push(format!(
            "different scales: {} vs {}",
            base.scenario.scale, cand.scenario.scale
        ));
    }
    let changed = scenario_changes(base, cand);
    if base.scenario.name == cand.scenario.name && !changed.is_empty() {
        warnings.push(format!(
            "scenario `{}` differs between the runs (in: {}): the load or the gates were not the same",
            cand.scenario.name,
            changed.join(", ")
        ));
    }
    // Scopes: candidate's regions, then base-only regions, then overall.
    let mut scopes: Vec<String> = cand.regions.iter().map(|r| r.name.clone()).collect();
    for r in &base.regions {
        if !scopes.contains(&r.name) {
            scopes.push(r.name.clone());
        }
    }
    let find = |r: &'_ RunResult, name: &str| -> Option<Breakdown> {
        if name == "overall" {
            return Some(r.overall.clone());
        }
        r.regions.iter().find(|b| b.name == name).cloned()
    };
    scopes.push("overall".into());
    let capacity =
        match super::compare_capacity::compare(base.capacity.as_ref(), cand.capacity.as_ref()) {
            Ok(c) => c,
            Err(w) => {
                warnings.push(w);
                None
            }
        };
    if capacity.is_some() {
        warnings.push("capacity searches: the latency rows compare each search's hold (or last step), which ran at that search's own level".into());
    }
    let mut rows = Vec::new();
    for scope in &scopes {
        let (b, c) = (find(base, scope), find(cand, scope));
        for metric in compared_metrics() {
            let present =
                |x: &Option<Breakdown>| x.as_ref().is_some_and(|x| x.metrics.contains_key(&metric));
            if !present(&b) && !present(&c) {
                continue;
            }
            for stat in STATS {
                rows.push(latency_row(
                    scope,
                    metric,
                    stat,
                    b.as_ref(),
                    c.as_ref(),
                    tol,
                ));
            }
        }
        for rate in RATES {
            rows.extend(rate_row(scope, rate, b.as_ref(), c.as_ref(), tol));
        }
    }
    let verdict = |r: &RunResult, scope: &str| {
        let rd = r.readiness.as_ref()?;
        rd.regions
            .iter()
            .chain(std::iter::once(&rd.overall))
            .find(|s| s.scope == scope)
            .map(|s| s.verdict)
    };
    let peak = |r: &RunResult, scope: &str| find(r, scope).map(|b| b.peak_concurrent_viewers);
    let scopes = scopes
        .iter()
        .map(|s| ScopeChange {
            scope: s.clone(),
            base: verdict(base, s),
            candidate: verdict(cand, s),
            base_peak: peak(base, s),
            candidate_peak: peak(cand, s),
        })
        .collect();
    Comparison {
        base: base_label,
        candidate: cand_label,
        tolerance: tol,
        rows,
        scopes,
        warnings,
        capacity,
    }
}

mod render;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(b: f64, c: f64, tol: Tolerance) -> bool {
        row_n(b, c, tol, 1000).regression
    }

    fn row_n(b: f64, c: f64, tol: Tolerance, count: u64) -> CompareRow {
        let mk = |v: f64| {
            let mut x = Breakdown::default();
            let json = format!(
                r#"{{"unit":"ms","count":{count},"min":{v},"mean":{v},"p50":{v},"p90":{v},"p95":{v},"p99":{v},"p99.9":{v},"max":{v},"hdr":""}}"#
            );
            x.metrics.insert(
                Metric::JoinMs,
                serde_json::from_str(&json).expect("summary"),
            );
            x
        };
        latency_row(
            "eu",
            Metric::JoinMs,
            Stat::P95,
            Some(&mk(b)),
            Some(&mk(c)),
            tol,
        )
    }

    #[test]
    fn a_regression_must_exceed_both_tolerances() {
        let tol = Tolerance::default();
        assert!(!row(1.0, 3.0, tol), "+200 % but only +2 ms");
        assert!(!row(100.0, 108.0, tol), "+8 ms but only +8 %");
        assert!(row(100.0, 150.0, tol));
        assert!(!row(150.0, 100.0, tol), "better is never a regression");
    }

    fn comparison(rows: Vec<CompareRow>, scopes: Vec<ScopeChange>) -> Comparison {
        Comparison {
            base: "a".into(),
            candidate: "b".into(),
            tolerance: Tolerance::default(),
            rows,
            scopes,
            warnings: vec![],
            capacity: None,
        }
    }

    #[test]
    fn a_p99_of_few_samples_is_shown_but_not_judged() {
        let r = row_n(100.0, 300.0, Tolerance::default(), 30);
        assert!(!r.regression);
        assert_eq!(r.too_few, Some((30, 30)));
        let t = comparison(vec![r], vec![]).plain();
        assert!(t.contains("not judged: 30 / 30 samples (< 100)"), "{t}");
    }

    #[test]
    fn a_worse_verdict_is_a_regression_and_says_so() {
        let c = comparison(
            vec![],
            vec![ScopeChange {
                scope: "overall".into(),
                base: Some(Verdict::Ready),
                candidate: Some(Verdict::NotReady),
                base_peak: Some(80),
                candidate_peak: Some(1200),
            }],
        );
        assert!(c.regressed());
        let t = c.plain();
        assert!(
            t.contains("REGRESSION: 1 worse beyond tolerance: overall READY → NOT READY."),
            "{t}"
        );
        assert!(t.contains("1,200"), "peak viewers shown: {t}");
    }
}
