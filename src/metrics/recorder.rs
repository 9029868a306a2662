//! The recorder: the single owner of every histogram and counter of a run.
//!
//! Viewer tasks never touch shared state: they send small [`Event`]s over an unbounded,
//! lock-free channel ([`RecorderHandle`]). One task ([`Recorder::run`]) folds them into
//! HdrHistograms per (region, phase, metric) and, once a second, closes an interval: a
//! `timeseries.csv` row per region, the interval histograms appended to `histograms.hlog`, and
//! a [`LiveStats`] snapshot for the progress display and abort checks. Interval histograms are
//! reset and reused, so memory does not grow with run length beyond the per-second rows.
//! Both files are flushed every second, so a crash loses at most the current second.
//!
//! Every event is stamped when it is sent, and a second's row is closed when the first event
//! stamped in a later second arrives (or the second has passed with nothing queued). A busy
//! recorder therefore still files each event under the second it happened in, instead of the
//! second it got round to it.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use std::sync::mpsc;

use tokio::sync::{oneshot, watch};

use super::cell::{Cell, Counters};
use super::names::{ErrorKind, Metric};
use super::outcome::ViewerOutcome;
use super::result::record_value;
use super::series::SeriesWriter;

/// What a viewer task reports.
pub enum Event {
    /// A metric sample in the metric's recorded unit (µs for `*_ms`).
    Sample {
        region: u16,
        phase: u16,
        metric: Metric,
        value: u64,
    },
    /// A request attempt finished (successfully or not): the error-rate denominator.
    Request {
        region: u16,
        phase: u16,
        error: Option<ErrorKind>,
    },
    /// A viewer's journey started.
    Arrival { region: u16, phase: u16 },
    /// A planned arrival was skipped because `max_viewers` were in flight.
    Capped { region: u16, phase: u16 },
    /// A viewer finished its join steps (ok) or gave up (not ok).
    Joined { region: u16, phase: u16, ok: bool },
    /// A viewer's journey ended.
    Left { region: u16 },
    /// How a viewer's visit ended: sent exactly once per started viewer, just before `Left`.
    Outcome {
        region: u16,
        phase: u16,
        outcome: ViewerOutcome,
    },
    /// A long-lived worker's locally aggregated samples and counters (see `engine::quick`):
    /// one send per second instead of one per request.
    Batch {
        region: u16,
        phase: u16,
        cell: Box<Cell>,
    },
    /// Stop and hand back the state.
    Finish {
        respond: oneshot::Sender<RecorderState>,
    },
}

/// Cheap to clone; one per viewer task.
#[derive(Clone)]
pub struct RecorderHandle {
    /// std's channel, not tokio's: the recorder polls it every [`DRAIN_EVERY`] and is never
    /// woken by a send, so tokio's per-send semaphore and waker (two more contended atomics on
    /// each of the ~9 events of a join) bought nothing (docs/performance.md).
    tx: mpsc::Sender<(Instant, Event)>,
}

impl RecorderHandle {
    pub fn send(&self, event: Event) {
        // The recorder only goes away after `finish`; a send after that is a late event from a
        // viewer being torn down, and dropping it is correct.
        let _ = self.tx.send((Instant::now(), event));
    }

    pub fn sample(&self, region: u16, phase: u16, metric: Metric, value: u64) {
        self.send(Event::Sample {
            region,
            phase,
            metric,
            value,
        });
    }

    pub fn duration(&self, region: u16, phase: u16, metric: Metric, d: Duration) {
        self.sample(
            region,
            phase,
            metric,
            d.as_micros().min(u64::MAX as u128) as u64,
        );
    }

    pub fn request(&self, region: u16, phase: u16, error: Option<ErrorKind>) {
        self.send(Event::Request {
            region,
            phase,
            error,
        });
    }

