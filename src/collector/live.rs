//! The merged view of the closed seconds while the run goes: what the collector's progress
//! line shows and `abort_when` judges. Exact: counters are summed and the join and start-lag
//! histograms are added from the shards' interval entries, never averaged.
//!
//! The `all` rows of each shard's `timeseries.csv` carry its per-second totals; every shard
//! started at the same instant, so second `s` of one is second `s` of all.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::Histogram;

use crate::metrics::result::{decode_histogram, new_histogram};
use crate::metrics::LiveStats;
use crate::metrics::Metric;

/// Seconds of the error-rate window, as `run`'s `abort_when`.
const RECENT_SECONDS: u64 = 5;

#[derive(Debug, Clone, Copy, Default)]
struct Second {
    joins_ok: u64,
    requests: u64,
    errors: u64,
    active: u64,
}

#[derive(Default)]
pub struct LiveMerge {
    seconds: BTreeMap<u64, Second>,
    /// Per shard index: the CSV header's column positions, and the last second received.
    shards: BTreeMap<u64, ShardColumns>,
    join: Option<Histogram<u64>>,
    lag: Option<Histogram<u64>>,
}

struct ShardColumns {
    cols: Option<[usize; 6]>,
    last_second: Option<u64>,
}

impl LiveMerge {
    pub fn new() -> LiveMerge {
        LiveMerge {
            join: new_histogram().ok(),
            lag: new_histogram().ok(),
            ..LiveMerge::default()
        }
    }

    /// Add a shard's newly written lines (whole lines of each file).
    pub fn add(&mut self, shard: u64, csv: &str, hlog: &str) {
        let entry = self.shards.entry(shard).or_insert(ShardColumns {
            cols: None,
            last_second: None,
        });
        for line in csv.lines() {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.first() == Some(&"second") {
                let at = |name: &str| cells.iter().position(|c| *c == name);
                entry.cols = (|| {
                    Some([
                        at("second")?,
                        at("region")?,
                        at("joins_ok")?,
                        at("requests")?,
                        at("errors")?,
                        at("active_viewers")?,
                    ])
                })();
                continue;
            }
            let Some(cols) = entry.cols else { continue };
            if cells.get(cols[1]) != Some(&"all") {
                continue;
            }
            let int = |i: usize| cells.get(cols[i]).and_then(|c| c.parse::<u64>().ok());
            let (Some(second), Some(joins), Some(requests), Some(errors), Some(active)) =
                (int(0), int(2), int(3), int(4), int(5))
            else {
                continue;
            };
            let s = self.seconds.entry(second).or_default();
            s.joins_ok += joins;
            s.requests += requests;
            s.errors += errors;
            s.active += active;
            entry.last_second = Some(entry.last_second.map_or(second, |l| l.max(second)));
        }
        for item in IntervalLogIterator::new(hlog.as_bytes()) {
            let Ok(LogEntry::Interval(i)) = item else {
                continue;
            };
            let tag = i.tag().map(|t| t.as_str()).unwrap_or_default();
            let target = match tag.rsplit_once('/').map(|(_, m)| m) {
                Some(m) if m == Metric::JoinMs.name() => self.join.as_mut(),
                Some(m) if m == Metric::GeneratorLagMs.name() => self.lag.as_mut(),
                _ => None,
            };
            if let (Some(acc), Ok(h)) = (target, decode_histogram(i.encoded_histogram())) {
                let _ = acc.add(&h);
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

    /// The second with the most viewers live across every shard, and that count.
    pub fn peak(&self) -> Option<(u64, u64)> {
        self.seconds
            .iter()
            .max_by_key(|(s, v)| (v.active, std::cmp::Reverse(**s)))
            .map(|(s, v)| (*s, v.active))
    }

    /// The merged figures up to and including second `upto`.
    pub fn stats(&self, upto: u64) -> LiveStats {
        let q99 = |h: &Option<Histogram<u64>>| {
            h.as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(0.99) as f64 / 1000.0)
        };
        let mut s = LiveStats {
            elapsed: Duration::from_secs(upto + 1),
            join_p99_ms: q99(&self.join),
            lag_p99_ms: q99(&self.lag),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_of_all_shards_are_summed_and_only_closed_ones_count() {
        let header = crate::metrics::series::csv_header();
        let row = |second: u64, region: &str, joins: u64, req: u64, err: u64, active: u64| {
            let mut cells: Vec<String> = header.split(',').map(|_| "0".to_string()).collect();
            let cols: Vec<&str> = header.split(',').collect();
            let mut set = |name: &str, v: String| {
                let i = cols.iter().position(|c| *c == name).expect("column");
                cells[i] = v;
            };
            set("second", second.to_string());
            set("region", region.into());
            set("joins_ok", joins.to_string());
            set("requests", req.to_string());
            set("errors", err.to_string());
            set("active_viewers", active.to_string());
            cells.join(",")
        };
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
}
