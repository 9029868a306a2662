//! Capacity and the knee, from the per-second series of one region (or `all`).
//!
//! Each second is judged against every SLO gate that has a per-second column (`connect_p99_ms`
//! for `connect_ms: { p99 }`, …; `error_rate` is errors ÷ requests of that second): **held**
//! (no gate broke, at least one was judged), **broken** (some gate exceeded its threshold) or
//! **idle** (nothing to judge). A single second of a few samples is noisy, so a verdict only
//! counts when it lasts [`SUSTAIN_S`] consecutive seconds:
//!
//! - **held capacity** = the highest load (active viewers; successful joins/s) seen in a second
//!   that lies inside a run of ≥ `SUSTAIN_S` held seconds;
//! - **knee** = the load at the first second of the first run of ≥ `SUSTAIN_S` broken seconds.
//!
//! Both edges of the transition use the same rule. Taking the *minimum* load over a 3-second
//! window instead would understate a ramp by two seconds of its slope, and a ramp is exactly how
//! a knee is found. Gates without a per-second column are judged on the whole run only.

use crate::metrics::result::{GateBreak, Knee};
use crate::metrics::Metric;
use crate::scenario::SloGate;

use super::series::SecondRow;

/// Consecutive seconds a held or broken verdict must last to count.
pub const SUSTAIN_S: usize = 3;

/// The per-second column that carries `gate`, if the series has one (`join_ms` p95 →
/// `join_p95_ms`). `error_rate` is computed from counters and always judged.
pub fn gate_column(gate: &SloGate, columns: &[String]) -> Option<String> {
    let base = gate.metric.name().strip_suffix("_ms")?;
    let name = format!("{base}_{}_ms", gate.stat);
    columns.contains(&name).then_some(name)
}

/// Is `gate` judged per second with these columns?
pub fn per_second(gate: &SloGate, columns: &[String]) -> bool {
    gate.metric == Metric::ErrorRate || gate_column(gate, columns).is_some()
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Held,
    Broken(Vec<GateBreak>),
    Idle,
}

fn judge(row: &SecondRow, gates: &[SloGate], columns: &[String]) -> State {
    let mut judged = false;
    let mut broken = Vec::new();
    for gate in gates {
        let measured = if gate.metric == Metric::ErrorRate {
            row.error_rate()
        } else {
            gate_column(gate, columns).and_then(|c| row.latency.get(&c).copied())
        };
        let Some(v) = measured else { continue };
        judged = true;
        if v > gate.threshold {
            broken.push(GateBreak {
                metric: gate.metric,
                stat: gate.stat,
                threshold: gate.threshold,
                measured: v,
            });
        }
    }
    match (judged, broken.is_empty()) {
        (false, _) => State::Idle,
        (true, true) => State::Held,
        (true, false) => State::Broken(broken),
    }
}

/// What one scope's series shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScopeCapacity {
    pub peak_viewers: u64,
    pub peak_joins_per_sec: f64,
    pub held_viewers: Option<u64>,
    pub held_joins_per_sec: Option<f64>,
    pub knee: Option<Knee>,
    /// Seconds that broke a gate but not for `SUSTAIN_S` in a row (noise, or a short spike).
    pub transient_breaks: usize,
}

