//! Viewer lanes: each runtime thread of the generator runs its own share of the plan's arrivals
//! on a single-threaded runtime, as wrk runs each thread's connections on one event loop.
//!
//! Why: with one spawner handing every arrival to a work-stealing pool, each join crossed
//! threads (spawn into the injection queue, unpark a parked worker through a futex; its socket
//! readiness then woken wherever the driver ran), and an open-model generator below saturation
//! parks between arrivals, so those hand-offs were paid per join. A lane sleeps until its own
//! next arrival, starts the viewer on its own thread, and that viewer's timers, socket
//! readiness and requests never leave the lane. Measured: 11–15 % less CPU per join
//! (docs/performance.md, "New connections").
//!
//! Lane `k` of `n` takes arrivals `k, k + n, k + 2n, …` of the plan, so the lanes together
//! start exactly the plan's arrivals at their intended instants; `max_viewers` is one count
//! shared by all lanes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use super::spec::ViewerSpec;
use super::viewer::run_viewer;
use crate::metrics::{Event, RecorderHandle};
use crate::plan::Plan;

/// Viewers in flight across every lane, with a wake-up for whoever waits for them to leave.
pub struct InFlight {
    count: AtomicU64,
    left: tokio::sync::Notify,
}

impl InFlight {
    pub fn new() -> Arc<InFlight> {
        Arc::new(InFlight {
            count: AtomicU64::new(0),
            left: tokio::sync::Notify::new(),
        })
    }

    pub fn get(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// Takes a place under `max`, or says there is none. Taking before checking keeps the cap
    /// exact when two lanes start viewers at the same instant.
    fn admit(self: &Arc<InFlight>, max: u64) -> Option<InFlightGuard> {
        if self.count.fetch_add(1, Ordering::AcqRel) >= max {
            self.release();
            return None;
        }
        Some(InFlightGuard(self.clone()))
    }

    fn release(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.left.notify_waiters();
        }
    }

    /// Returns when no viewer is in flight.
    pub async fn drained(&self) {
        loop {
            let notified = self.left.notified();
            if self.get() == 0 {
                return;
            }
            notified.await;
        }
    }
}

struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Lanes still starting viewers, with a wake-up for when none is.
#[derive(Default)]
pub struct Starting {
    lanes: AtomicUsize,
    done: tokio::sync::Notify,
}

impl Starting {
    pub fn any(&self) -> bool {
        self.lanes.load(Ordering::Acquire) > 0
    }

    fn finished_one(&self) {
        if self.lanes.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_waiters();
        }
    }

    /// Returns once every lane has started (or given up) every arrival of its share: a lane
    /// behind schedule still starts its late arrivals after the plan's end, late and recorded
    /// as late, so no planned join disappears unrecorded.
    pub async fn all_done(&self) {
        loop {
            let notified = self.done.notified();
            if !self.any() {
                return;
            }
            notified.await;
        }
    }
}

/// Counts a lane out of [`Starting`] when it is done starting viewers, however it ends (a
/// panic included): the engine waits for every lane, and must not wait for one that is gone.
struct StartingGuard(Arc<LaneShared>);

impl Drop for StartingGuard {
    fn drop(&mut self) {
        self.0.starting.finished_one();
    }
}

/// What every lane shares.
pub struct LaneShared {
    pub plan: Arc<Plan>,
    pub spec: Arc<ViewerSpec>,
    pub rec: RecorderHandle,
    pub start: Instant,
    pub in_flight: Arc<InFlight>,
    /// Set when viewers must stop watching (the run is ending).
    pub ending: watch::Receiver<bool>,
    /// Set when lanes must stop starting viewers (Ctrl-C, an abort).
    pub stop_starting: watch::Receiver<bool>,
    /// Set when every viewer still running is to be cancelled (after the drain).
    pub cancel: watch::Receiver<bool>,
    /// Lanes still starting viewers: none once every arrival of the plan has had its turn.
    pub starting: Arc<Starting>,
}

