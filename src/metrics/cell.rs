//! What is counted for one (region, phase) or one (region, second): [`Counters`], and a
//! [`Cell`] of them with one histogram per metric. The recorder fills cells, the per-second
//! writers and the live export read them; summing them is [`Cell::merge`] / [`Counters::add`].

use hdrhistogram::Histogram;

use super::names::{ErrorKind, Metric};
use super::outcome::ViewerOutcome;
use super::result::{new_histogram, record_value};

/// Counters for one (region, phase) or one (region, second).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub arrivals: u64,
    pub capped: u64,
    pub joins_ok: u64,
    pub joins_failed: u64,
    pub departures: u64,
    pub requests: u64,
    pub errors: [u64; ErrorKind::COUNT],
    /// Viewers whose visit ended, by outcome (indexed like `ViewerOutcome::ALL`).
    pub outcomes: [u64; ViewerOutcome::COUNT],
}

impl Counters {
    /// A finished request (an outcome kind counts by class only, see `ErrorKind::is_outcome`).
    pub fn add_request(&mut self, error: Option<ErrorKind>) {
        match error {
            Some(kind) if kind.is_outcome() => self.errors[kind.index()] += 1,
            Some(kind) => {
                self.requests += 1;
                self.errors[kind.index()] += 1;
            }
            None => self.requests += 1,
        }
    }

    /// Every failure counted, requests and viewer outcomes alike.
    pub fn errors_total(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Failed requests only: the numerator of `error_rate`.
    pub fn request_errors(&self) -> u64 {
        ErrorKind::ALL
            .iter()
            .filter(|k| !k.is_outcome())
            .map(|k| self.errors[k.index()])
            .sum()
    }

    pub fn add(&mut self, other: &Counters) {
        self.arrivals += other.arrivals;
        self.capped += other.capped;
        self.joins_ok += other.joins_ok;
        self.joins_failed += other.joins_failed;
        self.departures += other.departures;
        self.requests += other.requests;
        for (a, b) in self.errors.iter_mut().zip(other.errors.iter()) {
            *a += b;
        }
        for (a, b) in self.outcomes.iter_mut().zip(other.outcomes.iter()) {
            *a += b;
        }
    }

    /// Viewers whose visit ended in a failure (the `viewers_failed` column).
    pub fn viewers_failed(&self) -> u64 {
        ViewerOutcome::ALL
            .iter()
            .filter(|o| o.is_failure())
            .map(|o| self.outcomes[o.index()])
            .sum()
    }
}

/// Histograms and counters for one (region, phase).
pub struct Cell {
    pub hists: Vec<Option<Histogram<u64>>>,
    pub counters: Counters,
}

impl Cell {
    pub fn new() -> Cell {
        Cell {
            hists: (0..Metric::COUNT).map(|_| None).collect(),
            counters: Counters::default(),
        }
    }

    pub fn record(&mut self, metric: Metric, value: u64) {
        let slot = &mut self.hists[metric.index()];
        if slot.is_none() {
            *slot = new_histogram().ok();
        }
        if let Some(h) = slot {
            record_value(h, value);
        }
    }

    /// Add another cell's histograms and counters into this one.
    pub fn merge(&mut self, other: &Cell) {
        self.counters.add(&other.counters);
        for (mine, theirs) in self.hists.iter_mut().zip(&other.hists) {
            let Some(theirs) = theirs.as_ref().filter(|h| !h.is_empty()) else {
                continue;
            };
            if mine.is_none() {
                *mine = new_histogram().ok();
            }
            if let Some(mine) = mine {
                let _ = mine.add(theirs);
            }
        }
    }

    /// Empty it for reuse, keeping the allocated histograms.
    pub fn reset(&mut self) {
        self.counters = Counters::default();
        for h in self.hists.iter_mut().flatten() {
            h.reset();
        }
    }
}

impl Default for Cell {
    fn default() -> Self {
        Cell::new()
    }
}
