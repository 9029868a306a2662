//! `quick`: one endpoint, N keep-alive connections, for a duration — the mode people reach for
//! first (like wrk, oha, hey). Same timed `Session`, same recorder, same results as `run`.
//!
//! Each connection is a long-lived worker, so it aggregates into its own [`Cell`] and hands it
//! to the recorder once a second (`Event::Batch`) instead of sending an event per request: at
//! tens of thousands of requests per second a per-request channel send would make the recorder
//! task the bottleneck.
//!
//! Closed model (no `--rate`): each connection sends its next request when the previous one
//! completes; latency then hides queueing (coordinated omission) and the results say so.
//! Open model (`--rate R`): request k is *intended* at `k / R` seconds; whichever connection is
//! free takes it, and `request_ms` runs from the intended instant (wrk2's correction).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use url::Url;

use crate::metrics::cell::Cell;
use crate::metrics::{ErrorKind, Event, Metric, RecorderHandle, RunStatus};
use crate::protocol::http::{ClientConfig, Origin, Session};

use super::EngineOutcome;

pub struct QuickConfig {
    pub url: Url,
    pub client: Arc<ClientConfig>,
    pub connections: usize,
    pub duration: Duration,
    /// Requests per second across all connections (open model); `None` = closed model.
    pub rate: Option<f64>,
}

const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// After Ctrl-C, requests in flight may finish for this long before they are cut (a second
/// Ctrl-C cuts them at once). At the deadline itself they are cut without a drain: `-z` is
/// the run's length, whatever the target does.
pub const INTERRUPT_DRAIN: Duration = Duration::from_secs(1);

pub async fn run(
    config: QuickConfig,
    start: Instant,
    rec: RecorderHandle,
    mut interrupts: watch::Receiver<u32>,
    runtimes: crate::metrics::runtime::Runtimes,
) -> anyhow::Result<EngineOutcome> {
    let origin = Origin::from_url(&config.url).map_err(anyhow::Error::msg)?;
    let path = match config.url.query() {
        Some(q) => format!("{}?{q}", config.url.path()),
        None => config.url.path().to_string(),
    };
    let deadline = start + config.duration;
    let (stop_tx, stop_rx) = watch::channel(false);
    // The instant in-flight requests are cancelled: the deadline, brought forward by Ctrl-C.
    let (cut_tx, cut_rx) = watch::channel(deadline);
    let next_slot = Arc::new(AtomicU64::new(0));
    let lanes = tokio::runtime::Handle::current()
        .metrics()
        .num_workers()
        .clamp(1, config.connections.max(1));
    let mut per_lane: Vec<Vec<Worker>> = (0..lanes).map(|_| Vec::new()).collect();
    for i in 0..config.connections.max(1) {
        per_lane[i % lanes].push(Worker {
            session: Session::new(origin.clone(), config.client.clone(), None),
            path: path.clone(),
            rec: rec.clone(),
            local: Cell::new(),
            rate: config.rate,
            next_slot: next_slot.clone(),
            start,
            deadline,
            stop: stop_rx.clone(),
            cut: cut_rx.clone(),
        });
    }
    let (abort_tx, abort_rx) = watch::channel(false);
    let lanes_done = per_lane
        .into_iter()
        .enumerate()
        .map(|(lane, workers)| start_lane(lane, workers, abort_rx.clone(), runtimes.clone()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut lanes_done = std::pin::pin!(futures_util::future::join_all(lanes_done));
    let mut status = RunStatus::Completed;
    let mut reason = None;
    let finished = tokio::select! {
        outcomes = &mut lanes_done => Some(outcomes),
        Ok(_) = interrupts.wait_for(|n| *n >= 1) => None,
    };
    let outcomes = match finished {
        Some(outcomes) => outcomes,
        None => {
            status = RunStatus::Interrupted;
            reason = Some(format!(
                "{}: requests in flight were given {} s, then cut",
                crate::engine::stop_reason(),
                INTERRUPT_DRAIN.as_secs()
            ));
            let _ = stop_tx.send(true);
            let drain_end = Instant::now() + INTERRUPT_DRAIN;
            cut_tx.send_modify(|at| *at = (*at).min(drain_end));
            let drained = tokio::select! {
                outcomes = &mut lanes_done => Some(outcomes),
                Ok(_) = interrupts.wait_for(|n| *n >= 2) => None,
            };
            match drained {
                Some(outcomes) => outcomes,
                None => {
                    cut_tx.send_modify(|at| *at = Instant::now());
                    let cut = lanes_done.as_mut();
                    match tokio::time::timeout(Duration::from_millis(200), cut).await {
                        Ok(outcomes) => outcomes,
                        Err(_) => {
                            let _ = abort_tx.send(true);
                            lanes_done.as_mut().await
                        }
                    }
                }
            }
        }
    };
    // A lane whose runtime could not start ran no connections: what the others measured is
    // kept, and the run says it covered fewer connections than asked for.
    if let Some(why) = outcomes.into_iter().find_map(|o| o.ok()?.err()) {
        status = RunStatus::Aborted;
        reason = Some(format!(
            "{why}; the results cover the other connections only"
        ));
    }
    Ok(EngineOutcome {
        status,
        reason,
        end_words: None,
        elapsed: start.elapsed(),
    })
}

/// Runs `workers` on a thread of their own with a single-threaded runtime, as wrk runs each of
/// its threads' connections on one event loop: a connection's wake-up, request and response
/// stay on one thread, with no work-stealing hand-offs between threads per request. The
/// returned receiver completes when every worker has finished (or `abort` was set).
fn start_lane(
    lane: usize,
    workers: Vec<Worker>,
    mut abort: watch::Receiver<bool>,
    runtimes: crate::metrics::runtime::Runtimes,
) -> anyhow::Result<oneshot::Receiver<Result<(), String>>> {
    let (done_tx, done_rx) = oneshot::channel();
    // The runtime is built on its own thread: a runtime must not be dropped inside another
    // one, which is where it would land if the thread failed to start.
    std::thread::Builder::new()
        .name(format!("quick-lane-{lane}"))
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = done_tx.send(Err(format!(
                        "starting the runtime of connection lane {lane}: {e}"
                    )));
                    return;
                }
            };
            runtimes.add(runtime.handle().clone());
            runtime.block_on(async move {
                let mut set = tokio::task::JoinSet::new();
                for worker in workers {
                    set.spawn(worker.run());
                }
                tokio::select! {
                    _ = async { while set.join_next().await.is_some() {} } => {}
                    _ = abort.wait_for(|a| *a) => set.shutdown().await,
                }
            });
            let _ = done_tx.send(Ok(()));
        })
        .map_err(|e| anyhow::anyhow!("starting connection lane {lane}: {e}"))?;
    Ok(done_rx)
}