/// Analyse one scope's rows (time order) against the gates that have per-second data.
pub fn analyse(rows: &[&SecondRow], gates: &[SloGate], columns: &[String]) -> ScopeCapacity {
    let states: Vec<State> = rows.iter().map(|r| judge(r, gates, columns)).collect();
    let mut out = ScopeCapacity {
        peak_viewers: rows.iter().map(|r| r.active_viewers).max().unwrap_or(0),
        peak_joins_per_sec: rows.iter().map(|r| r.joins_ok).max().unwrap_or(0) as f64,
        ..ScopeCapacity::default()
    };
    // Runs of the same kind of state; a gap in `second` (a missing row) also ends a run.
    let mut start = 0;
    while start < states.len() {
        let same = |a: &State, b: &State| std::mem::discriminant(a) == std::mem::discriminant(b);
        let mut end = start + 1;
        while end < states.len()
            && same(&states[end], &states[start])
            && rows[end].second == rows[end - 1].second + 1
        {
            end += 1;
        }
        let sustained = end - start >= SUSTAIN_S;
        match &states[start] {
            State::Held if sustained => {
                let run = &rows[start..end];
                let v = run.iter().map(|r| r.active_viewers).max().unwrap_or(0);
                let j = run.iter().map(|r| r.joins_ok).max().unwrap_or(0) as f64;
                out.held_viewers = Some(out.held_viewers.map_or(v, |h| h.max(v)));
                out.held_joins_per_sec = Some(out.held_joins_per_sec.map_or(j, |h| h.max(j)));
            }
            // Only the first sustained break is the knee; later ones are past it.
            State::Broken(broken) if sustained && out.knee.is_none() => {
                out.knee = Some(Knee {
                    second: rows[start].second,
                    active_viewers: rows[start].active_viewers,
                    offered_joins_per_sec: rows[start].arrivals as f64,
                    broken: broken.clone(),
                });
            }
            State::Broken(_) if sustained => {}
            State::Broken(_) => out.transient_breaks += end - start,
            _ => {}
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metric, Stat};

    fn gates() -> Vec<SloGate> {
        vec![
            SloGate {
                metric: Metric::JoinMs,
                stat: Stat::P95,
                threshold: 500.0,
            },
            SloGate {
                metric: Metric::ErrorRate,
                stat: Stat::Value,
                threshold: 0.01,
            },
        ]
    }

    fn cols() -> Vec<String> {
        vec!["join_p95_ms".into(), "connect_p99_ms".into()]
    }

    /// One row per second: (active viewers, join p95 ms, errors per 100 requests).
    fn series(points: &[(u64, f64, u64)]) -> Vec<SecondRow> {
        points
            .iter()
            .enumerate()
            .map(|(s, &(active, p95, errors))| SecondRow {
                second: s as u64,
                region: "eu".into(),
                arrivals: 10,
                joins_ok: 10,
                active_viewers: active,
                requests: 100,
                errors,
                latency: [("join_p95_ms".to_string(), p95)].into(),
                ..SecondRow::default()
            })
            .collect()
    }

    fn run(points: &[(u64, f64, u64)]) -> ScopeCapacity {
        let rows = series(points);
        let refs: Vec<&SecondRow> = rows.iter().collect();
        analyse(&refs, &gates(), &cols())
    }

    #[test]
    fn a_linear_ramp_breaks_at_the_knee() {
        // 30 viewers more each second; errors start once 300 are connected.
        let points: Vec<(u64, f64, u64)> = (0..20u64)
            .map(|s| (30 * s, 40.0 + s as f64, if 30 * s >= 300 { 20 } else { 0 }))
            .collect();
        let c = run(&points);
        let knee = c.knee.expect("a knee");
        assert_eq!(knee.active_viewers, 300);
        assert_eq!(knee.second, 10);
        assert_eq!(knee.broken[0].metric, Metric::ErrorRate);
        assert_eq!(
            c.held_viewers,
            Some(270),
            "the last held second before the break"
        );
    }

    #[test]
    fn one_bad_second_is_noise_not_a_knee() {
        let mut points = vec![(100, 50.0, 0); 12];
        points[5] = (100, 900.0, 0);
        let c = run(&points);
        assert_eq!(c.knee, None);
        assert_eq!(c.transient_breaks, 1);
        assert_eq!(c.held_viewers, Some(100));
    }

    #[test]
    fn a_latency_knee_names_the_latency_gate() {
        let points: Vec<(u64, f64, u64)> = (0..10u64)
            .map(|s| (50 * s, if s >= 6 { 800.0 } else { 100.0 }, 0))
            .collect();
        let c = run(&points);
        let knee = c.knee.expect("knee");
        assert_eq!(
            (knee.active_viewers, knee.broken[0].metric),
            (300, Metric::JoinMs)
        );
        assert_eq!(knee.broken[0].measured, 800.0);
    }

    #[test]
    fn held_needs_three_seconds_in_a_row() {
        // Alternating held / broken never confirms either.
        let points: Vec<(u64, f64, u64)> = (0..10u64)
            .map(|s| (100, if s % 2 == 0 { 100.0 } else { 900.0 }, 0))
            .collect();
        let c = run(&points);
        assert_eq!((c.held_viewers, c.knee.is_none()), (None, true));
    }

    #[test]
    fn seconds_without_samples_are_idle_and_split_runs() {
        let mut rows = series(&[(10, 50.0, 0), (10, 50.0, 0), (10, 50.0, 0)]);
        rows[1].requests = 0;
        rows[1].latency.clear();
        let refs: Vec<&SecondRow> = rows.iter().collect();
        assert_eq!(analyse(&refs, &gates(), &cols()).held_viewers, None);
    }

    #[test]
    fn gate_columns_follow_the_naming_rule() {
        let g = |m: &str, s: &str| SloGate {
            metric: Metric::from_name(m).expect("metric"),
            stat: Stat::from_name(s).expect("stat"),
            threshold: 1.0,
        };
        assert_eq!(
            gate_column(&g("join_ms", "p95"), &cols()).as_deref(),
            Some("join_p95_ms")
        );
        assert_eq!(gate_column(&g("join_ms", "p99.9"), &cols()), None);
        assert!(per_second(&g("error_rate", "value"), &cols()));
        assert!(!per_second(&g("stall_ratio", "value"), &cols()));
    }
}
