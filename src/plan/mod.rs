//! Phases → an arrival schedule (open model), deterministic for a seed.
//!
//! Every load shape (constant rate, linear `ramp_to`, short flash spikes) and the
//! `max_joins_per_sec` cap compile down to one list of [`RateSegment`]s, each linear in time.
//! Arrivals are generated lazily by [`Plan::arrivals`]: the n-th arrival lands where the
//! cumulative expected count Λ(t) reaches `n + u` with `u` uniform in [0, 1) from the seeded RNG.
//! That keeps counts per phase within one arrival of the plan (a Poisson draw would wander by
//! √n) while avoiding lock-step arrivals. Regions are interleaved by smooth weighted round-robin,
//! so each region's share is exact to within one arrival at every point of the run.
//!
//! Under `--shard I/N` shard I runs the viewer ids ≡ I−1 (mod N), and the round-robin is dealt
//! per shard (one robin per residue): one robin over all ids would hand 2 equal regions to 2
//! shards as A, B, A, B …, so shard 1 would run only A and shard 2 only B. Every shard therefore
//! gets each region's share to within one arrival; the N shards together keep every instant,
//! phase, viewer id and watch time of the unsharded plan, and each region's total within N
//! arrivals of it.
//!
//! The plan never holds all arrivals in memory: a one-hour 10k joins/s plan is 36M arrivals.
//! This module knows nothing about YAML or the network.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};

use crate::scenario::{Scenario, WatchTime};

mod concurrency;
mod load;
pub use concurrency::{concurrency, Concurrency};
pub use load::{planned_load, PlannedLoad};

/// A slice of the run where the arrival rate is linear in time (the cap is already applied).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSegment {
    pub phase: u16,
    /// Seconds from run start.
    pub start: f64,
    pub end: f64,
    /// Arrivals per second (all regions) at `start` and `end`.
    pub from_rate: f64,
    pub to_rate: f64,
}

impl RateSegment {
    fn duration(&self) -> f64 {
        self.end - self.start
    }

    /// Expected arrivals in the whole segment.
    fn expected(&self) -> f64 {
        (self.from_rate + self.to_rate) / 2.0 * self.duration()
    }

    /// The offset at which `count` arrivals are expected: the inverse of the expected count
    /// `from_rate·dt + slope·dt²/2` up to `start + dt`.
    fn offset_for(&self, count: f64) -> f64 {
        let d = self.duration();
        let slope = (self.to_rate - self.from_rate) / d;
        let offset = if slope.abs() < 1e-12 {
            if self.from_rate <= 0.0 {
                d
            } else {
                count / self.from_rate
            }
        } else {
            // slope/2·t² + from·t − count = 0, positive root.
            let disc = self.from_rate * self.from_rate + 2.0 * slope * count;
            (-self.from_rate + disc.max(0.0).sqrt()) / slope
        };
        offset.clamp(0.0, d)
    }
}

/// One phase as planned, for summaries and reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PlannedPhase {
    pub name: String,
    pub start_s: f64,
    pub duration_s: f64,
    /// As written in the scenario.
    pub joins_per_sec: f64,
    pub ramp_to: Option<f64>,
    /// True when `max_joins_per_sec` lowered this phase's rate somewhere.
    pub capped: bool,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub regions: Vec<String>,
    shares: Vec<f64>,
    pub phases: Vec<PlannedPhase>,
    pub segments: Vec<RateSegment>,
    pub total: Duration,
    pub seed: u64,
    /// This process's slice of the plan (`--shard I/N`); `None` = the whole plan.
    pub shard: Option<Shard>,
    /// `run --region NAME`: only that region's arrivals, sliced among its own shards.
    pub region_slice: Option<RegionSlice>,
    pub max_viewers: u64,
    pub max_joins_per_sec: f64,
    watch: WatchTime,
}

/// `--shard I/N`: this process runs arrivals whose viewer id ≡ I−1 (mod N), with an even mix of
/// regions (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Shard {
    /// 1-based.
    pub index: u64,
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        Shard::parse(text, 1)
    }
}