struct Worker {
    session: Session,
    path: String,
    rec: RecorderHandle,
    local: Cell,
    rate: Option<f64>,
    next_slot: Arc<AtomicU64>,
    start: Instant,
    deadline: Instant,
    stop: watch::Receiver<bool>,
    cut: watch::Receiver<Instant>,
}

impl Worker {
    async fn run(mut self) {
        self.rec.send(Event::Arrival {
            region: 0,
            phase: 0,
        });
        let mut joined = false;
        let mut last_flush = Instant::now();
        // One cut future for the connection's whole life, not one per request: one per request
        // armed a timer and a watch registration each time (callgrind, keep-alive: 1,100 of a
        // request's 9,700 instructions).
        let cut = cut_reached(self.cut.clone());
        tokio::pin!(cut);
        while let Some(intended) = self.next_intended().await {
            let Some(ok) = self.one_request(intended, cut.as_mut()).await else {
                // Cut: the run is over for this connection.
                break;
            };
            if !joined && ok {
                joined = true;
                self.rec.send(Event::Joined {
                    region: 0,
                    phase: 0,
                    ok: true,
                });
            }
            if last_flush.elapsed() >= FLUSH_EVERY {
                last_flush = Instant::now();
                self.flush(false);
            }
        }
        self.flush(true);
        if !joined {
            self.rec.send(Event::Joined {
                region: 0,
                phase: 0,
                ok: false,
            });
        }
        self.rec.send(Event::Left { region: 0 });
    }

    /// The instant the next request is meant to go out, or `None` when the run is over.
    async fn next_intended(&mut self) -> Option<Instant> {
        if *self.stop.borrow() {
            return None;
        }
        let Some(rate) = self.rate else {
            let now = Instant::now();
            return (now < self.deadline).then_some(now);
        };
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let intended = self.start + Duration::from_secs_f64(slot as f64 / rate);
        if intended >= self.deadline {
            return None;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(intended) => Some(intended),
            _ = self.stop.wait_for(|s| *s) => None,
        }
    }

    /// Whether the request succeeded, or `None` when it was cut at the deadline.
    async fn one_request(
        &mut self,
        intended: Instant,
        cut: Pin<&mut impl Future<Output = ()>>,
    ) -> Option<bool> {
        let lag = Instant::now().saturating_duration_since(intended);
        self.record(Metric::GeneratorLagMs, lag);
        let outcome = {
            // Pinned where it is made: select! would otherwise move the whole request future.
            let request =
                std::pin::pin!(self
                    .session
                    .request(http::Method::GET, &self.path, None, false));
            tokio::select! {
                biased;
                outcome = request => Some(outcome),
                _ = cut => None,
            }
        };
        let Some(outcome) = outcome else {
            // Cut mid-request: the connection is left unusable, and this worker is done.
            self.local.counters.add_request(Some(ErrorKind::Cut));
            return None;
        };
        match outcome {
            Ok((timings, response)) => {
                if let Some(t) = timings {
                    if let Some(dns) = t.dns {
                        self.record(Metric::DnsMs, dns);
                    }
                    self.record(Metric::ConnectMs, t.connect);
                    if let Some(tls) = t.tls {
                        self.record(Metric::TlsMs, tls);
                    }
                }
                self.record(Metric::TtfbMs, response.ttfb);
                self.record(Metric::RequestMs, intended.elapsed());
                let ok = (200..400).contains(&response.status);
                let error = (!ok).then(|| ErrorKind::from_status(response.status));
                self.local.counters.add_request(error);
                Some(ok)
            }
            Err(e) => {
                crate::metrics::details::note(e.kind, &e.detail);
                self.local.counters.add_request(Some(e.kind));
                Some(false)
            }
        }
    }

    fn record(&mut self, metric: Metric, d: Duration) {
        self.local
            .record(metric, d.as_micros().min(u64::MAX as u128) as u64);
    }

    fn flush(&mut self, last: bool) {
        // The last flush also carries cut requests and lag samples of requests that never
        // completed.
        if self.local.counters.requests == 0 && !last {
            return;
        }
        let cell = std::mem::take(&mut self.local);
        self.rec.send(Event::Batch {
            region: 0,
            phase: 0,
            cell: Box::new(cell),
        });
    }
}

/// Completes when the cut instant in `cut` has passed, following it when it moves earlier.
async fn cut_reached(mut cut: watch::Receiver<Instant>) {
    loop {
        let at = *cut.borrow_and_update();
        tokio::select! {
            _ = tokio::time::sleep_until(at) => return,
            changed = cut.changed() => if changed.is_err() {
                // The sender is gone: the run is over, so is the request.
                return;
            },
        }
    }
}