    /// Ask the recorder to stop and return everything it holds.
    pub async fn finish(&self) -> Option<RecorderState> {
        let (respond, rx) = oneshot::channel();
        self.tx
            .send((Instant::now(), Event::Finish { respond }))
            .ok()?;
        rx.await.ok()
    }
}

/// How often the recorder drains its channel (see [`Recorder::run`]): the delay before an event
/// is counted, never a change to the second it is filed under.
const DRAIN_EVERY: Duration = Duration::from_millis(10);
/// Events applied between yields while draining a backlog.
const YIELD_EVERY: u32 = 4096;

/// A snapshot for the progress display and abort checks, published once a second.
#[derive(Debug, Clone, Default)]
pub struct LiveStats {
    pub elapsed: Duration,
    /// The second the per-second figures (`joins_last_second`, `active_viewers`) describe:
    /// `[second, second + 1)` of the run, closed at `elapsed`.
    pub second: u64,
    pub active_viewers: u64,
    pub joins_last_second: u64,
    pub joins_total: u64,
    pub errors_total: u64,
    pub requests_total: u64,
    /// Viewers whose visit ended, and the failed ones among them.
    pub viewers_ended: u64,
    pub viewers_failed: u64,
    /// Error rate over the last few seconds (for `abort_when`).
    pub recent_error_rate: f64,
    pub join_p99_ms: Option<f64>,
    pub lag_p99_ms: Option<f64>,
    /// The collector's SLO gates on the merged seconds, in words (`run` leaves it empty).
    pub slo_words: Option<String>,
}

/// Everything the recorder accumulated, handed back by `finish`.
pub struct RecorderState {
    /// `[region][phase]`
    pub cells: Vec<Vec<Cell>>,
    pub peak_active: Vec<u64>,
    pub peak_active_overall: u64,
    pub peak_open_files: u64,
    /// Per region: viewers whose journey ended.
    pub departures: Vec<u64>,
    /// The first failed write of the per-second files (which file, from which second, why):
    /// the run went on measuring in memory, but its per-second data is incomplete.
    pub write_failure: Option<String>,
}

pub struct Recorder {
    departures: Vec<u64>,
    rx: mpsc::Receiver<(Instant, Event)>,
    cells: Vec<Vec<Cell>>,
    interval: Vec<Cell>,
    active: Vec<u64>,
    peak_active: Vec<u64>,
    peak_active_overall: u64,
    peak_open_files: u64,
    series: Option<SeriesWriter>,
    /// `--metrics-listen` / `--json-lines`: fed each closed second.
    export: Option<std::sync::Arc<super::live::LiveExport>>,
    live: watch::Sender<LiveStats>,
    totals: LiveStats,
    recent: std::collections::VecDeque<(u64, u64)>,
    all_join: Option<Histogram<u64>>,
    all_lag: Option<Histogram<u64>>,
}

impl Recorder {
    pub fn new(
        regions: usize,
        phases: usize,
        series: Option<SeriesWriter>,
    ) -> (Recorder, RecorderHandle, watch::Receiver<LiveStats>) {
        let (tx, rx) = mpsc::channel();
        let (live, live_rx) = watch::channel(LiveStats::default());
        let recorder = Recorder {
            rx,
            cells: (0..regions)
                .map(|_| (0..phases.max(1)).map(|_| Cell::new()).collect())
                .collect(),
            interval: (0..regions).map(|_| Cell::new()).collect(),
            active: vec![0; regions],
            departures: vec![0; regions],
            peak_active: vec![0; regions],
            peak_active_overall: 0,
            peak_open_files: 0,
            series,
            export: None,
            live,
            totals: LiveStats::default(),
            recent: Default::default(),
            all_join: super::result::new_histogram().ok(),
            all_lag: super::result::new_histogram().ok(),
        };
        (recorder, RecorderHandle { tx }, live_rx)
    }

    /// Also feed each closed second to a live export.
    pub fn with_export(mut self, export: std::sync::Arc<super::live::LiveExport>) -> Recorder {
        self.export = Some(export);
        self
    }