impl Shard {
    /// `I/N` with I counted from `base`: 1 on the command line, 0 for a Kubernetes Indexed
    /// Job's `JOB_COMPLETION_INDEX` (`--shard-base 0`). The result is always 1-based.
    pub fn parse(text: &str, base: u64) -> Result<Shard, String> {
        let expected =
            || format!("expected a shard like 2/8 (the 2nd of 8 processes), got {text:?}");
        let (i, n) = text.split_once('/').ok_or_else(expected)?;
        let index: u64 = i.trim().parse().map_err(|_| expected())?;
        let count: u64 = n.trim().parse().map_err(|_| expected())?;
        let last = (count + base).saturating_sub(1);
        if count == 0 || index < base || index > last {
            return Err(format!(
                "shard {index}/{count}: the index must be between {base} and {last}{}",
                if base == 0 { " (--shard-base 0)" } else { "" }
            ));
        }
        Ok(Shard {
            index: index + 1 - base,
            count,
        })
    }
}

/// One region's slice of the plan, cut among that region's own shards: the k-th arrival of
/// the region goes to slice k mod `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionSlice {
    pub region: u16,
    /// 1-based, among the region's shards.
    pub index: u64,
    pub count: u64,
}

impl Plan {
    /// Keep only `slice`'s arrivals (`shard` stays the run's identity among all shards); the
    /// concurrency cap follows the region's share.
    pub fn with_region_slice(mut self, original_max_viewers: u64, slice: RegionSlice) -> Plan {
        let share = self
            .shares
            .get(slice.region as usize)
            .copied()
            .unwrap_or(0.0);
        self.max_viewers = ((original_max_viewers as f64 * share) / slice.count as f64)
            .ceil()
            .max(1.0) as u64;
        self.region_slice = Some(slice);
        self
    }

    /// The fraction of the whole plan's arrivals this process runs.
    pub fn fraction(&self) -> f64 {
        match (self.region_slice, self.shard) {
            (Some(r), _) => {
                self.shares.get(r.region as usize).copied().unwrap_or(0.0) / r.count as f64
            }
            (None, Some(s)) => 1.0 / s.count as f64,
            (None, None) => 1.0,
        }
    }
}

impl Plan {
    /// Keep only this shard's arrivals; the concurrency cap is split evenly.
    pub fn with_shard(mut self, shard: Shard) -> Plan {
        self.max_viewers = self.max_viewers.div_ceil(shard.count);
        self.shard = Some(shard);
        self
    }
}

/// One viewer's planned arrival.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Intended start, from run start. Latency clocks start here (coordinated omission).
    pub at: Duration,
    pub region: u16,
    pub phase: u16,
    pub viewer_id: u64,
    pub watch_for: Duration,
}

/// The plan's peak, capped as the engine caps it: the figure the readiness target falls back to
/// without an event forecast. `validate`, `capacity` and the analysis (`report DIR` rebuilds
/// the plan from results.json's typed scenario and seed) all read it from [`Plan::peak`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedPeak {
    /// Expected concurrent viewers (all regions), at most `load.max_viewers`.
    pub viewers: f64,
    /// Highest arrival rate of any phase, at most `load.max_joins_per_sec`.
    pub joins_per_sec: f64,
}

/// Per region and phase: what the plan expects. Used by `validate` and the report's plan table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PhaseExpectation {
    pub region: String,
    pub phase: String,
    pub expected_arrivals: f64,
    pub peak_joins_per_sec: f64,
    pub expected_peak_concurrency: f64,
}

impl Plan {
    pub fn build(scenario: &Scenario, seed: u64) -> Plan {
        let cap = scenario.load.max_joins_per_sec;
        let mut segments = Vec::new();
        let mut phases = Vec::new();
        let mut start = 0.0;
        for (index, phase) in scenario.load.phases.iter().enumerate() {
            let duration = phase.duration.as_secs_f64();
            let from = phase.joins_per_sec;
            let to = phase.ramp_to.unwrap_or(from);
            let capped = from > cap || to > cap;
            push_capped(
                &mut segments,
                index as u16,
                start,
                start + duration,
                from,
                to,
                cap,
            );
            phases.push(PlannedPhase {
                name: phase.name.clone(),
                start_s: start,
                duration_s: duration,
                joins_per_sec: from,
                ramp_to: phase.ramp_to,
                capped,
            });
            start += duration;
        }
        Plan {
            regions: scenario.regions.iter().map(|r| r.name.clone()).collect(),
            shares: scenario.regions.iter().map(|r| r.share).collect(),
            phases,
            segments,
            total: Duration::from_secs_f64(start),
            seed,
            shard: None,
            region_slice: None,
            max_viewers: scenario.load.max_viewers,
            max_joins_per_sec: cap,
            watch: scenario.viewer.watch.duration,
        }
    }

