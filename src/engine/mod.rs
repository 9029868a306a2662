//! The engine: starts one task per viewer at its *intended* instant, on per-core lanes
//! ([`lanes`]), enforces `max_viewers`, watches for Ctrl-C and `abort_when`, and drains for a
//! bounded time at the end.
//!
//! It takes the plan and a recorder handle and knows nothing about files or reports.
//! Stopping has two levels: `ending` tells viewers to stop watching (in-flight join requests
//! may finish, so the slowest measurements are not dropped); after the drain deadline every
//! viewer task still running is cancelled.

pub mod chat;
pub mod connections;
pub mod data;
pub mod join;
pub mod lanes;
pub mod progress;
pub mod publisher;
pub mod quick;
pub mod spec;
pub mod steps;
pub mod viewer;
mod watch;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch as signal;
use tokio::time::Instant;

use crate::metrics::{LiveStats, RecorderHandle, RunStatus};
use crate::plan::Plan;
use crate::scenario::{AbortWhen, End};
use spec::ViewerSpec;

pub use crate::metrics::generator::LATE_START;

/// Set when the stop came from SIGTERM (a service manager, `kill PID`) rather than Ctrl-C, so
/// the results name what stopped the run.
pub static TERMINATED: AtomicBool = AtomicBool::new(false);

/// Set by a third Ctrl-C: write results.json and nothing else, then exit.
pub static HURRY: AtomicBool = AtomicBool::new(false);

/// "interrupted (Ctrl-C)" or "terminated (SIGTERM)": what stopped a run, for its status reason.
pub fn stop_reason() -> &'static str {
    if TERMINATED.load(Ordering::Relaxed) {
        "terminated (SIGTERM)"
    } else {
        "interrupted (Ctrl-C)"
    }
}

/// Is `host` one of the allowed hosts? Exact, case-insensitive; IPv6 brackets ignored.
pub fn host_allowed(host: &str, allow: &[String]) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    allow.iter().any(|a| {
        a.trim_start_matches('[')
            .trim_end_matches(']')
            .eq_ignore_ascii_case(host)
    })
}

pub struct EngineConfig {
    pub plan: Plan,
    pub spec: Arc<ViewerSpec>,
    /// How long in-flight viewers may finish after the plan ends or a stop.
    pub drain: Duration,
    pub abort_when: Option<AbortWhen>,
    /// What happens to viewers still watching when the last phase ends.
    pub end: End,
    /// Viewer lanes (threads with a runtime each): the runtime's worker count (`--threads`).
    pub lanes: usize,
    /// Where the lanes' runtimes are registered for the runtime probe.
    pub runtimes: crate::metrics::runtime::Runtimes,
}

pub struct EngineOutcome {
    pub status: RunStatus,
    pub reason: Option<String>,
    /// How the run ended for viewers still watching after the last phase, in words.
    pub end_words: Option<String>,
    /// Wall time from time zero to the end of the drain.
    pub elapsed: Duration,
}

