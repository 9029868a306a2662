//! `RunResult`: everything a run measured, as written to `results.json`.
//!
//! # Format
//! `results.json` is this struct serialized with serde_json; the field docs below are its
//! reference. `"schema": 2` versions it (see [`super::schema`] for what reads older files);
//! `docs/results.schema.json` publishes it. Every timing metric is a [`MetricSummary`] in
//! milliseconds that also carries its HdrHistogram (V2 deflate, base64) so that `report`,
//! `merge` and `compare` recompute from histograms and never average percentiles.
//! Secrets (header values) are never part of it.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, Utc};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::names::{ErrorKind, Metric, Stat};
use super::outcome::ViewerCounts;
use crate::plan::{PlannedPhase, Shard};
use crate::scenario::{Scenario, SloGate};

pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct RunResult {
    /// Version of this format.
    pub schema: u32,
    /// `peakready <version>` that produced it.
    pub tool: String,
    pub scenario: ScenarioInfo,
    /// Seed of every random draw; `--seed` with this value replays the same plan.
    pub seed: u64,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Wall-clock seconds from first planned arrival to the end of the drain.
    pub duration_s: f64,
    pub planned_duration_s: f64,
    pub status: RunStatus,
    /// Why the run stopped early, when it did.
    pub status_reason: Option<String>,
    pub phases: Vec<PlannedPhase>,
    /// One entry per scenario region, in scenario order.
    pub regions: Vec<Breakdown>,
    /// All regions together (histograms merged, never percentiles averaged).
    pub overall: Breakdown,
    /// SLO gates evaluated per region and overall.
    pub slo: Vec<SloResult>,
    /// True when every SLO gate passed.
    pub slo_passed: bool,
    pub generator: GeneratorHealth,
    /// Things the user should know about this run (ignored keys, caps hit, …).
    pub notices: Vec<String>,
    /// Capacity, knee, headroom and verdict per region and overall (`analysis::readiness`).
    /// Absent in files written before the analysis existed; `report DIR` recomputes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Readiness>,
    /// The `--shard I/N` slice this run was; absent for a whole run (and in merged results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Present when `peakready merge` built this result from shard results directories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeInfo>,
    /// Why the run's per-second data is incomplete (a failed write of timeseries.csv or
    /// histograms.hlog); when set, every readiness verdict is INCOMPLETE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// One example per error class counted, in words (e.g. the escaped first bytes of an
    /// answer that was not HTTP), so a report says what a class was, not only how often.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_details: BTreeMap<ErrorKind, String>,
    /// `peakready capacity`: the search's steps and answer; this directory's own data is the
    /// hold (or the last step when there was no hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<super::search::CapacitySearch>,
}

/// What a verb knows about its run besides the measurements, for [`RunResult::new`].
pub struct RunHead {
    pub scenario: ScenarioInfo,
    pub seed: u64,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub duration_s: f64,
    pub planned_duration_s: f64,
    pub status: RunStatus,
    pub status_reason: Option<String>,
    pub phases: Vec<PlannedPhase>,
    pub notices: Vec<String>,
    pub shard: Option<Shard>,
    pub merge: Option<MergeInfo>,
}

impl RunResult {
    /// The one way a RunResult is made (`run`, `quick`, `merge`): the current schema and tool,
    /// SLOs not yet judged and no readiness (see `analysis::judge`).
    pub fn new(head: RunHead, measured: super::Measured) -> RunResult {
        RunResult {
            schema: SCHEMA_VERSION,
            tool: format!("peakready {}", env!("CARGO_PKG_VERSION")),
            scenario: head.scenario,
            seed: head.seed,
            started_at: head.started_at,
            ended_at: head.ended_at,
            duration_s: head.duration_s,
            planned_duration_s: head.planned_duration_s,
            status: head.status,
            status_reason: head.status_reason,
            phases: head.phases,
            regions: measured.regions,
            overall: measured.overall,
            slo: Vec::new(),
            slo_passed: true,
            generator: measured.generator,
            notices: head.notices,
            readiness: None,
            shard: head.shard,
            merge: head.merge,
            incomplete: measured.incomplete,
            error_details: measured.error_details,
            capacity: None,
        }
    }
}

