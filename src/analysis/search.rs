//! The capacity search's decisions, free of I/O: which level to try next, when to stop, and
//! what the answer is in words.
//!
//! Nighthawk's adaptive load controller is the model: open-loop steps, exponential growth
//! (×2 from `start`, never above `max`) until a step fails, then bisection between the highest
//! pass and the lowest fail until `lowest fail − highest pass ≤ precision × highest pass` (or,
//! for whole viewers, until they are adjacent). "Doom" (the first step fails) and "no knee up to
//! max" are answers. A generator-limited step stops the search: its level was never offered,
//! so nothing about the target can be concluded from it.

use crate::metrics::result::{GateBreak, Knee, Readiness, ScopeReadiness, Verdict};
use crate::metrics::search::{CapacitySearch, SearchOutcome, SearchStep, StepVerdict};
use crate::scenario::{Search, SearchQuantity};

use crate::format::num;

/// Where the search stands.
#[derive(Debug, Clone)]
pub struct Searcher {
    start: f64,
    max: f64,
    precision: f64,
    /// Concurrent viewers are whole: levels are rounded and adjacent levels end the bisection.
    whole: bool,
    max_steps: u32,
    steps: u32,
    pub highest_pass: Option<f64>,
    pub lowest_fail: Option<f64>,
    stopped: Option<SearchOutcome>,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Run a step at this level; `binary` is false while still growing.
    Step {
        level: f64,
        binary: bool,
    },
    Done(SearchOutcome),
}

impl Searcher {
    pub fn new(s: &Search) -> Searcher {
        let whole = s.quantity == SearchQuantity::ConcurrentViewers;
        Searcher {
            start: s.start,
            max: s.max,
            precision: s.precision,
            whole,
            max_steps: s.max_steps,
            steps: 0,
            highest_pass: None,
            lowest_fail: None,
            stopped: None,
        }
    }

    fn round(&self, v: f64) -> f64 {
        if self.whole {
            v.round().max(1.0)
        } else {
            // Join rates to 0.1/s: finer steps than that are noise in a per-second plan.
            (v * 10.0).round() / 10.0
        }
    }

    pub fn next(&self) -> Next {
        if let Some(o) = self.stopped {
            return Next::Done(o);
        }
        let step = match (self.highest_pass, self.lowest_fail) {
            (None, None) => Next::Step {
                level: self.round(self.start),
                binary: false,
            },
            (None, Some(_)) => Next::Done(SearchOutcome::Doom),
            (Some(p), None) if p >= self.max => Next::Done(SearchOutcome::NoKneeUpToMax),
            (Some(p), None) => Next::Step {
                level: self.round((p * 2.0).min(self.max)),
                binary: false,
            },
            (Some(p), Some(f)) => {
                let mid = if self.whole {
                    ((p + f) / 2.0).floor()
                } else {
                    self.round((p + f) / 2.0)
                };
                if f - p <= self.precision * p || mid <= p || mid >= f {
                    Next::Done(SearchOutcome::Bracket)
                } else {
                    Next::Step {
                        level: mid,
                        binary: true,
                    }
                }
            }
        };
        match step {
            Next::Step { .. } if self.steps >= self.max_steps => {
                Next::Done(SearchOutcome::StepLimit)
            }
            other => other,
        }
    }

    /// Record a step's verdict. A generator-limited or incomplete step stops the search.
    pub fn record(&mut self, level: f64, verdict: StepVerdict) {
        self.steps += 1;
        match verdict {
            StepVerdict::Pass => {
                self.highest_pass = Some(self.highest_pass.map_or(level, |p| p.max(level)));
            }
            StepVerdict::Fail => {
                self.lowest_fail = Some(self.lowest_fail.map_or(level, |f| f.min(level)));
            }
            StepVerdict::GeneratorLimited => self.stopped = Some(SearchOutcome::GeneratorLimited),
            StepVerdict::Incomplete => self.stopped = Some(SearchOutcome::Interrupted),
        }
    }
}

/// "20 concurrent viewers", "150 joins/s".
pub fn level_words(q: SearchQuantity, level: f64) -> String {
    format!("{} {}", num(level), q.unit())
}

