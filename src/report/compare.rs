//! `peakready compare BASE CANDIDATE`: per region and metric, p50/p95/p99 and the error rate
//! side by side with deltas, and a regression verdict for CI gates.
//!
//! A latency regression must be worse by more than **both** tolerances (percentage and
//! milliseconds): the percentage alone flags 1 ms → 1.3 ms noise, the milliseconds alone miss a
//! doubling of a fast metric. An error-rate regression is a rise of more than
//! `error_pp` percentage points. [`Comparison`] is public so a chart can be drawn from it.

use std::path::Path;

use anyhow::Context;

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
}

impl CompareRow {
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
    /// Differences that make the comparison less like-for-like.
    pub warnings: Vec<String>,
}

impl Comparison {
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|r| r.regression)
    }
}

/// Read a results directory, or a results.json file directly.
pub fn load_any(path: &Path) -> anyhow::Result<RunResult> {
    if path.is_dir() {
        return super::load(path);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a peakready results file", path.display()))
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
    let regression = match (base, candidate) {
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
        let rate = |x: &Option<Breakdown>| {
            x.as_ref()
                .and_then(|x| x.value(Metric::ErrorRate, Stat::Value))
        };
        let (be, ce) = (rate(&b), rate(&c));
        let regression =
            matches!((be, ce), (Some(bv), Some(cv)) if (cv - bv) * 100.0 > tol.error_pp);
        rows.push(CompareRow {
            scope: scope.clone(),
            metric: Metric::ErrorRate,
            stat: Stat::Value,
            base: be,
            candidate: ce,
            regression,
        });
    }
    Comparison {
        base: base_label,
        candidate: cand_label,
        tolerance: tol,
        rows,
        warnings,
    }
}

impl Comparison {
    fn table(&self) -> Table {
        let mut t = Table::new(&[
            ("scope", Align::Left),
            ("metric", Align::Left),
            ("stat", Align::Left),
            ("base", Align::Right),
            ("candidate", Align::Right),
            ("Δ", Align::Right),
            ("Δ %", Align::Right),
            ("verdict", Align::Left),
        ]);
        for r in &self.rows {
            let is_rate = r.metric == Metric::ErrorRate;
            let val = |v: Option<f64>| match v {
                None => "no samples".to_string(),
                Some(v) => format::value(r.metric, v),
            };
            let delta = match r.delta() {
                None => "–".to_string(),
                Some(d) if is_rate => format!("{:+.2} pp", d * 100.0),
                Some(d) => format!(
                    "{}{}",
                    if d >= 0.0 { "+" } else { "−" },
                    format::ms(d.abs())
                ),
            };
            let delta_pct = r
                .delta_pct()
                .map(|p| format!("{p:+.1}%"))
                .unwrap_or_else(|| "–".into());
            let verdict = if r.regression {
                "REGRESSION"
            } else if r.base.is_none() || r.candidate.is_none() {
                "not comparable"
            } else {
                "ok"
            };
            t.row(vec![
                r.scope.clone(),
                r.metric.to_string(),
                r.stat.to_string(),
                val(r.base),
                val(r.candidate),
                delta,
                delta_pct,
                verdict.into(),
            ]);
        }
        t
    }

    fn verdict_line(&self) -> String {
        let n = self.rows.iter().filter(|r| r.regression).count();
        if n == 0 {
            format!("No regression ({} values compared).", self.rows.len())
        } else {
            let which: Vec<String> = self
                .rows
                .iter()
                .filter(|r| r.regression)
                .map(|r| format!("{} {} {}", r.scope, r.metric, r.stat))
                .collect();
            format!(
                "REGRESSION: {n} of {} values worse beyond tolerance: {}.",
                self.rows.len(),
                which.join(", ")
            )
        }
    }

    fn tolerance_line(&self) -> String {
        let t = self.tolerance;
        format!(
            "A latency regresses when worse by more than {}% and more than {}; the error rate when up by more than {} pp.",
            t.pct,
            format::ms(t.ms),
            t.error_pp
        )
    }

    /// Aligned text for the terminal.
    pub fn plain(&self) -> String {
        let mut out = format!(
            "  base:      {}\n  candidate: {}\n\n",
            self.base, self.candidate
        );
        out.push_str(&self.table().plain());
        for w in &self.warnings {
            out.push_str(&format!("\n  warning: {w}"));
        }
        out.push_str(&format!(
            "\n  {}\n  {}\n",
            self.tolerance_line(),
            self.verdict_line()
        ));
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# peakready comparison\n\n- **Base:** {}\n- **Candidate:** {}\n",
            self.base, self.candidate
        );
        out.push_str(&format!(
            "- **Verdict:** {}\n- **Tolerances:** {}\n",
            self.verdict_line(),
            self.tolerance_line()
        ));
        for w in &self.warnings {
            out.push_str(&format!("- **Warning:** {w}\n"));
        }
        out.push('\n');
        out.push_str(&self.table().markdown());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(b: f64, c: f64, tol: Tolerance) -> bool {
        let mk = |v: f64| {
            let mut x = Breakdown::default();
            let json = format!(
                r#"{{"unit":"ms","count":10,"min":{v},"mean":{v},"p50":{v},"p90":{v},"p95":{v},"p99":{v},"p99.9":{v},"max":{v},"hdr":""}}"#
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
        .regression
    }

    #[test]
    fn a_regression_must_exceed_both_tolerances() {
        let tol = Tolerance::default();
        assert!(!row(1.0, 3.0, tol), "+200 % but only +2 ms");
        assert!(!row(100.0, 108.0, tol), "+8 ms but only +8 %");
        assert!(row(100.0, 150.0, tol));
        assert!(!row(150.0, 100.0, tol), "better is never a regression");
    }
}
