//! One [`RunResult`] from the results of several `--shard I/N` processes: histograms added
//! (never percentiles averaged), counters summed, generator health kept per shard and judged
//! on the worst one. The per-second files are merged by [`super::series_merge`]; reading,
//! checking and writing directories belong to `crate::cmd::merge`.
//!
//! Must not import `report` or `engine`.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context};
use hdrhistogram::Histogram;

use super::generator::{self, ShardHealth};
use super::names::{ErrorKind, Metric};
use super::outcome::{ViewerCounts, ViewerOutcome};
use super::result::{
    decode_histogram, new_histogram, summarize_all, Breakdown, JoinCounts, MergeInfo, ShardSource,
};
use super::series_merge::SeriesPeaks;
use super::{Measured, RunHead, RunResult, RunStatus};

/// One shard's result, where it came from and how its clock lines up with the earliest shard.
pub struct ShardInput<'a> {
    pub result: &'a RunResult,
    /// I of `--shard I/N`.
    pub index: u64,
    /// The directory as given on the command line (for messages and results.json).
    pub dir: String,
    /// Seconds this shard started after the earliest shard.
    pub offset_exact_s: f64,
    /// The same rounded to whole seconds: the shift applied to its per-second rows.
    pub offset_s: u64,
}

/// How the merge was asked for and what it found about the set of shards.
pub struct MergePlan {
    pub shard_count: u64,
    pub missing: Vec<u64>,
    pub start_skew_s: f64,
}

/// Notices a shard wrote about itself that would be wrong for the merged run; the merged
/// versions are recomputed below (capped arrivals, who joined) or by the analysis
/// (capacity skipped) on the merged data.
const SHARD_ONLY_NOTICES: [&str; 4] = [
    "shard ",
    "load.max_viewers (",
    "no viewer could join",
    "capacity analysis skipped",
];