/// The running lanes; [`Lanes::finish`] waits for every lane to end.
pub struct Lanes {
    done: Vec<oneshot::Receiver<()>>,
}

impl Lanes {
    /// Starts `n` lanes, each on a thread with its own runtime; each lane's runtime handle is
    /// given to `on_start` (the runtime probe reads the lanes' health).
    pub fn start(
        n: usize,
        shared: Arc<LaneShared>,
        on_start: &dyn Fn(tokio::runtime::Handle),
    ) -> anyhow::Result<Lanes> {
        let n = n.max(1);
        shared.starting.lanes.store(n, Ordering::Release);
        let mut done = Vec::with_capacity(n);
        for lane in 0..n {
            let (done_tx, done_rx) = oneshot::channel();
            let (handle_tx, handle_rx) = std::sync::mpsc::channel();
            let shared = shared.clone();
            // The runtime is built on its own thread: a runtime must not be dropped inside
            // another one, which is where it would land if the thread failed to start.
            std::thread::Builder::new()
                .name(format!("viewer-lane-{lane}"))
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(e) => {
                            shared.starting.finished_one();
                            let _ = handle_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = handle_tx.send(Ok(runtime.handle().clone()));
                    runtime.block_on(run_lane(lane, n, shared));
                    // Dropping the runtime drops the viewers still on it (cancelled: each
                    // sends its outcome as it goes) before the engine hears the lane ended.
                    drop(runtime);
                    let _ = done_tx.send(());
                })
                .map_err(|e| anyhow::anyhow!("starting viewer lane {lane}: {e}"))?;
            match handle_rx.recv() {
                Ok(Ok(handle)) => on_start(handle),
                Ok(Err(e)) => anyhow::bail!("starting the runtime of viewer lane {lane}: {e}"),
                Err(_) => anyhow::bail!("viewer lane {lane} ended before its runtime started"),
            }
            done.push(done_rx);
        }
        Ok(Lanes { done })
    }

    /// Waits until every lane has ended (after `cancel`, or once all its viewers left).
    pub async fn finish(self) {
        for lane in self.done {
            let _ = lane.await;
        }
    }
}

async fn run_lane(lane: usize, lanes: usize, shared: Arc<LaneShared>) {
    let starting = StartingGuard(shared.clone());
    let mut stop = shared.stop_starting.clone();
    let mut cancel = shared.cancel.clone();
    let max_viewers = shared.plan.max_viewers;
    for arrival in shared.plan.arrivals().skip(lane).step_by(lanes) {
        let intended = shared.start + arrival.at;
        if Instant::now() < intended {
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep_until(intended) => {}
            }
        } else {
            // Due already (arrivals come several to a timer tick at high rates): no timer to
            // arm, but a lane behind schedule still lets its viewers' I/O run between starts.
            if *stop.borrow() {
                break;
            }
            tokio::task::consume_budget().await;
        }
        let (region, phase) = (arrival.region, arrival.phase);
        let Some(guard) = shared.in_flight.admit(max_viewers) else {
            shared.rec.send(Event::Capped { region, phase });
            continue;
        };
        let (spec, rec, ending) = (
            shared.spec.clone(),
            shared.rec.clone(),
            shared.ending.clone(),
        );
        // Detached, not in a JoinSet (whose bookkeeping cost ~15 % of a join's instructions,
        // docs/performance.md): the in-flight guard is what counts the viewer, and a viewer
        // still running when the lane ends is dropped with the lane's runtime.
        // Boxed once here: spawning moves a future several times, and a viewer's is kilobytes
        // (its HLS state inline, which keeps its memory in one allocation).
        tokio::spawn(Box::pin(async move {
            let _guard = guard;
            run_viewer(spec, arrival, intended, rec, ending).await;
        }));
    }
    drop(starting);
    // Viewers keep running here until every viewer (of every lane: this lane's are among
    // them) has left, or the engine cancels what is left.
    tokio::select! {
        _ = shared.in_flight.drained() => {}
        _ = cancel.wait_for(|c| *c) => {}
    }
}
