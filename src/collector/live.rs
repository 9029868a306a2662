//! The merged view of the closed seconds while the run goes: what the collector's progress
//! line shows, what `abort_when` judges, and the SLO gates judged so far. Exact: counters are
//! summed and interval histograms added, never averaged.
//!
//! Every shard started at the same instant, so second `s` of one is second `s` of all. A
//! second counts once every streaming shard has closed it ([`LiveMerge::fold`]); until then
//! its rows and histograms wait. The region rows of each shard's `timeseries.csv` (read line by
//! line by the one reader, [`SeriesHeader`]) and its `histograms.hlog` intervals feed per-region and
//! overall totals, which `analysis::slo::judge` (the rule of a run and of `merge`) gates: when
//! every shard has finished and everything is folded, the gates are those of the merged
//! results.json.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::Histogram;

use crate::analysis::slo;
use crate::metrics::cell::Counters;
use crate::metrics::result::{decode_histogram, new_histogram, summarize};
use crate::metrics::series_file::SeriesHeader;
use crate::metrics::{Breakdown, LiveStats, Metric, SloResult, ViewerCounts};
use crate::scenario::SloGate;

/// Seconds of the error-rate window, as `run`'s `abort_when`.
const RECENT_SECONDS: u64 = 5;

/// The `all` rows' figures of one second, for the progress line and `abort_when`.
#[derive(Debug, Clone, Copy, Default)]
struct Second {
    joins_ok: u64,
    requests: u64,
    errors: u64,
    active: u64,
}

/// Counters and histograms of one scope (a region, or overall).
#[derive(Default)]
struct Totals {
    counters: Counters,
    hists: BTreeMap<Metric, Histogram<u64>>,
}

impl Totals {
    fn add_hist(&mut self, metric: Metric, h: &Histogram<u64>) {
        if let Some(acc) = self.hists.get_mut(&metric) {
            let _ = acc.add(h);
        } else if let Ok(mut acc) = new_histogram() {
            let _ = acc.add(h);
            self.hists.insert(metric, acc);
        }
    }

    /// The figures the gates read, as `metrics::build` makes them for a run (only the gated
    /// metrics are summarised: this runs once a second).
    fn breakdown(&self, name: &str, gated: &[Metric]) -> Breakdown {
        let c = &self.counters;
        Breakdown {
            name: name.to_string(),
            viewers: ViewerCounts::from_counts(&c.outcomes),
            requests: c.requests,
            error_rate: if c.requests == 0 {
                0.0
            } else {
                c.request_errors() as f64 / c.requests as f64
            },
            metrics: self
                .hists
                .iter()
                .filter(|(m, _)| gated.contains(m))
                // Only the gates read these; a histogram that could not be encoded leaves its
                // metric without samples, which fails its gate: never a false pass.
                .filter_map(|(m, h)| Some((*m, summarize(*m, h).ok()?)))
                .collect(),
            ..Breakdown::default()
        }
    }
}

/// A second not yet closed by every shard: region rows and interval histograms.
#[derive(Default)]
struct Pending {
    rows: Vec<(String, Counters)>,
    hists: Vec<(String, Metric, Histogram<u64>)>,
}

#[derive(Default)]
pub struct LiveMerge {
    seconds: BTreeMap<u64, Second>,
    /// Per shard index: its CSV header, the lines read and the last second received.
    shards: BTreeMap<u64, ShardLines>,
    /// Seconds not folded yet. A line may also arrive for a second already folded (a shard's
    /// CSV reached the disk before its interval log): the next fold takes it.
    pending: BTreeMap<u64, Pending>,
    regions: BTreeMap<String, Totals>,
    overall: Totals,
}

#[derive(Default)]
struct ShardLines {
    /// Read from the shard's first line; `None` until then, or when it is not peakready's.
    header: Option<SeriesHeader>,
    lines: u64,
    last_second: Option<u64>,
}

impl LiveMerge {
    pub fn new() -> LiveMerge {
        LiveMerge::default()
    }