    /// Runs until a `Finish` event arrives. `start` is the run's time zero.
    ///
    /// The channel is drained every [`DRAIN_EVERY`] rather than awaited: a receiver waiting on
    /// the channel is woken by the next send, and at thousands of joins a second (each sending
    /// several events) those wake-ups, each a task schedule and often a thread unpark, cost the
    /// generator more than the events themselves. Events carry their send instant, so filing
    /// them under their second does not depend on when they are drained.
    pub async fn run(mut self, start: Instant) {
        let mut second = 0u64;
        let end_of = |second: u64| start + Duration::from_secs(second + 1);
        // An event from a later second, held back until the current second is closed.
        let mut held: Option<(Instant, Event)> = None;
        let mut since_yield = 0u32;
        loop {
            let boundary = end_of(second);
            let next = match held.take() {
                Some(event) => Some(event),
                None => match self.rx.try_recv() {
                    Ok(event) => Some(event),
                    Err(mpsc::TryRecvError::Disconnected) => return,
                    // Nothing queued and the second is over: close it.
                    Err(mpsc::TryRecvError::Empty) if Instant::now() >= boundary => None,
                    Err(mpsc::TryRecvError::Empty) => {
                        let wake = (Instant::now() + DRAIN_EVERY).min(boundary);
                        tokio::time::sleep_until(wake.into()).await;
                        since_yield = 0;
                        continue;
                    }
                },
            };
            match next {
                Some((at, event)) if at < boundary => {
                    if let Event::Finish { respond } = event {
                        self.finish(second, start, respond);
                        return;
                    }
                    self.apply(event);
                    // A long backlog must not hold the worker thread from the viewer tasks
                    // sharing it.
                    since_yield += 1;
                    if since_yield == YIELD_EVERY {
                        since_yield = 0;
                        tokio::task::yield_now().await;
                    }
                }
                later => {
                    held = later;
                    // While catching up a backlog, the second being closed is in the past:
                    // live stats (and abort checks) must say when it was, not now.
                    let closed_at = start.elapsed().min(Duration::from_secs(second + 1));
                    self.close_interval(second, closed_at);
                    second += 1;
                }
            }
        }
    }

