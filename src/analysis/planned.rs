//! The run's own planned peak (concurrent viewers and joins/s), recomputed from results.json
//! alone: the target load when the scenario has no `event` forecast.
//!
//! `plan::Plan` computes the same from a live `Scenario`, which `report DIR` does not have; here
//! the phases come from `RunResult::phases` and the watch time from the resolved scenario JSON.
//! Concurrency is `plan::concurrency`, the same closed form `validate` uses (the arrival rate
//! convolved with the watch-time survival function), capped by `load.max_viewers`.

use std::time::Duration;

use serde_json::Value;

use crate::metrics::RunResult;
use crate::scenario::WatchTime;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedPeak {
    pub viewers: f64,
    pub joins_per_sec: f64,
}

/// Seconds from results.json as a duration; a corrupt value (negative, NaN, huge) is 0 rather
/// than a panic.
fn secs(v: Option<f64>) -> Duration {
    v.and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or_default()
}

/// The watch time as the resolved scenario JSON records it.
fn watch_time(watch: &Value) -> WatchTime {
    match watch["kind"].as_str() {
        Some("log_normal") => {
            let median = watch["median"].as_f64().unwrap_or(1.0);
            WatchTime::LogNormal {
                median: secs(Some(median)),
                p90: secs(watch["p90"].as_f64().or(Some(median))),
            }
        }
        _ => WatchTime::Fixed {
            duration: secs(watch["duration"].as_f64()),
        },
    }
}

pub fn peak(r: &RunResult) -> PlannedPeak {
    let cap = r.scenario.max_joins_per_sec;
    let mut segments = Vec::new();
    for (i, p) in r.phases.iter().enumerate() {
        let to = p.ramp_to.unwrap_or(p.joins_per_sec);
        let (start, end) = (p.start_s, p.start_s + p.duration_s);
        crate::plan::push_capped(
            &mut segments,
            i as u16,
            start,
            end,
            p.joins_per_sec,
            to,
            cap,
        );
    }
    let phases: Vec<(f64, f64)> = r.phases.iter().map(|p| (p.start_s, p.duration_s)).collect();
    let resolved = &r.scenario.resolved;
    // `watch.protocol: none` viewers still stay their watch time (the engine holds them), so
    // they count as concurrent like any other: a plan of 0 viewers would be a lie.
    let watch = watch_time(&resolved["viewer"]["watch"]["duration"]);
    let viewers = crate::plan::concurrency(&segments, &phases, watch).peak;
    let joins = r
        .phases
        .iter()
        .map(|p| {
            p.joins_per_sec
                .max(p.ramp_to.unwrap_or(0.0))
                .min(r.scenario.max_joins_per_sec)
        })
        .fold(0.0f64, f64::max);
    PlannedPeak {
        viewers: viewers.min(r.scenario.max_viewers as f64),
        joins_per_sec: joins,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_time_is_read_from_the_resolved_json_and_corrupt_values_are_zero() {
        let fixed = serde_json::json!({"kind": "fixed", "duration": 30.0});
        assert_eq!(
            watch_time(&fixed),
            WatchTime::Fixed {
                duration: Duration::from_secs(30)
            }
        );
        let ln = serde_json::json!({"kind": "log_normal", "median": 20.0, "p90": 45.0});
        assert_eq!(
            watch_time(&ln),
            WatchTime::LogNormal {
                median: Duration::from_secs(20),
                p90: Duration::from_secs(45)
            }
        );
        let bad = serde_json::json!({"kind": "fixed", "duration": -3.0});
        assert_eq!(
            watch_time(&bad),
            WatchTime::Fixed {
                duration: Duration::ZERO
            }
        );
    }
}