    /// Add a shard's newly written lines (whole lines of each file, from its first).
    pub fn add(&mut self, shard: u64, csv: &str, hlog: &str) {
        let entry = self.shards.entry(shard).or_default();
        for line in csv.lines() {
            entry.lines += 1;
            if entry.lines == 1 {
                let shown = format!("shard {shard}'s timeseries.csv");
                entry.header = SeriesHeader::parse_line(line, &shown).ok();
                continue;
            }
            // A row this build cannot read is left out of the live view; `merge` at the end
            // reads the same bytes and names it.
            let Some(header) = &entry.header else {
                continue;
            };
            let Ok((row, (counters, active))) = header
                .row(line, entry.lines)
                .and_then(|row| header.counters(&row).map(|c| (row, c)))
            else {
                continue;
            };
            if row.region == "all" {
                let s = self.seconds.entry(row.second).or_default();
                s.joins_ok += counters.joins_ok;
                s.requests += counters.requests;
                s.errors += counters.request_errors();
                s.active += active;
                entry.last_second =
                    Some(entry.last_second.map_or(row.second, |l| l.max(row.second)));
            } else {
                let p = self.pending.entry(row.second).or_default();
                p.rows.push((row.region, counters));
            }
        }
        for item in IntervalLogIterator::new(hlog.as_bytes()) {
            let Ok(LogEntry::Interval(i)) = item else {
                continue;
            };
            let tag = i.tag().map(|t| t.as_str()).unwrap_or_default();
            let Some((region, metric)) = tag
                .rsplit_once('/')
                .and_then(|(r, m)| Some((r, Metric::from_name(m)?)))
            else {
                continue;
            };
            let second = i.start_timestamp().as_secs_f64().round() as u64;
            if let Ok(h) = decode_histogram(i.encoded_histogram()) {
                let p = self.pending.entry(second).or_default();
                p.hists.push((region.to_string(), metric, h));
            }
        }
    }

    /// The last second every one of `shards` has closed.
    pub fn closed_by_all(&self, shards: &[u64]) -> Option<u64> {
        shards
            .iter()
            .map(|i| self.shards.get(i).and_then(|s| s.last_second))
            .collect::<Option<Vec<u64>>>()?
            .into_iter()
            .min()
    }

    /// Move the seconds up to `upto` (every one when `None`: the run is over) into the totals.
    pub fn fold(&mut self, upto: Option<u64>) {
        let later = match upto {
            Some(u) => self.pending.split_off(&(u + 1)),
            None => BTreeMap::new(),
        };
        let ready = std::mem::replace(&mut self.pending, later);
        for p in ready.into_values() {
            for (region, c) in p.rows {
                self.regions.entry(region).or_default().counters.add(&c);
                self.overall.counters.add(&c);
            }
            for (region, metric, h) in p.hists {
                self.regions.entry(region).or_default().add_hist(metric, &h);
                self.overall.add_hist(metric, &h);
            }
        }
    }

    /// The second with the most viewers live across every shard, and that count.
    pub fn peak(&self) -> Option<(u64, u64)> {
        self.seconds
            .iter()
            .max_by_key(|(s, v)| (v.active, std::cmp::Reverse(**s)))
            .map(|(s, v)| (*s, v.active))
    }

    /// The merged figures up to and including second `upto` (histograms: what is folded).
    pub fn stats(&self, upto: u64) -> LiveStats {
        let q99 = |m: Metric| {
            self.overall
                .hists
                .get(&m)
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(0.99) as f64 / 1000.0)
        };
        let mut s = LiveStats {
            elapsed: Duration::from_secs(upto + 1),
            second: upto,
            join_p99_ms: q99(Metric::JoinMs),
            lag_p99_ms: q99(Metric::GeneratorLagMs),
            ..LiveStats::default()
        };
        let (mut recent_req, mut recent_err) = (0, 0);
        for (second, v) in self.seconds.range(..=upto) {
            s.joins_total += v.joins_ok;
            s.requests_total += v.requests;
            s.errors_total += v.errors;
            if *second + RECENT_SECONDS > upto {
                recent_req += v.requests;
                recent_err += v.errors;
            }
        }
        if let Some(last) = self.seconds.get(&upto) {
            s.active_viewers = last.active;
            s.joins_last_second = last.joins_ok;
        }
        s.recent_error_rate = if recent_req == 0 {
            0.0
        } else {
            recent_err as f64 / recent_req as f64
        };
        s
    }

    /// The scenario's gates on the folded seconds, per region (scenario order) and overall.
    pub fn slo(&self, regions: &[String], gates: &[SloGate]) -> Vec<SloResult> {
        let started = ViewerCounts::from_counts(&self.overall.counters.outcomes).started;
        let gates = slo::gates_of(gates, started);
        let gated: Vec<Metric> = gates.iter().map(|(g, _)| g.metric).collect();
        let none = Totals::default();
        let per_region: Vec<Breakdown> = regions
            .iter()
            .map(|r| self.regions.get(r).unwrap_or(&none).breakdown(r, &gated))
            .collect();
        let overall = self.overall.breakdown("overall", &gated);
        slo::judge(&gates, &per_region, &overall)
    }
}

