//! Generator health, computed here only: for one process from its lag histogram and resource
//! readings ([`measure`]), and for a fleet of shards from theirs ([`merged`]). Was the load
//! generator, not the target, the limit?

use std::time::Duration;

use super::names::Metric;
use super::result::{decode_histogram, Breakdown, GeneratorHealth, MetricSummary};

/// A viewer started this much after its intended instant counts as late in generator health,
/// and lag beyond it at p99 makes the run "limited by the load generator".
pub const LATE_START: Duration = Duration::from_millis(50);
const LATE_THRESHOLD_MS: f64 = LATE_START.as_millis() as f64;

/// What the process used while it generated load (see `crate::sysinfo`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Resources {
    /// User + system CPU seconds over the run.
    pub cpu_seconds: f64,
    /// Wall-clock seconds of the run.
    pub wall_seconds: f64,
    pub cores: usize,
    pub peak_rss_bytes: u64,
    pub open_files_limit: u64,
    pub peak_open_files: u64,
}

fn lag_of(overall: &Breakdown) -> Option<&MetricSummary> {
    overall.metrics.get(&Metric::GeneratorLagMs)
}

/// One process's health: its start lag (from the `generator_lag_ms` histogram) and resources.
pub fn measure(overall: &Breakdown, r: Resources) -> GeneratorHealth {
    let lag = lag_of(overall);
    let late = lag
        .and_then(|m| decode_histogram(&m.hdr).ok())
        .map(|h| h.count_between((LATE_THRESHOLD_MS * 1000.0) as u64, u64::MAX))
        .unwrap_or(0);
    let lag_p99 = lag.map_or(0.0, |m| m.p99);
    let limited = lag_p99 > LATE_THRESHOLD_MS;
    GeneratorHealth {
        lag_p50_ms: lag.map_or(0.0, |m| m.p50),
        lag_p99_ms: lag_p99,
        lag_max_ms: lag.map_or(0.0, |m| m.max),
        late_arrivals: late,
        late_threshold_ms: LATE_THRESHOLD_MS,
        cpu_seconds: r.cpu_seconds,
        cpu_utilisation: if r.wall_seconds > 0.0 && r.cores > 0 {
            r.cpu_seconds / r.wall_seconds / r.cores as f64
        } else {
            0.0
        },
        cores: r.cores,
        peak_rss_bytes: r.peak_rss_bytes,
        open_files_limit: r.open_files_limit,
        peak_open_files: r.peak_open_files,
        limited,
        message: limited.then(|| {
            format!(
                "the load generator, not the target, limited this run: viewers started {lag_p99:.0} ms late at p99 \
                 (threshold {LATE_THRESHOLD_MS:.0} ms). Use more cores, more shards (--shard), or fewer viewers."
            )
        }),
    }
}

/// One shard of a fleet, for [`merged`].
pub struct ShardHealth<'a> {
    pub index: u64,
    pub dir: &'a str,
    pub health: &'a GeneratorHealth,
}

/// Generator health of the whole fleet: lag percentiles from the merged lag histogram, and
/// "limited" when any shard was (a mixture's p99 never exceeds its worst part's, so the worst
/// shard decides). Per-process readings (CPU use, memory, files) are the busiest process's:
/// shards may share a machine or not, so adding them up would mean nothing.
pub fn merged(shards: &[ShardHealth], overall: &Breakdown) -> GeneratorHealth {
    let lag = lag_of(overall);
    let gens = || shards.iter().map(|s| s.health);
    let busiest = gens().max_by(|a, b| a.cpu_utilisation.total_cmp(&b.cpu_utilisation));
    let limited: Vec<&ShardHealth> = shards.iter().filter(|s| s.health.limited).collect();
    let threshold = gens().map(|g| g.late_threshold_ms).fold(0.0, f64::max);
    let message = (!limited.is_empty()).then(|| {
        let which: Vec<String> = limited
            .iter()
            .map(|s| {
                format!(
                    "shard {} ({}: start lag p99 {:.0} ms)",
                    s.index, s.dir, s.health.lag_p99_ms
                )
            })
            .collect();
        format!(
            "the load generator, not the target, limited this run: {} started viewers late (threshold {threshold:.0} ms). \
             Give that shard more cores, split the plan over more shards, or lower the load.",
            which.join(", ")
        )
    });
    GeneratorHealth {
        lag_p50_ms: lag.map_or(0.0, |m| m.p50),
        lag_p99_ms: lag.map_or(0.0, |m| m.p99),
        lag_max_ms: lag.map_or(0.0, |m| m.max),
        late_arrivals: gens().map(|g| g.late_arrivals).sum(),
        late_threshold_ms: threshold,
        cpu_seconds: gens().map(|g| g.cpu_seconds).sum(),
        cpu_utilisation: busiest.map_or(0.0, |g| g.cpu_utilisation),
        cores: busiest.map_or(0, |g| g.cores),
        peak_rss_bytes: gens().map(|g| g.peak_rss_bytes).max().unwrap_or(0),
        open_files_limit: gens().map(|g| g.open_files_limit).min().unwrap_or(0),
        peak_open_files: gens().map(|g| g.peak_open_files).max().unwrap_or(0),
        limited: !limited.is_empty(),
        message,
    }
}