    fn finish(mut self, second: u64, start: Instant, respond: oneshot::Sender<RecorderState>) {
        self.close_interval(second, start.elapsed());
        if let Some(series) = self.series.as_mut() {
            series.flush();
        }
        let _ = respond.send(RecorderState {
            cells: self.cells,
            peak_active: self.peak_active,
            peak_active_overall: self.peak_active_overall,
            peak_open_files: self.peak_open_files,
            departures: self.departures,
            write_failure: self.series.as_ref().and_then(|s| s.failure.clone()),
        });
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Sample {
                region,
                phase,
                metric,
                value,
            } => {
                let (r, p) = (region as usize, phase as usize);
                if let Some(cell) = self.cells.get_mut(r).and_then(|c| c.get_mut(p)) {
                    cell.record(metric, value);
                }
                if let Some(cell) = self.interval.get_mut(r) {
                    cell.record(metric, value);
                }
                let all = match metric {
                    Metric::JoinMs => self.all_join.as_mut(),
                    Metric::GeneratorLagMs => self.all_lag.as_mut(),
                    _ => None,
                };
                if let Some(h) = all {
                    record_value(h, value);
                }
            }
            Event::Request {
                region,
                phase,
                error,
            } => {
                self.count(region, phase, |c| c.add_request(error));
                match error {
                    Some(kind) if kind.is_outcome() => {}
                    Some(_) => {
                        self.totals.requests_total += 1;
                        self.totals.errors_total += 1;
                    }
                    None => self.totals.requests_total += 1,
                }
            }
            Event::Arrival { region, phase } => {
                self.count(region, phase, |c| c.arrivals += 1);
                if let Some(a) = self.active.get_mut(region as usize) {
                    *a += 1;
                }
                self.note_peak();
            }
            Event::Capped { region, phase } => self.count(region, phase, |c| c.capped += 1),
            Event::Outcome {
                region,
                phase,
                outcome,
            } => {
                self.count(region, phase, |c| c.outcomes[outcome.index()] += 1);
                if outcome.is_failure() {
                    self.totals.viewers_failed += 1;
                }
                self.totals.viewers_ended += 1;
            }
            Event::Joined { region, phase, ok } => {
                self.count(region, phase, |c| {
                    if ok {
                        c.joins_ok += 1
                    } else {
                        c.joins_failed += 1
                    }
                });
                if ok {
                    self.totals.joins_total += 1;
                }
            }
            Event::Left { region } => {
                if let Some(a) = self.active.get_mut(region as usize) {
                    *a = a.saturating_sub(1);
                }
                if let Some(cell) = self.interval.get_mut(region as usize) {
                    cell.counters.departures += 1;
                }
                if let Some(d) = self.departures.get_mut(region as usize) {
                    *d += 1;
                }
            }
            Event::Batch {
                region,
                phase,
                cell,
            } => {
                let (r, p) = (region as usize, phase as usize);
                if let Some(target) = self.cells.get_mut(r).and_then(|c| c.get_mut(p)) {
                    target.merge(&cell);
                }
                if let Some(target) = self.interval.get_mut(r) {
                    target.merge(&cell);
                }
                self.totals.requests_total += cell.counters.requests;
                self.totals.errors_total += cell.counters.request_errors();
            }
            Event::Finish { .. } => {}
        }
    }

    fn count(&mut self, region: u16, phase: u16, f: impl Fn(&mut Counters)) {
        if let Some(cell) = self
            .cells
            .get_mut(region as usize)
            .and_then(|c| c.get_mut(phase as usize))
        {
            f(&mut cell.counters);
        }
        if let Some(cell) = self.interval.get_mut(region as usize) {
            f(&mut cell.counters);
        }
    }

    fn note_peak(&mut self) {
        for (peak, active) in self.peak_active.iter_mut().zip(&self.active) {
            *peak = (*peak).max(*active);
        }
        let total: u64 = self.active.iter().sum();
        self.peak_active_overall = self.peak_active_overall.max(total);
    }

    fn close_interval(&mut self, second: u64, elapsed: Duration) {
        let open_files = crate::sysinfo::open_files().unwrap_or(0);
        self.peak_open_files = self.peak_open_files.max(open_files);
        if let Some(series) = self.series.as_mut() {
            series.write_second(second, &self.interval, &self.active);
        }
        if let Some(export) = &self.export {
            export.second_closed(second, &self.interval, &self.active);
        }
        let joins: u64 = self.interval.iter().map(|c| c.counters.joins_ok).sum();
        let requests: u64 = self.interval.iter().map(|c| c.counters.requests).sum();
        let errors: u64 = self
            .interval
            .iter()
            .map(|c| c.counters.request_errors())
            .sum();
        self.recent.push_back((requests, errors));
        if self.recent.len() > 5 {
            self.recent.pop_front();
        }
        let (req, err) = self
            .recent
            .iter()
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        for cell in &mut self.interval {
            cell.reset();
        }
        let q99 = |h: &Option<Histogram<u64>>| {
            h.as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(0.99) as f64 / 1000.0)
        };
        self.totals.elapsed = elapsed;
        self.totals.second = second;
        self.totals.active_viewers = self.active.iter().sum();
        self.totals.joins_last_second = joins;
        self.totals.recent_error_rate = if req == 0 {
            0.0
        } else {
            err as f64 / req as f64
        };
        self.totals.join_p99_ms = q99(&self.all_join);
        self.totals.lag_p99_ms = q99(&self.all_lag);
        self.live.send_replace(self.totals.clone());
    }
}