/// The answer in one sentence, and (when the search could not finish) what to change.
pub fn conclude(c: &CapacitySearch, cores: usize) -> (String, Option<String>) {
    let q = c.quantity;
    let pct = format!("{}% precision", num(c.precision * 100.0));
    let held = |at: f64| match &c.hold {
        Some(h) if h.verdict == StepVerdict::Pass => {
            format!(
                ", held {} s at {}",
                num(h.window_to_s - h.window_from_s),
                num(at)
            )
        }
        _ => String::new(),
    };
    let failed_at = |level: f64| {
        c.steps
            .iter()
            .find(|s| s.level == level && s.verdict == StepVerdict::Fail)
            .map(|s| format!(" ({})", s.reason))
            .unwrap_or_default()
    };
    match c.outcome {
        SearchOutcome::Bracket | SearchOutcome::StepLimit => {
            let (p, f) = (c.highest_pass.unwrap_or(0.0), c.lowest_fail.unwrap_or(0.0));
            let mut s = format!(
                "capacity between {} and {} {}, {pct}{}; {} failed{}",
                num(p),
                num(f),
                q.unit(),
                held(p),
                num(f),
                failed_at(f)
            );
            if let Some(r) = &c.failing_region {
                s.push_str(&format!("; first failing region: {r}"));
            }
            let advice = (c.outcome == SearchOutcome::StepLimit).then(|| {
                format!(
                    "search.max_steps ({}) ran out before the bracket narrowed to {pct}: raise max_steps or loosen precision",
                    c.steps.len()
                )
            });
            (s, advice)
        }
        SearchOutcome::HoldFailed => {
            let p = c.highest_pass.unwrap_or(0.0);
            let why = c
                .hold
                .as_ref()
                .map(|h| h.reason.clone())
                .unwrap_or_default();
            (
                format!(
                    "capacity below {}: {} passed a {} s step but failed the {} s hold ({why})",
                    level_words(q, p),
                    num(p),
                    num(c.step_s),
                    num(c.hold_s)
                ),
                Some("the target degrades over time at this level: rerun with a lower search.max, or a longer search.step".into()),
            )
        }
        SearchOutcome::Doom => (
            format!(
                "doom: the first step ({}) already failed{}; capacity is below it",
                level_words(q, c.start),
                failed_at(c.lowest_fail.unwrap_or(c.start))
            ),
            Some("lower search.start to find where the target still holds".into()),
        ),
        SearchOutcome::NoKneeUpToMax => (
            format!(
                "no knee up to max: every step passed up to {}{}",
                level_words(q, c.max),
                held(c.highest_pass.unwrap_or(c.max))
            ),
            None,
        ),
        SearchOutcome::GeneratorLimited => {
            let step = c
                .steps
                .iter()
                .rev()
                .find(|s| s.verdict == StepVerdict::GeneratorLimited);
            let at = step.map(|s| s.level).unwrap_or(0.0);
            let so_far = match c.highest_pass {
                Some(p) => format!("; the target held {} before that", level_words(q, p)),
                None => "; no level was judged".to_string(),
            };
            (
                format!(
                    "generator-limited: the load generator could not drive {} ({}), so the search stopped there{so_far}. This is not a target failure",
                    level_words(q, at),
                    step.map(|s| s.reason.as_str()).unwrap_or("")
                ),
                Some(format!(
                    "give the generator more CPU: more cores (this machine has {cores}), fewer threads busy elsewhere, no --threads limit, or split the load with --shard across machines"
                )),
            )
        }
        SearchOutcome::Interrupted => (
            format!(
                "search interrupted after {} step(s){}",
                c.steps.len(),
                match (c.highest_pass, c.lowest_fail) {
                    (Some(p), Some(f)) => format!(
                        ": capacity between {} and {} {} so far",
                        num(p),
                        num(f),
                        q.unit()
                    ),
                    (Some(p), None) => format!(": {} passed so far", level_words(q, p)),
                    _ => String::new(),
                }
            ),
            Some("rerun the search to finish it".into()),
        ),
    }
}

/// The step and the gate that failed first at the lowest failing level.
pub fn failing_step(c: &CapacitySearch) -> Option<&SearchStep> {
    let f = c.lowest_fail?;
    c.hold
        .iter()
        .chain(c.steps.iter())
        .find(|s| s.level == f && s.verdict == StepVerdict::Fail)
}

#[cfg(test)]
mod tests;

