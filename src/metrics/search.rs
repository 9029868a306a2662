//! What `peakready capacity` found, as stored in results.json (`capacity`): every step with its
//! level, window, verdict, the gate that failed with its value and the generator check, then
//! the outcome and the bracket. Written by `cmd::capacity`, judged by `analysis::search`, read
//! by every report (report.md, the card, the checklist, compare), so they tell one story.

use serde::{Deserialize, Serialize};

use crate::scenario::{SearchQuantity, SloGate};

/// The search as configured and as it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct CapacitySearch {
    pub quantity: SearchQuantity,
    pub start: f64,
    pub max: f64,
    /// Stop when (lowest fail − highest pass) ≤ precision × highest pass.
    pub precision: f64,
    pub ramp_s: f64,
    pub settle_s: f64,
    pub step_s: f64,
    pub cooldown_s: f64,
    pub hold_s: f64,
    /// The gates that judged each step.
    pub gates: Vec<SloGate>,
    pub steps: Vec<SearchStep>,
    /// The final run at the highest passing level (`None`: no hold configured, or nothing passed).
    pub hold: Option<SearchStep>,
    pub outcome: SearchOutcome,
    /// Highest level that passed a step (and the hold, when the outcome is `bracket`).
    pub highest_pass: Option<f64>,
    /// Lowest level that failed a step (or the hold).
    pub lowest_fail: Option<f64>,
    /// The region named when the lowest failing level failed (several regions only).
    pub failing_region: Option<String>,
    /// The answer in one sentence ("capacity between 19 and 21 concurrent viewers, …").
    pub sentence: String,
    /// What to change when the search could not finish (generator-limited, step limit).
    pub advice: Option<String>,
    /// The level the event needs, in the searched quantity: the `event` forecast × scale ×
    /// headroom, or (no forecast) the planned peak of the scenario's `load.phases`.
    pub target: f64,
    /// `event` or `plan`.
    pub target_basis: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SearchOutcome {
    /// A pass and a fail within `precision`, and the hold passed at the pass.
    Bracket,
    /// The first step (`start`) already failed.
    Doom,
    /// Every step passed up to `max`.
    NoKneeUpToMax,
    /// A step the generator could not drive: the search stopped there.
    GeneratorLimited,
    /// The bracket was found but the hold at its pass failed: the capacity is below it.
    HoldFailed,
    /// `max_steps` ran out before the bracket reached `precision`.
    StepLimit,
    /// Ctrl-C (or an aborted step) stopped the search.
    Interrupted,
}

impl SearchOutcome {
    pub fn words(self) -> &'static str {
        match self {
            SearchOutcome::Bracket => "capacity found",
            SearchOutcome::Doom => "doom: the first step failed",
            SearchOutcome::NoKneeUpToMax => "no knee up to max",
            SearchOutcome::GeneratorLimited => "generator-limited: search stopped",
            SearchOutcome::HoldFailed => "hold failed",
            SearchOutcome::StepLimit => "step limit reached",
            SearchOutcome::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepVerdict {
    Pass,
    Fail,
    /// The generator, not the target, fell short: not judged.
    GeneratorLimited,
    /// Stopped before its window ended: not judged.
    Incomplete,
}

impl StepVerdict {
    pub fn words(self) -> &'static str {
        match self {
            StepVerdict::Pass => "pass",
            StepVerdict::Fail => "FAIL",
            StepVerdict::GeneratorLimited => "generator-limited",
            StepVerdict::Incomplete => "incomplete",
        }
    }
}

/// One step (or the hold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct SearchStep {
    /// 1-based; the hold is numbered after the last step.
    pub index: u32,
    /// `exponential`, `binary` or `hold`.
    pub stage: String,
    pub level: f64,
    /// The step's results directory, relative to the search's.
    pub dir: String,
    /// Seconds of the step run (ramp + settle + window).
    pub duration_s: f64,
    /// The judged window, in seconds from the step's start.
    pub window_from_s: f64,
    pub window_to_s: f64,
    pub verdict: StepVerdict,
    /// Every gate in every scope (regions and `overall`), judged on the window.
    pub gates: Vec<StepGate>,
    /// Fewest viewers watching in any second of the window (all regions).
    pub min_viewers_in_window: u64,
    /// Arrivals the plan intended before the window ended, and those the generator started.
    pub intended_arrivals: f64,
    pub achieved_arrivals: u64,
    pub lag_p99_ms: f64,
    /// Why, in words: the failed gate with its value, or the generator's shortfall.
    pub reason: String,
}

impl SearchStep {
    /// achieved ÷ intended arrivals (1 when nothing was intended).
    pub fn send_ratio(&self) -> f64 {
        if self.intended_arrivals > 0.0 {
            self.achieved_arrivals as f64 / self.intended_arrivals
        } else {
            1.0
        }
    }

    /// The first failed gate, regions in scenario order before `overall`.
    pub fn first_failure(&self) -> Option<&StepGate> {
        self.gates.iter().find(|g| !g.passed)
    }
}

/// One gate in one scope of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct StepGate {
    /// Region name or `overall`.
    pub scope: String,
    /// An SLO metric, or `viewers_held` (concurrent-viewer steps: fewest watching ≥ level).
    pub metric: String,
    pub stat: String,
    pub threshold: f64,
    pub measured: Option<f64>,
    pub passed: bool,
    /// `window`, or `step` when the metric is only measured as viewers join (concurrent-viewer
    /// steps: join_ms, first_frame_ms … are judged on the step's joins).
    pub over: String,
}