/// "SLO 4 hold, 2 fail: eu join_ms p95, overall join_ms p95", "SLO 5 hold, 1 not measured
/// yet": the gates in the live line (the values are in the line the collector prints when a
/// gate starts failing, and in the report).
pub fn slo_words(results: &[SloResult]) -> String {
    let failing: Vec<String> = results
        .iter()
        .filter(|r| r.measured.is_some() && !r.passed)
        .map(gate_name)
        .collect();
    let unmeasured = results.iter().filter(|r| r.measured.is_none()).count();
    let holding = results.iter().filter(|r| r.passed).count();
    let mut words = format!("SLO {holding} hold");
    if !failing.is_empty() {
        words.push_str(&format!(", {} fail: {}", failing.len(), failing.join(", ")));
    }
    if unmeasured > 0 {
        words.push_str(&format!(", {unmeasured} not measured yet"));
    }
    words
}

/// "eu join_ms p95", "overall error_rate".
pub fn gate_name(r: &SloResult) -> String {
    if r.stat == crate::metrics::Stat::Value {
        format!("{} {}", r.scope, r.metric)
    } else {
        format!("{} {} {}", r.scope, r.metric, r.stat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Stat;

    fn row(second: u64, region: &str, joins: u64, req: u64, err: u64, active: u64) -> String {
        let header = crate::metrics::series::csv_header();
        let cols: Vec<&str> = header.split(',').collect();
        let mut cells: Vec<String> = cols.iter().map(|_| "0".to_string()).collect();
        let mut set = |name: &str, v: String| {
            let i = cols.iter().position(|c| *c == name).expect("column");
            cells[i] = v;
        };
        set("second", second.to_string());
        set("region", region.into());
        set("phase", "steady".into());
        set("joins_ok", joins.to_string());
        set("requests", req.to_string());
        set("errors", err.to_string());
        set("err_http_5xx", err.to_string());
        set("active_viewers", active.to_string());
        cells.join(",")
    }

    #[test]
    fn seconds_of_all_shards_are_summed_and_only_closed_ones_count() {
        let header = crate::metrics::series::csv_header();
        let mut m = LiveMerge::new();
        let a = format!(
            "{header}\n{}\n{}\n{}\n",
            row(0, "eu", 3, 10, 1, 3),
            row(0, "all", 3, 10, 1, 3),
            row(1, "all", 2, 10, 0, 5)
        );
        let b = format!("{header}\n{}\n", row(0, "all", 4, 20, 5, 4));
        m.add(1, &a, "");
        m.add(2, &b, "");
        assert_eq!(m.closed_by_all(&[1, 2]), Some(0));
        assert_eq!(m.closed_by_all(&[1, 2, 3]), None);
        let s = m.stats(0);
        assert_eq!(
            (s.joins_total, s.active_viewers, s.requests_total),
            (7, 7, 30)
        );
        assert!((s.recent_error_rate - 0.2).abs() < 1e-9);
    }

    #[test]
    fn gates_judge_the_folded_seconds_of_every_shard_per_region_and_overall() {
        let header = crate::metrics::series::csv_header();
        let gates = [SloGate {
            metric: Metric::ErrorRate,
            stat: Stat::Value,
            threshold: 0.1,
        }];
        let regions = ["eu".to_string(), "sea".to_string()];
        let mut m = LiveMerge::new();
        // eu: 1 failed of 10 on shard 1 and 4 of 10 on shard 2 (25%); sea: none of 20.
        m.add(
            1,
            &format!(
                "{header}\n{}\n{}\n",
                row(0, "eu", 1, 10, 1, 1),
                row(0, "sea", 1, 10, 0, 1)
            ),
            "",
        );
        m.add(
            2,
            &format!(
                "{header}\n{}\n{}\n",
                row(0, "eu", 1, 10, 4, 1),
                row(0, "sea", 1, 10, 0, 1)
            ),
            "",
        );
        // Nothing folded yet: no requests, so nothing measured.
        assert_eq!(
            slo_words(&m.slo(&regions, &gates)),
            "SLO 0 hold, 3 not measured yet"
        );
        m.fold(Some(0));
        let r = m.slo(&regions, &gates);
        let eu = r.iter().find(|g| g.scope == "eu").expect("eu");
        assert!((eu.measured.expect("eu measured") - 0.25).abs() < 1e-9);
        assert_eq!(
            slo_words(&r),
            "SLO 1 hold, 2 fail: eu error_rate, overall error_rate"
        );
        // A line of a second already folded (late on the disk) counts at the next fold.
        m.add(1, &format!("{}\n", row(0, "sea", 0, 10, 10, 0)), "");
        m.fold(Some(0));
        let sea = m.slo(&regions, &gates)[1].measured;
        assert!((sea.expect("sea measured") - 10.0 / 30.0).abs() < 1e-9);
    }
}