/// Where a merged result came from (`peakready merge`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MergeInfo {
    /// N of the shards' `--shard I/N`.
    pub shard_count: u64,
    /// The shards merged, by index.
    pub shards: Vec<ShardSource>,
    /// Indexes of shards that were not merged (only possible with `--allow-partial`): counts
    /// and concurrency then cover part of the plan.
    pub missing: Vec<u64>,
    /// How per-second rows were lined up: `wall_clock` (each shard's seconds shifted by its
    /// start time minus the earliest shard's, rounded to whole seconds).
    pub alignment: String,
    /// Latest minus earliest shard start time, seconds.
    pub start_skew_s: f64,
}

/// One shard of a merged result, with its own generator health.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ShardSource {
    /// I of `--shard I/N` (1-based).
    pub index: u64,
    /// The shard's results directory, as given to `merge`.
    pub dir: String,
    pub started_at: DateTime<Utc>,
    /// Whole seconds this shard's per-second rows were shifted by in the merged series.
    pub offset_s: u64,
    pub duration_s: f64,
    pub status: RunStatus,
    pub joins_attempted: u64,
    pub generator: GeneratorHealth,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ScenarioInfo {
    pub name: String,
    pub description: Option<String>,
    /// The scenario file as given on the command line.
    pub source: String,
    /// Fraction of the real event this run represents.
    pub scale: f64,
    pub max_viewers: u64,
    pub max_joins_per_sec: f64,
    /// The target's base URL (`embedded` resolved to the address used).
    pub target: String,
    pub slo: Vec<SloGate>,
    /// The scenario as run (header values and data-feeder rows never written), read back into
    /// the typed model; `null` for `quick`, which has no scenario.
    pub resolved: Option<Scenario>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every planned arrival was started and the drain finished.
    Completed,
    /// An `abort_when` threshold stopped the run.
    Aborted,
    /// Ctrl-C (or SIGTERM) stopped the run.
    Interrupted,
}

/// Counts and metrics for one region (or all regions together).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Breakdown {
    pub name: String,
    pub joins: JoinCounts,
    /// Viewers that finished watching (or gave up) during the run.
    pub departures: u64,
    /// Every started viewer in exactly one outcome, and the viewer-level rates
    /// (`viewer_failure_rate`, `video_start_failure_rate`). Zero in files written before
    /// outcomes were counted.
    #[serde(default)]
    pub viewers: ViewerCounts,
    /// Highest number of simulated viewers in flight at once (sampled each second).
    pub peak_concurrent_viewers: u64,
    /// Requests attempted (join steps, playlists, segments, connects that failed).
    pub requests: u64,
    /// Failures by class (`refused`, `timeout`, `http_5xx`, …); classes with zero are omitted.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Failed requests ÷ attempted requests.
    pub error_rate: f64,
    /// Metric name → summary. Only metrics with at least one sample appear.
    pub metrics: BTreeMap<Metric, MetricSummary>,
    /// The same, per phase (empty in per-phase entries themselves).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Breakdown>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct JoinCounts {
    /// Viewers whose journey was started.
    pub attempted: u64,
    /// Viewers that completed every join step (and, when watching, got the playlist).
    pub succeeded: u64,
    pub failed: u64,
    /// Planned arrivals not started because `max_viewers` were already in flight.
    pub capped: u64,
}

/// One metric's distribution. Times in milliseconds; counts as counts; ratios as fractions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MetricSummary {
    /// `ms`, `count` or `ratio`.
    pub unit: String,
    pub count: u64,
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    pub max: f64,
    /// The HdrHistogram itself (V2 deflate, base64), in recorded units (µs, count, ppm).
    pub hdr: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct SloResult {
    /// Region name, or `overall`.
    pub scope: String,
    pub metric: Metric,
    pub stat: Stat,
    pub threshold: f64,
    /// Measured value in the same unit; `None` when nothing was measured.
    pub measured: Option<f64>,
    pub passed: bool,
    /// The default `viewer_failure_rate` gate, applied because the scenario set none.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
}

