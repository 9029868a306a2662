//! How a viewer's visit ended: every started viewer is counted in exactly one [`ViewerOutcome`].
//!
//! Requests and viewers are two different accountings. `error_rate` is failed requests ÷
//! attempted requests; `viewer_failure_rate` is failed viewers ÷ viewers started. A viewer that
//! could not watch is one failure however many requests it made on the way, so the two rates
//! never mix and no viewer is counted twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The one way a started viewer's visit ended (see `docs/architecture.md`, "Viewer outcomes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ViewerOutcome {
    /// Got its first frame and watched without a playback failure until it left.
    Played,
    /// Joined and stayed with no video asked for (`watch.protocol: none`).
    Joined,
    /// A join step failed (status, body, connection or timeout).
    JoinFailed,
    /// Its deciding request was refused before any packet was sent: a host outside
    /// `target.allow_hosts`, or a URL that cannot be used.
    RefusedBeforeSending,
    /// Gave up before its first frame after repeated or fatal playlist/media failures.
    VideoStartFailed,
    /// Its own watch time ended before its first frame (the viewer left waiting).
    ExitBeforeStart,
    /// Started playing, then could not go on: the stream froze (stale playlist), ended before
    /// the viewer's watch time, media failed repeatedly, or it stalled more than
    /// [`FAILED_STALL_RATIO`] of the time it watched.
    PlaybackFailed,
    /// The end of the run (not the viewer) stopped it before its first frame; not judged.
    CutBeforeStart,
    /// The generator started it after its whole visit should have ended; not judged (this is
    /// generator lag, shown in generator health).
    StartedLate,
}

/// A viewer stalled for more than this share of the time it watched counts as
/// `playback_failed`: a player showing a spinner half the time has lost its viewer.
pub const FAILED_STALL_RATIO: f64 = 0.5;

impl ViewerOutcome {
    pub const ALL: [ViewerOutcome; 9] = [
        ViewerOutcome::Played,
        ViewerOutcome::Joined,
        ViewerOutcome::JoinFailed,
        ViewerOutcome::RefusedBeforeSending,
        ViewerOutcome::VideoStartFailed,
        ViewerOutcome::ExitBeforeStart,
        ViewerOutcome::PlaybackFailed,
        ViewerOutcome::CutBeforeStart,
        ViewerOutcome::StartedLate,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn name(self) -> &'static str {
        match self {
            ViewerOutcome::Played => "played",
            ViewerOutcome::Joined => "joined",
            ViewerOutcome::JoinFailed => "join_failed",
            ViewerOutcome::RefusedBeforeSending => "refused_before_sending",
            ViewerOutcome::VideoStartFailed => "video_start_failed",
            ViewerOutcome::ExitBeforeStart => "exit_before_start",
            ViewerOutcome::PlaybackFailed => "playback_failed",
            ViewerOutcome::CutBeforeStart => "cut_before_start",
            ViewerOutcome::StartedLate => "started_late",
        }
    }

    /// The words a person reads in tables.
    pub fn words(self) -> &'static str {
        match self {
            ViewerOutcome::Played => "played",
            ViewerOutcome::Joined => "joined (no video)",
            ViewerOutcome::JoinFailed => "join failed",
            ViewerOutcome::RefusedBeforeSending => "refused before sending",
            ViewerOutcome::VideoStartFailed => "video start failed",
            ViewerOutcome::ExitBeforeStart => "left before video started",
            ViewerOutcome::PlaybackFailed => "playback failed",
            ViewerOutcome::CutBeforeStart => "cut by the run's end before video",
            ViewerOutcome::StartedLate => "started late by the generator",
        }
    }

    pub fn from_name(name: &str) -> Option<ViewerOutcome> {
        ViewerOutcome::ALL.into_iter().find(|o| o.name() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// A viewer who could not watch.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            ViewerOutcome::JoinFailed
                | ViewerOutcome::RefusedBeforeSending
                | ViewerOutcome::VideoStartFailed
                | ViewerOutcome::ExitBeforeStart
                | ViewerOutcome::PlaybackFailed
        )
    }

    /// Neither success nor failure: the run or the generator, not the target, decided it.
    pub fn is_unjudged(self) -> bool {
        matches!(
            self,
            ViewerOutcome::CutBeforeStart | ViewerOutcome::StartedLate
        )
    }
}

/// Viewers of one region (or all) by outcome, and the two viewer-level rates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ViewerCounts {
    /// Viewers whose visit was started (= the sum of `outcomes`).
    pub started: u64,
    /// `played` + `joined`: viewers who got what they came for.
    pub ok: u64,
    /// Viewers who could not watch (every failure outcome).
    pub failed: u64,
    /// `cut_before_start` + `started_late`: neither ok nor failed.
    pub not_judged: u64,
    /// Every outcome, zeros included, so the sum can be checked against `started`.
    pub outcomes: BTreeMap<ViewerOutcome, u64>,
    /// failed ÷ started (0 when none started).
    pub viewer_failure_rate: f64,
    /// `video_start_failed` ÷ started.
    pub video_start_failure_rate: f64,
}

impl ViewerCounts {
    /// From counts indexed like [`ViewerOutcome::ALL`].
    pub fn from_counts(counts: &[u64; ViewerOutcome::COUNT]) -> ViewerCounts {
        let sum = |f: fn(ViewerOutcome) -> bool| -> u64 {
            ViewerOutcome::ALL
                .iter()
                .filter(|o| f(**o))
                .map(|o| counts[o.index()])
                .sum()
        };
        let started: u64 = counts.iter().sum();
        let failed = sum(ViewerOutcome::is_failure);
        let rate = |n: u64| {
            if started == 0 {
                0.0
            } else {
                n as f64 / started as f64
            }
        };
        ViewerCounts {
            started,
            ok: counts[ViewerOutcome::Played.index()] + counts[ViewerOutcome::Joined.index()],
            failed,
            not_judged: sum(ViewerOutcome::is_unjudged),
            outcomes: ViewerOutcome::ALL
                .iter()
                .map(|o| (*o, counts[o.index()]))
                .collect(),
            viewer_failure_rate: rate(failed),
            video_start_failure_rate: rate(counts[ViewerOutcome::VideoStartFailed.index()]),
        }
    }

    /// The counts back as an array (merging shards adds these).
    pub fn counts(&self) -> [u64; ViewerOutcome::COUNT] {
        let mut out = [0; ViewerOutcome::COUNT];
        for (o, n) in &self.outcomes {
            out[o.index()] += n;
        }
        out
    }

    pub fn get(&self, outcome: ViewerOutcome) -> u64 {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_viewer_is_in_one_outcome_and_the_rates_follow() {
        let mut counts = [0; ViewerOutcome::COUNT];
        counts[ViewerOutcome::Played.index()] = 20;
        counts[ViewerOutcome::VideoStartFailed.index()] = 70;
        counts[ViewerOutcome::PlaybackFailed.index()] = 6;
        counts[ViewerOutcome::CutBeforeStart.index()] = 4;
        let v = ViewerCounts::from_counts(&counts);
        assert_eq!(v.started, 100);
        assert_eq!(v.ok + v.failed + v.not_judged, v.started);
        assert_eq!(v.failed, 76);
        assert!((v.viewer_failure_rate - 0.76).abs() < 1e-12);
        assert!((v.video_start_failure_rate - 0.70).abs() < 1e-12);
        assert_eq!(v.counts(), counts);
        for o in ViewerOutcome::ALL {
            assert_eq!(ViewerOutcome::from_name(o.name()), Some(o));
            assert!(!(o.is_failure() && o.is_unjudged()));
        }
    }
}
