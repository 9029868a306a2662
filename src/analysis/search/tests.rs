use super::*;
use crate::scenario::SloGate;
use std::time::Duration;

fn search(q: SearchQuantity, start: f64, max: f64, precision: f64) -> Search {
    Search {
        quantity: q,
        start,
        max,
        ramp: Duration::from_secs(2),
        settle: Duration::from_secs(1),
        step: Duration::from_secs(3),
        cooldown: Duration::from_secs(1),
        precision,
        hold: Duration::from_secs(5),
        gates: vec![SloGate {
            metric: crate::metrics::Metric::ErrorRate,
            stat: crate::metrics::Stat::Value,
            threshold: 0.01,
        }],
        max_steps: 20,
    }
}

/// Run the searcher against a target that holds up to `capacity`; the levels tried, in order.
fn drive(s: &Search, capacity: f64) -> (Vec<f64>, SearchOutcome, Searcher) {
    let mut searcher = Searcher::new(s);
    let mut levels = Vec::new();
    loop {
        match searcher.next() {
            Next::Step { level, .. } => {
                levels.push(level);
                let v = if level <= capacity {
                    StepVerdict::Pass
                } else {
                    StepVerdict::Fail
                };
                searcher.record(level, v);
            }
            Next::Done(o) => return (levels, o, searcher),
        }
        assert!(levels.len() < 100, "no end: {levels:?}");
    }
}

#[test]
fn doubles_then_bisects_to_adjacent_viewers() {
    let s = search(SearchQuantity::ConcurrentViewers, 5.0, 200.0, 0.05);
    let (levels, outcome, searcher) = drive(&s, 20.0);
    assert_eq!(levels, vec![5.0, 10.0, 20.0, 40.0, 30.0, 25.0, 22.0, 21.0]);
    assert_eq!(outcome, SearchOutcome::Bracket);
    assert_eq!(
        (searcher.highest_pass, searcher.lowest_fail),
        (Some(20.0), Some(21.0))
    );
}

#[test]
fn stops_within_precision() {
    let s = search(SearchQuantity::ConcurrentViewers, 50.0, 2000.0, 0.05);
    let (levels, outcome, searcher) = drive(&s, 300.0);
    let (p, f) = (
        searcher.highest_pass.unwrap_or(0.0),
        searcher.lowest_fail.unwrap_or(0.0),
    );
    assert_eq!(outcome, SearchOutcome::Bracket);
    assert!(p <= 300.0 && f > 300.0 && f - p <= 0.05 * p, "{p} {f}");
    assert!(levels.len() <= 9, "{levels:?}");
    // Join rates are bisected to 0.1/s, not to whole numbers.
    let s = search(SearchQuantity::JoinsPerSec, 1.0, 100.0, 0.02);
    let (_, _, searcher) = drive(&s, 13.37);
    let (p, f) = (
        searcher.highest_pass.unwrap_or(0.0),
        searcher.lowest_fail.unwrap_or(0.0),
    );
    assert!(
        p <= 13.37 && f > 13.37 && f - p <= 0.02 * p + 0.1,
        "{p} {f}"
    );
}

#[test]
fn doom_and_no_knee_are_answers() {
    let s = search(SearchQuantity::ConcurrentViewers, 50.0, 300.0, 0.05);
    assert_eq!(drive(&s, 10.0).0, vec![50.0]);
    assert_eq!(drive(&s, 10.0).1, SearchOutcome::Doom);
    let (levels, outcome, _) = drive(&s, 1000.0);
    assert_eq!(
        levels,
        vec![50.0, 100.0, 200.0, 300.0],
        "the last step is max itself"
    );
    assert_eq!(outcome, SearchOutcome::NoKneeUpToMax);
}

#[test]
fn a_generator_limited_step_stops_the_search() {
    let s = search(SearchQuantity::JoinsPerSec, 10.0, 1000.0, 0.05);
    let mut searcher = Searcher::new(&s);
    searcher.record(10.0, StepVerdict::Pass);
    assert_eq!(
        searcher.next(),
        Next::Step {
            level: 20.0,
            binary: false
        }
    );
    searcher.record(20.0, StepVerdict::GeneratorLimited);
    assert_eq!(searcher.next(), Next::Done(SearchOutcome::GeneratorLimited));
    assert_eq!(searcher.lowest_fail, None, "never a target failure");
}

#[test]
fn the_step_budget_is_a_hard_bound() {
    let mut s = search(SearchQuantity::ConcurrentViewers, 1.0, 100_000.0, 0.001);
    s.max_steps = 6;
    let (levels, outcome, _) = drive(&s, 777.0);
    assert_eq!(levels.len(), 6);
    assert_eq!(outcome, SearchOutcome::StepLimit);
}