/// Was the load generator, not the target, the limit?
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct GeneratorHealth {
    /// Actual − intended start of viewers, in ms.
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    /// Viewers that started more than `late_threshold_ms` after their intended instant.
    pub late_arrivals: u64,
    pub late_threshold_ms: f64,
    /// Generator process CPU time (user + system) over the run, seconds.
    pub cpu_seconds: f64,
    /// CPU time ÷ wall time ÷ cores available, 0–1.
    pub cpu_utilisation: f64,
    pub cores: usize,
    pub peak_rss_bytes: u64,
    pub open_files_limit: u64,
    pub peak_open_files: u64,
    /// The async runtime's readings over the run (`runtime.csv` has them per second); absent
    /// in results written before they were taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<super::runtime::RuntimeHealth>,
    /// Why the generator could not keep the schedule, when `limited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<super::runtime::LimitReason>,
    /// True when the generator's lag says it could not keep the schedule.
    pub limited: bool,
    /// Plain-words explanation when `limited`.
    pub message: Option<String>,
}

/// Summarise a histogram recorded in `metric`'s units. An error (the histogram could not be
/// encoded) fails the summary: a summary without its histogram could not be re-rendered or
/// merged, and an empty one would read as "no samples".
pub fn summarize(metric: Metric, hist: &Histogram<u64>) -> Result<MetricSummary, String> {
    let unit = metric.unit().name();
    let per = metric.unit().per_unit();
    let q = |quantile: f64| hist.value_at_quantile(quantile) as f64 / per;
    Ok(MetricSummary {
        unit: unit.into(),
        count: hist.len(),
        min: hist.min() as f64 / per,
        // The recorded unit is the resolution: a thousandth of it is already more than it means.
        mean: (hist.mean() * 1e3).round() / 1e3 / per,
        p50: q(0.5),
        p90: q(0.9),
        p95: q(0.95),
        p99: q(0.99),
        p99_9: q(0.999),
        max: hist.max() as f64 / per,
        hdr: encode_histogram(hist).map_err(|e| format!("{}: {e}", metric.name()))?,
    })
}

/// Every metric's summary (see [`summarize`]).
pub fn summarize_all<'a>(
    hists: impl IntoIterator<Item = (&'a Metric, &'a Histogram<u64>)>,
) -> Result<BTreeMap<Metric, MetricSummary>, String> {
    hists
        .into_iter()
        .map(|(m, h)| Ok((*m, summarize(*m, h)?)))
        .collect()
}

/// The histogram as results.json carries it: V2 deflate, base64.
pub fn encode_histogram(hist: &Histogram<u64>) -> Result<String, String> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(hist, &mut bytes)
        .map_err(|e| {
            format!(
                "the histogram ({} samples) could not be encoded: {e:?}",
                hist.len()
            )
        })?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

pub fn decode_histogram(encoded: &str) -> Result<Histogram<u64>, String> {
    if encoded.is_empty() {
        return new_histogram().map_err(|e| e.to_string());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))
}

/// Histograms grow as needed (auto-resize), 3 significant digits, as the design fixes.
pub fn new_histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    let mut h = Histogram::new(3)?;
    h.auto(true);
    Ok(h)
}

/// Record into an auto-resizing histogram. (`saturating_record` would clamp instead of growing:
/// every value above the initial range would read as 2 µs.) Zero is a real value for counts
/// and ratios (no stalls), and HdrHistogram records it exactly.
pub fn record_value(hist: &mut Histogram<u64>, value: u64) {
    if hist.record(value).is_err() {
        hist.saturating_record(value);
    }
}