/// The verdict against the target, from the search's answer alone (see the module doc of
/// `readiness` for the words): NOT READY when a level at or below the target failed (or the
/// doomed start was at or below it); READY when a level at or above the target passed its step
/// and the hold (or every step passed up to a max at or above the target); AT RISK otherwise:
/// the target lies inside the bracket, was never reached, or the search could not finish.
pub fn verdict(c: &CapacitySearch) -> (Verdict, String) {
    let q = c.quantity;
    let t = c.target;
    let tw = level_words(q, t);
    let held_ok = c
        .hold
        .as_ref()
        .map_or(true, |h| h.verdict == StepVerdict::Pass);
    if let Some(f) = c.lowest_fail.filter(|f| *f <= t) {
        return (
            Verdict::NotReady,
            format!(
                "{} failed, at or below the target of {tw}",
                level_words(q, f)
            ),
        );
    }
    let finished = matches!(
        c.outcome,
        SearchOutcome::Bracket
            | SearchOutcome::NoKneeUpToMax
            | SearchOutcome::StepLimit
            | SearchOutcome::GeneratorLimited
    );
    match c.highest_pass {
        Some(p) if p >= t && held_ok && finished => (
            Verdict::Ready,
            format!("{} held every gate, {:.2}× the target of {tw}", level_words(q, p), p / t.max(1e-9)),
        ),
        Some(p) if c.outcome == SearchOutcome::NoKneeUpToMax => (
            Verdict::AtRisk,
            format!("every step passed up to max ({}), below the target of {tw}: the target was not tested", level_words(q, p)),
        ),
        Some(p) if p < t => (
            Verdict::AtRisk,
            format!("the target of {tw} lies between the highest pass ({}) and the lowest fail", level_words(q, p)),
        ),
        _ => (
            Verdict::AtRisk,
            format!("the search did not confirm a level at or above the target of {tw} ({})", c.outcome.words()),
        ),
    }
}

/// Replace a capacity run's readiness with the search's: the verdict, capacity, knee and
/// headroom every report reads. Regions get the same verdict with their share of the levels;
/// the failing region's reason names its failed gate.
pub fn apply(rd: &mut Readiness, c: &CapacitySearch, shares: &[(String, f64)]) {
    let (v, why) = verdict(c);
    let failing = failing_step(c);
    // The knee names a metric gate; "every viewer still watching" is not a metric, so the first
    // failed metric gate of the failing step stands for it (the reasons carry the words).
    let knee_break = failing.and_then(|s| {
        s.gates.iter().filter(|g| !g.passed).find_map(|g| {
            Some(GateBreak {
                metric: crate::metrics::Metric::from_name(&g.metric)?,
                stat: crate::metrics::Stat::from_name(&g.stat)?,
                threshold: g.threshold,
                measured: g.measured?,
            })
        })
    });
    let viewers = c.quantity == SearchQuantity::ConcurrentViewers;
    let scope = |s: &mut ScopeReadiness, share: f64, own_failure: Option<String>| {
        s.verdict = v;
        s.reasons = vec![c.sentence.clone(), why.clone()];
        if let Some(f) = own_failure {
            s.reasons.push(f);
        }
        let (p, f) = (
            c.highest_pass.map(|p| p * share),
            c.lowest_fail.map(|f| f * share),
        );
        if viewers {
            s.target_viewers = c.target * share;
            s.held_viewers = p.map(|p| p.round() as u64);
            s.headroom = p.filter(|_| c.target > 0.0).map(|p| p / (c.target * share));
        } else {
            s.target_joins_per_sec = c.target * share;
            s.held_joins_per_sec = p;
            s.headroom = None;
        }
        s.knee = match (f, &knee_break) {
            (Some(f), Some(b)) => Some(Knee {
                second: failing.map_or(0, |s| s.window_from_s as u64),
                active_viewers: if viewers {
                    f.round() as u64
                } else {
                    failing.map_or(0, |s| s.min_viewers_in_window)
                },
                offered_joins_per_sec: if viewers { 0.0 } else { f },
                broken: vec![b.clone()],
            }),
            _ => None,
        };
    };
    scope(&mut rd.overall, 1.0, None);
    for r in rd.regions.iter_mut() {
        let share = shares
            .iter()
            .find(|(n, _)| *n == r.scope)
            .map_or(1.0, |x| x.1);
        let own = failing
            .and_then(|s| s.gates.iter().find(|g| g.scope == r.scope && !g.passed))
            .map(|g| format!("failed first here: {}", super::step::gate_failure_words(g)));
        scope(r, share, own);
    }
    rd.target_basis = c.target_basis.clone();
    rd.headroom_words = format!(
        "Capacity search: {}. Verdict against the target ({}): {}.",
        c.sentence,
        if c.target_basis == "event" {
            "event forecast × scale × headroom"
        } else {
            "the scenario's planned peak, no event forecast"
        },
        why
    );
}