    pub fn arrivals(&self) -> Arrivals<'_> {
        Arrivals::new(self)
    }

    /// Expected arrivals across all regions and phases.
    pub fn expected_arrivals(&self) -> f64 {
        self.segments.iter().map(RateSegment::expected).sum()
    }

    pub fn mean_watch_secs(&self) -> f64 {
        match self.watch {
            WatchTime::Fixed { duration } => duration.as_secs_f64(),
            WatchTime::LogNormal { median, p90 } => {
                let (mu, sigma) = lognormal_params(median, p90);
                (mu + sigma * sigma / 2.0).exp()
            }
        }
    }

    /// Arrival rate (all regions) at `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        self.segments
            .iter()
            .find(|s| t >= s.start && t < s.end)
            .map(|s| s.from_rate + (s.to_rate - s.from_rate) * (t - s.start) / s.duration())
            .unwrap_or(0.0)
    }

    /// Peak expected concurrency and join rate (see [`PlannedPeak`]).
    pub fn peak(&self) -> PlannedPeak {
        // `watch.protocol: none` viewers still stay their watch time (the engine holds them),
        // so they count as concurrent like any other.
        let viewers = self.concurrency().peak.min(self.max_viewers as f64);
        let joins_per_sec = self
            .phases
            .iter()
            .map(|p| {
                p.joins_per_sec
                    .max(p.ramp_to.unwrap_or(0.0))
                    .min(self.max_joins_per_sec)
            })
            .fold(0.0f64, f64::max);
        PlannedPeak {
            viewers,
            joins_per_sec,
        }
    }

    /// Expected concurrent viewers (all regions): the peak, each phase's peak, and the value
    /// when the last phase ends (see `concurrency.rs`; its cost does not grow with the plan's
    /// length).
    pub fn concurrency(&self) -> Concurrency {
        let phases: Vec<(f64, f64)> = self
            .phases
            .iter()
            .map(|p| (p.start_s, p.duration_s))
            .collect();
        concurrency(&self.segments, &phases, self.watch)
    }

    /// What `validate` prints: per region and phase, expected arrivals, peak join rate and
    /// expected peak concurrency during that phase.
    pub fn expectations(&self) -> Vec<PhaseExpectation> {
        let concurrency = self.concurrency();
        let mut out = Vec::new();
        for (r, region) in self.regions.iter().enumerate() {
            let share = self.shares[r];
            for (p, phase) in self.phases.iter().enumerate() {
                let segs = self.segments.iter().filter(|s| s.phase as usize == p);
                let (mut arrivals, mut peak) = (0.0, 0.0f64);
                for s in segs {
                    arrivals += s.expected();
                    peak = peak.max(s.from_rate).max(s.to_rate);
                }
                let peak_conc = concurrency.phase_peaks.get(p).copied().unwrap_or(0.0);
                out.push(PhaseExpectation {
                    region: region.clone(),
                    phase: phase.name.clone(),
                    expected_arrivals: arrivals * share,
                    peak_joins_per_sec: peak * share,
                    expected_peak_concurrency: peak_conc * share,
                });
            }
        }
        out
    }
}

pub(crate) fn push_capped(
    out: &mut Vec<RateSegment>,
    phase: u16,
    start: f64,
    end: f64,
    from: f64,
    to: f64,
    cap: f64,
) {
    if end <= start {
        return;
    }
    let seg = |s: f64, e: f64, a: f64, b: f64| RateSegment {
        phase,
        start: s,
        end: e,
        from_rate: a,
        to_rate: b,
    };
    let crosses = (from - cap) * (to - cap) < 0.0;
    if !crosses {
        out.push(seg(start, end, from.min(cap), to.min(cap)));
        return;
    }
    // Split where the ramp meets the cap, so every segment stays linear.
    let at = start + (cap - from) / (to - from) * (end - start);
    out.push(seg(start, at, from.min(cap), cap));
    out.push(seg(at, end, cap, to.min(cap)));
}

/// μ and σ of the log-normal whose median and 90th percentile are given.
fn lognormal_params(median: Duration, p90: Duration) -> (f64, f64) {
    const Z90: f64 = 1.281_551_565_5;
    let mu = median.as_secs_f64().max(1e-3).ln();
    let sigma = ((p90.as_secs_f64().max(1e-3)).ln() - mu).max(1e-6) / Z90;
    (mu, sigma)
}