/// Merge shard results. `shards` is non-empty and already checked to be slices of one run
/// (same scenario, seed, regions, phases and shard count), sorted by index.
pub fn merge_results(
    shards: &[ShardInput],
    peaks: &SeriesPeaks,
    plan: MergePlan,
) -> anyhow::Result<RunResult> {
    let first = shards
        .first()
        .ok_or_else(|| anyhow!("no shard results to merge"))?;
    let base = first.result;
    let mut regions: Vec<Acc> = base.regions.iter().map(|b| Acc::new(&b.name)).collect();
    let mut overall = Acc::new(&base.overall.name);
    for s in shards {
        let at = format!("{}/results.json", s.dir);
        for (acc, b) in regions.iter_mut().zip(&s.result.regions) {
            acc.add(b, &format!("{at}: regions[{}]", b.name))?;
        }
        overall.add(&s.result.overall, &format!("{at}: overall"))?;
    }
    let mut regions: Vec<Breakdown> = regions
        .into_iter()
        .map(Acc::finish)
        .collect::<anyhow::Result<_>>()?;
    let mut overall = overall.finish()?;
    // The sum at each second counts viewers live together; each shard's own peak (taken at every
    // join, not once a second) is also a floor, since the other shards had ≥ 0 viewers then.
    for (b, peak) in regions.iter_mut().zip(&peaks.regions) {
        b.peak_concurrent_viewers = b.peak_concurrent_viewers.max(*peak);
    }
    overall.peak_concurrent_viewers = overall.peak_concurrent_viewers.max(peaks.overall);

    let status = shards
        .iter()
        .map(|s| s.result.status)
        .max_by_key(|s| match s {
            RunStatus::Completed => 0,
            RunStatus::Interrupted => 1,
            RunStatus::Aborted => 2,
        })
        .unwrap_or(RunStatus::Completed);
    let reasons: Vec<String> = shards
        .iter()
        .filter_map(|s| {
            let r = s.result.status_reason.as_ref()?;
            Some(format!("shard {}: {r}", s.index))
        })
        .collect();

    let mut notices = Vec::new();
    let merged_from: Vec<String> = shards.iter().map(|s| s.index.to_string()).collect();
    notices.push(format!(
        "merged from shards {} of {} (peakready merge): histograms added, counters summed",
        merged_from.join(", "),
        plan.shard_count
    ));
    if !plan.missing.is_empty() {
        let missing: Vec<String> = plan.missing.iter().map(|i| i.to_string()).collect();
        notices.push(format!(
            "INCOMPLETE: shard(s) {} of {} are missing (merged with --allow-partial): joins, requests and \
             concurrency cover {} of {} slices of the plan, while readiness is judged against the whole plan",
            missing.join(", "),
            plan.shard_count,
            shards.len(),
            plan.shard_count
        ));
    }
    for s in shards {
        for n in &s.result.notices {
            if !SHARD_ONLY_NOTICES.iter().any(|p| n.starts_with(p)) && !notices.contains(n) {
                notices.push(n.clone());
            }
        }
    }
    if overall.joins.capped > 0 {
        notices.push(format!(
            "load.max_viewers ({}) was reached: {} planned arrivals were not started (each shard held at most 1/{} of it)",
            base.scenario.max_viewers, overall.joins.capped, plan.shard_count
        ));
    }
    let targets: Vec<&str> = shards
        .iter()
        .map(|s| s.result.scenario.target.as_str())
        .collect();
    if targets.iter().any(|t| *t != targets[0]) {
        notices.push(format!(
            "the shards loaded different targets ({}): each measured its own target",
            targets.join(", ")
        ));
    }

    let duration_s = shards
        .iter()
        .map(|s| s.offset_exact_s + s.result.duration_s)
        .fold(0.0, f64::max);
    let health: Vec<ShardHealth> = shards
        .iter()
        .map(|s| ShardHealth {
            index: s.index,
            dir: &s.dir,
            health: &s.result.generator,
        })
        .collect();
    let generator = generator::merged(&health, &overall);
    let head = RunHead {
        scenario: base.scenario.clone(),
        seed: base.seed,
        started_at: shards
            .iter()
            .map(|s| s.result.started_at)
            .min()
            .unwrap_or(base.started_at),
        ended_at: shards
            .iter()
            .map(|s| s.result.ended_at)
            .max()
            .unwrap_or(base.ended_at),
        duration_s,
        planned_duration_s: base.planned_duration_s,
        status,
        status_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        phases: base.phases.clone(),
        notices,
        shard: None,
        merge: Some(MergeInfo {
            shard_count: plan.shard_count,
            shards: shards
                .iter()
                .map(|s| ShardSource {
                    index: s.index,
                    dir: s.dir.clone(),
                    started_at: s.result.started_at,
                    offset_s: s.offset_s,
                    duration_s: s.result.duration_s,
                    status: s.result.status,
                    joins_attempted: s.result.overall.joins.attempted,
                    generator: s.result.generator.clone(),
                })
                .collect(),
            missing: plan.missing,
            alignment: "wall_clock".into(),
            start_skew_s: plan.start_skew_s,
        }),
    };
    let measured = Measured {
        regions,
        overall,
        generator,
        incomplete: shards.iter().find_map(|s| {
            let why = s.result.incomplete.as_ref()?;
            Some(format!("shard {}: {why}", s.index))
        }),
        error_details: shards
            .iter()
            .flat_map(|s| s.result.error_details.clone())
            .collect(),
    };
    Ok(RunResult::new(head, measured))
}

/// A breakdown being summed over shards.
struct Acc {
    name: String,
    joins: JoinCounts,
    departures: u64,
    /// Highest single-shard peak; the merged per-second peak is applied by the caller.
    peak: u64,
    requests: u64,
    errors: BTreeMap<ErrorKind, u64>,
    outcomes: [u64; ViewerOutcome::COUNT],
    hists: BTreeMap<Metric, Histogram<u64>>,
    phases: Vec<Acc>,
}

impl Acc {
    fn new(name: &str) -> Acc {
        Acc {
            name: name.to_string(),
            joins: JoinCounts::default(),
            departures: 0,
            peak: 0,
            requests: 0,
            errors: BTreeMap::new(),
            outcomes: [0; ViewerOutcome::COUNT],
            hists: BTreeMap::new(),
            phases: Vec::new(),
        }
    }

