//! The run's own planned peak (concurrent viewers and joins/s), recomputed from results.json
//! alone: the target load when the scenario has no `event` forecast.
//!
//! `plan::Plan` computes the same from a live `Scenario`, which `report DIR` does not have; here
//! the phases come from `RunResult::phases` and the watch time from the resolved scenario JSON.
//! Concurrency is the convolution of the arrival rate with the watch-time survival function
//! (not Little's law, which overstates short spikes), capped by `load.max_viewers`.

use serde_json::Value;

use crate::metrics::RunResult;

/// Sub-steps per second when integrating the arrival rate: ramps are linear, 10 is plenty.
const STEPS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedPeak {
    pub viewers: f64,
    pub joins_per_sec: f64,
}

/// Arrival rate (all regions) at `t` seconds, with the `max_joins_per_sec` cap applied.
fn rate_at(r: &RunResult, t: f64) -> f64 {
    let cap = r.scenario.max_joins_per_sec;
    r.phases
        .iter()
        .find(|p| t >= p.start_s && t < p.start_s + p.duration_s)
        .map(|p| {
            let to = p.ramp_to.unwrap_or(p.joins_per_sec);
            let f = if p.duration_s > 0.0 {
                (t - p.start_s) / p.duration_s
            } else {
                0.0
            };
            (p.joins_per_sec + (to - p.joins_per_sec) * f).min(cap)
        })
        .unwrap_or(0.0)
}

/// Fraction of viewers still watching `age` seconds after arriving.
fn survival(watch: &Value, age: f64) -> f64 {
    match watch["kind"].as_str() {
        Some("log_normal") => {
            let median = watch["median"].as_f64().unwrap_or(1.0);
            let p90 = watch["p90"].as_f64().unwrap_or(median);
            crate::plan::lognormal_survival(median, p90, age)
        }
        _ => {
            let d = watch["duration"].as_f64().unwrap_or(0.0);
            if age < d {
                1.0
            } else {
                0.0
            }
        }
    }
}

pub fn peak(r: &RunResult) -> PlannedPeak {
    let total = r
        .phases
        .iter()
        .map(|p| p.start_s + p.duration_s)
        .fold(0.0f64, f64::max);
    let seconds = total.ceil() as usize;
    let arrivals: Vec<f64> = (0..seconds)
        .map(|s| {
            (0..STEPS)
                .map(|k| rate_at(r, s as f64 + (k as f64 + 0.5) / STEPS as f64))
                .sum::<f64>()
                / STEPS as f64
        })
        .collect();
    let resolved = &r.scenario.resolved;
    // `watch.protocol: none` viewers still stay their watch time (the engine holds them), so
    // they count as concurrent like any other: a plan of 0 viewers would be a lie.
    let watch = &resolved["viewer"]["watch"]["duration"];
    let viewers = crate::plan::convolve(&arrivals, |age| survival(watch, age as f64 + 0.5))
        .into_iter()
        .fold(0.0f64, f64::max);
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
    fn survival_follows_the_watch_time() {
        let fixed = serde_json::json!({"kind": "fixed", "duration": 30.0});
        assert_eq!((survival(&fixed, 29.5), survival(&fixed, 30.5)), (1.0, 0.0));
        let ln = serde_json::json!({"kind": "log_normal", "median": 20.0, "p90": 45.0});
        assert!((survival(&ln, 20.0) - 0.5).abs() < 1e-6);
        assert!((survival(&ln, 45.0) - 0.1).abs() < 1e-3);
    }
}