/// Runs the plan. `start` is time zero; `interrupts` counts Ctrl-C presses (a test can send
/// them too): the first stops starting viewers and drains, the second skips the drain. Viewers
/// run on `config.lanes` threads of their own ([`lanes`]), each lane's runtime registered in
/// `config.runtimes` so that the runtime probe reads where the viewers run.
pub async fn run(
    config: EngineConfig,
    start: Instant,
    rec: RecorderHandle,
    mut live: signal::Receiver<LiveStats>,
    mut interrupts: signal::Receiver<u32>,
) -> anyhow::Result<EngineOutcome> {
    let (ending_tx, ending_rx) = signal::channel(false);
    let (stop_tx, stop_rx) = signal::channel(false);
    let (cancel_tx, cancel_rx) = signal::channel(false);
    let in_flight = lanes::InFlight::new();
    let starting = Arc::new(lanes::Starting::default());
    let shared = Arc::new(lanes::LaneShared {
        plan: Arc::new(config.plan.clone()),
        spec: config.spec.clone(),
        rec,
        start,
        in_flight: in_flight.clone(),
        ending: ending_rx,
        stop_starting: stop_rx,
        cancel: cancel_rx,
        starting: starting.clone(),
    });
    let running = lanes::Lanes::start(config.lanes, shared, &|lane| config.runtimes.add(lane))?;
    let mut status = RunStatus::Completed;
    let mut reason = None;

    // Run to the planned end even if the last arrival came early, and until every arrival has
    // been started, however late; Ctrl-C and `abort_when` end the starting of viewers sooner.
    let end = start + config.plan.total;
    let planned = async {
        tokio::time::sleep_until(end).await;
        starting.all_done().await;
    };
    let still_starting = || starting.any();
    let stop = stop_before(
        planned,
        &mut interrupts,
        &mut live,
        config.abort_when.as_ref(),
        || match still_starting() {
            true => ": stopped starting viewers and drained",
            false => " after the last arrival: drained",
        },
    );
    if let Some((why_status, why)) = stop.await {
        (status, reason) = (why_status, Some(why));
    }
    let _ = stop_tx.send(true);

    let mut end_words = None;
    if status == RunStatus::Completed {
        let watching = in_flight.get();
        end_words = Some(match config.end {
            End::Cut => format!(
                "load.end: cut — {watching} viewers still watching when the last phase ended were stopped then"
            ),
            End::FinishWatching { within } => {
                // Each viewer leaves at its own watch time; wait for them, bounded.
                tokio::select! {
                    _ = in_flight.drained() => {}
                    _ = tokio::time::sleep(within) => {}
                    Ok(_) = interrupts.wait_for(|n| *n >= 1) => {}
                }
                let left = in_flight.get();
                format!(
                    "load.end: finish-watching — {watching} viewers were still watching when the last phase ended; {} finished on their own within {}, {left} were stopped at that bound",
                    watching.saturating_sub(left),
                    crate::scenario::duration::format_duration(within)
                )
            }
        });
    }
    let _ = ending_tx.send(true);
    tokio::select! {
        _ = in_flight.drained() => {}
        _ = tokio::time::sleep(config.drain) => {}
        // A second Ctrl-C skips the drain.
        Ok(_) = interrupts.wait_for(|n| *n >= 2) => {}
    }
    let _ = cancel_tx.send(true);
    running.finish().await;
    Ok(EngineOutcome {
        status,
        reason,
        end_words,
        elapsed: start.elapsed(),
    })
}

/// Waits for `planned`, unless Ctrl-C (the status reason is [`stop_reason`] then what
/// `interrupted` says at that moment) or `abort_when` stops the run first: then how and why.
async fn stop_before(
    planned: impl std::future::Future<Output = ()>,
    interrupts: &mut signal::Receiver<u32>,
    live: &mut signal::Receiver<LiveStats>,
    abort_when: Option<&AbortWhen>,
    interrupted: impl Fn() -> &'static str,
) -> Option<(RunStatus, String)> {
    let mut planned = std::pin::pin!(planned);
    loop {
        tokio::select! {
            biased;
            Ok(_) = interrupts.wait_for(|n| *n >= 1) => {
                return Some((RunStatus::Interrupted, format!("{}{}", stop_reason(), interrupted())));
            }
            Ok(()) = live.changed() => {
                if let Some(why) = should_abort(&live.borrow(), abort_when) {
                    return Some((RunStatus::Aborted, why));
                }
            }
            () = &mut planned => return None,
        }
    }
}

pub fn should_abort(live: &LiveStats, abort: Option<&AbortWhen>) -> Option<String> {
    let abort = abort?;
    if live.elapsed < abort.after || live.requests_total == 0 {
        return None;
    }
    (live.recent_error_rate >= abort.error_rate).then(|| {
        format!(
            "aborted: error rate {:.1}% over the last 5 s reached abort_when.error_rate {:.1}% at {:.0} s",
            live.recent_error_rate * 100.0,
            abort.error_rate * 100.0,
            live.elapsed.as_secs_f64()
        )
    })
}