    /// Add one shard's breakdown; `at` names it in errors (`DIR/results.json: regions[eu]`).
    fn add(&mut self, b: &Breakdown, at: &str) -> anyhow::Result<()> {
        if b.name != self.name {
            bail!(
                "{at}: named `{}` where the first shard has `{}`",
                b.name,
                self.name
            );
        }
        self.joins.attempted += b.joins.attempted;
        self.joins.succeeded += b.joins.succeeded;
        self.joins.failed += b.joins.failed;
        self.joins.capped += b.joins.capped;
        self.departures += b.departures;
        self.peak = self.peak.max(b.peak_concurrent_viewers);
        self.requests += b.requests;
        for (a, n) in self.outcomes.iter_mut().zip(b.viewers.counts()) {
            *a += n;
        }
        for (kind, n) in &b.errors {
            *self.errors.entry(*kind).or_default() += n;
        }
        for (&metric, summary) in &b.metrics {
            let name = metric.name();
            let hist = decode_histogram(&summary.hdr).map_err(|e| {
                anyhow!("{at}.metrics.{name}.hdr: {e}; the file was altered or truncated, re-run this shard")
            })?;
            let acc = match self.hists.entry(metric) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(new_histogram().context("creating a histogram")?)
                }
            };
            acc.add(&hist)
                .map_err(|e| anyhow!("{at}.metrics.{name}: adding histograms: {e:?}"))?;
        }
        if self.phases.is_empty() {
            self.phases = b.phases.iter().map(|p| Acc::new(&p.name)).collect();
        }
        if b.phases.len() != self.phases.len() {
            bail!(
                "{at}.phases: {} phases where the first shard has {}",
                b.phases.len(),
                self.phases.len()
            );
        }
        for (acc, p) in self.phases.iter_mut().zip(&b.phases) {
            acc.add(p, &format!("{at}.phases[{}]", p.name))?;
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<Breakdown> {
        // Recomputed from the summed counts rather than averaged: error_rate excludes viewer
        // outcomes (`ErrorKind::is_outcome`), exactly as a single run computes it.
        let request_errors: u64 = self
            .errors
            .iter()
            .filter(|(k, _)| k.is_request())
            .map(|(_, n)| n)
            .sum();
        Ok(Breakdown {
            name: self.name,
            joins: self.joins,
            departures: self.departures,
            viewers: ViewerCounts::from_counts(&self.outcomes),
            peak_concurrent_viewers: self.peak,
            requests: self.requests,
            errors: self.errors,
            error_rate: if self.requests == 0 {
                0.0
            } else {
                request_errors as f64 / self.requests as f64
            },
            metrics: summarize_all(&self.hists).map_err(anyhow::Error::msg)?,
            phases: self
                .phases
                .into_iter()
                .map(Acc::finish)
                .collect::<anyhow::Result<_>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::result::{record_value, summarize};

    fn breakdown(name: &str, values: &[u64], joins: u64) -> Breakdown {
        let mut h = new_histogram().expect("histogram");
        for v in values {
            record_value(&mut h, *v);
        }
        let mut b = Breakdown {
            name: name.into(),
            requests: 10,
            ..Breakdown::default()
        };
        b.joins.attempted = joins;
        b.errors.insert(ErrorKind::Timeout, 1);
        b.errors.insert(ErrorKind::StalePlaylist, 2);
        b.metrics.insert(
            Metric::JoinMs,
            summarize(Metric::JoinMs, &h).expect("summary"),
        );
        b
    }

    #[test]
    fn percentiles_come_from_the_added_histograms() {
        // Shard a: 100 fast joins; shard b: 100 slow ones. Averaging the p50s would say 505 ms;
        // the union's p50 is at the edge of the fast half.
        let a = breakdown("eu", &[10_000; 100], 100);
        let b = breakdown("eu", &[1_000_000; 100], 50);
        let mut acc = Acc::new("eu");
        acc.add(&a, "a").expect("adds");
        acc.add(&b, "b").expect("adds");
        let m = acc.finish().expect("summaries");
        let join = &m.metrics[&Metric::JoinMs];
        assert_eq!(join.count, 200);
        assert!((join.p50 - 10.0).abs() < 0.1, "p50 {}", join.p50);
        assert!((join.p99 - 1000.0).abs() < 1.0, "p99 {}", join.p99);
        assert_eq!(m.joins.attempted, 150);
        assert_eq!(m.errors[&ErrorKind::Timeout], 2);
        // 2 timeouts of 20 requests; the stale playlists are viewer outcomes, not requests.
        assert!((m.error_rate - 0.1).abs() < 1e-12, "{}", m.error_rate);
    }

    #[test]
    fn a_foreign_region_or_metric_is_an_error_naming_where() {
        let mut acc = Acc::new("eu");
        let e = acc
            .add(&breakdown("sea", &[1], 1), "d/results.json: regions[sea]")
            .expect_err("region mismatch");
        assert!(e.to_string().contains("d/results.json"), "{e}");
        // A metric this version does not know is refused when results.json is read, by name.
        let b = breakdown("eu", &[1], 1);
        let json = serde_json::to_string(&b)
            .expect("serializes")
            .replace("join_ms", "warp_ms");
        let e = serde_json::from_str::<Breakdown>(&json).expect_err("unknown metric");
        assert!(e.to_string().contains("warp_ms"), "{e}");
    }
}