impl Breakdown {
    /// `metric`'s `stat` as measured in this scope; `None` when nothing was measured (no
    /// samples, or no request for `error_rate`).
    pub fn value(&self, metric: Metric, stat: Stat) -> Option<f64> {
        match metric {
            Metric::ErrorRate => (self.requests > 0).then_some(self.error_rate),
            Metric::ViewerFailureRate => {
                (self.viewers.started > 0).then_some(self.viewers.viewer_failure_rate)
            }
            Metric::VideoStartFailureRate => {
                (self.viewers.started > 0).then_some(self.viewers.video_start_failure_rate)
            }
            m => self
                .metrics
                .get(&m)
                .filter(|s| s.count > 0)
                .map(|s| s.stat(stat)),
        }
    }

    /// Did this scope measure `metric` at all?
    pub fn measured(&self, metric: Metric) -> bool {
        self.value(metric, Stat::Mean).is_some()
    }
}

impl MetricSummary {
    /// The value of a stat (`value`, the one number of a ratio, is its mean).
    pub fn stat(&self, stat: Stat) -> f64 {
        match stat {
            Stat::P50 => self.p50,
            Stat::P90 => self.p90,
            Stat::P95 => self.p95,
            Stat::P99 => self.p99,
            Stat::P999 => self.p99_9,
            Stat::Max => self.max,
            Stat::Min => self.min,
            Stat::Mean | Stat::Value => self.mean,
        }
    }
}

/// Readiness for the planned event: READY, AT RISK or NOT READY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every SLO held at or above the target load.
    Ready,
    /// SLOs held, but the target load was not reached (or the generator was the limit).
    AtRisk,
    /// An SLO broke below the target load.
    NotReady,
    /// The run's per-second data could not all be written (a full disk): no verdict is
    /// computed from truncated data.
    Incomplete,
}

impl Verdict {
    /// The word a person reads (never a colour alone).
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Ready => "READY",
            Verdict::AtRisk => "AT RISK",
            Verdict::NotReady => "NOT READY",
            Verdict::Incomplete => "INCOMPLETE",
        }
    }
}

/// The analysis of a run against its target load; see `analysis::readiness` for the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Readiness {
    pub overall: ScopeReadiness,
    pub regions: Vec<ScopeReadiness>,
    /// `event` (forecast × scale × headroom) or `plan` (the run's own planned peak).
    pub target_basis: String,
    /// The headroom in words, with the scale ("this run was a 3% rehearsal: …").
    pub headroom_words: String,
    /// Consecutive seconds a verdict must last to count (held or broken).
    pub sustain_s: u32,
    /// SLO gates with no per-second column: judged on the whole run only.
    pub whole_run_gates: Vec<String>,
    /// What this run did not exercise, in words.
    pub not_tested: Vec<String>,
}

/// Capacity and verdict for one region, or `overall`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ScopeReadiness {
    pub scope: String,
    pub verdict: Verdict,
    /// Why, in words, each citing its number.
    pub reasons: Vec<String>,
    /// Concurrent viewers this scope had to hold.
    pub target_viewers: f64,
    pub target_joins_per_sec: f64,
    /// Highest concurrent viewers reached in any second.
    pub peak_viewers: u64,
    /// Highest successful joins in any one second.
    pub peak_joins_per_sec: f64,
    /// Highest concurrent viewers at which every SLO held (sustained); `None` when never.
    pub held_viewers: Option<u64>,
    pub held_joins_per_sec: Option<f64>,
    /// Where the first SLO broke in a sustained way.
    pub knee: Option<Knee>,
    /// held_viewers ÷ target_viewers.
    pub headroom: Option<f64>,
}

/// The load at which the first SLO broke for `sustain_s` seconds or more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Knee {
    /// Run second of the first broken second.
    pub second: u64,
    pub active_viewers: u64,
    /// Arrivals offered in that second.
    pub offered_joins_per_sec: f64,
    /// The gates that broke in that second.
    pub broken: Vec<GateBreak>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct GateBreak {
    pub metric: Metric,
    pub stat: Stat,
    pub threshold: f64,
    pub measured: f64,
}