/// Fraction of a log-normal watch time (given by its median and 90th percentile, in seconds)
/// still running `t` seconds in: the reference `concurrency.rs`'s closed form is tested against.
#[cfg(test)]
fn lognormal_survival(median_s: f64, p90_s: f64, t: f64) -> f64 {
    if t <= 0.0 {
        return 1.0;
    }
    let (mu, sigma) = lognormal_params(
        Duration::from_secs_f64(median_s.max(0.0)),
        Duration::from_secs_f64(p90_s.max(0.0)),
    );
    0.5 * libm::erfc((t.ln() - mu) / (sigma * std::f64::consts::SQRT_2))
}

/// Lazily generated arrivals, in time order.
pub struct Arrivals<'a> {
    plan: &'a Plan,
    rng: StdRng,
    segment: usize,
    /// Expected arrivals before the current segment's start.
    counted_before: f64,
    next_index: u64,
    /// Smooth weighted round-robin state: one robin per shard (viewer id mod N), each with a
    /// credit per region.
    credit: Vec<Vec<f64>>,
    /// Arrivals of the sliced region seen so far (`Plan::region_slice`).
    region_seen: u64,
    watch: WatchSampler,
}

enum WatchSampler {
    Fixed(Duration),
    LogNormal(LogNormal<f64>),
}

impl<'a> Arrivals<'a> {
    fn new(plan: &'a Plan) -> Self {
        let watch = match plan.watch {
            WatchTime::Fixed { duration } => WatchSampler::Fixed(duration),
            WatchTime::LogNormal { median, p90 } => {
                let (mu, sigma) = lognormal_params(median, p90);
                match LogNormal::new(mu, sigma) {
                    Ok(d) => WatchSampler::LogNormal(d),
                    Err(_) => WatchSampler::Fixed(median),
                }
            }
        };
        // A region slice is cut from the one-robin plan by its own count (every pod of every
        // region must draw the same regions); only plain shards deal a robin each.
        let robins = match (plan.region_slice, plan.shard) {
            (None, Some(s)) => s.count.max(1) as usize,
            _ => 1,
        };
        Arrivals {
            plan,
            rng: StdRng::seed_from_u64(plan.seed),
            segment: 0,
            counted_before: 0.0,
            next_index: 0,
            credit: vec![vec![0.0; plan.shares.len()]; robins],
            region_seen: 0,
            watch,
        }
    }

    /// The region of arrival `index`, from the robin of its shard.
    fn pick_region(&mut self, index: u64) -> u16 {
        let robins = self.credit.len().max(1) as u64;
        let Some(credit) = self.credit.get_mut((index % robins) as usize) else {
            return 0;
        };
        let mut best = 0;
        for (i, share) in self.plan.shares.iter().enumerate() {
            credit[i] += share;
            if credit[i] > credit[best] {
                best = i;
            }
        }
        credit[best] -= 1.0;
        best as u16
    }
}

impl Iterator for Arrivals<'_> {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        // Every shard draws the whole plan (same seed, same instants) and keeps its slice, so
        // N shards together run the plan one process would (regions dealt per shard).
        loop {
            let arrival = self.next_unsharded()?;
            if let Some(slice) = self.plan.region_slice {
                if arrival.region != slice.region {
                    continue;
                }
                let k = self.region_seen;
                self.region_seen += 1;
                if k % slice.count == slice.index - 1 {
                    return Some(arrival);
                }
                continue;
            }
            match self.plan.shard {
                Some(shard) if arrival.viewer_id % shard.count != shard.index - 1 => continue,
                _ => return Some(arrival),
            }
        }
    }
}

impl Arrivals<'_> {
    fn next_unsharded(&mut self) -> Option<Arrival> {
        let target = self.next_index as f64 + self.rng.gen::<f64>();
        loop {
            let seg = self.plan.segments.get(self.segment)?;
            let in_segment = seg.expected();
            if target < self.counted_before + in_segment {
                let offset = seg.offset_for(target - self.counted_before);
                let region = self.pick_region(self.next_index);
                let watch_for = match &self.watch {
                    WatchSampler::Fixed(d) => *d,
                    WatchSampler::LogNormal(dist) => {
                        Duration::from_secs_f64(dist.sample(&mut self.rng).min(86_400.0))
                    }
                };
                let arrival = Arrival {
                    at: Duration::from_secs_f64(seg.start + offset),
                    region,
                    phase: seg.phase,
                    viewer_id: self.next_index,
                    watch_for,
                };
                self.next_index += 1;
                return Some(arrival);
            }
            self.counted_before += in_segment;
            self.segment += 1;
        }
    }
}

#[cfg(test)]
mod tests;
