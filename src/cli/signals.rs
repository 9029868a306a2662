//! Ctrl-C and SIGTERM, counted: each verb is handed the count as a `watch` receiver and decides
//! what a press means for it; the third press is handed to `main`, which ends the process.

use std::sync::{Condvar, Mutex};

use tokio::sync::watch;

/// Counts Ctrl-C (and SIGTERM) presses: the first stops new work, the second skips the drain,
/// the third writes results.json only and hands the exit to `main`.
pub(super) fn interrupts() -> watch::Receiver<u32> {
    let (tx, rx) = watch::channel(0u32);
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            let term_signal = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let term_signal = std::future::pending::<()>();
            let name = tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_err() { return } else { "Ctrl-C" },
                _ = term_signal => {
                    crate::engine::TERMINATED.store(true, std::sync::atomic::Ordering::Relaxed);
                    "SIGTERM"
                }
            };
            let presses = {
                tx.send_modify(|n| *n += 1);
                *tx.borrow()
            };
            match presses {
                1 => eprintln!("\npeakready: stopping ({name}): no new work starts; in-flight work drains (Ctrl-C again skips the drain, a third time writes results.json only and exits)"),
                2 => eprintln!("\npeakready: skipping the drain ({name}); a third Ctrl-C writes results.json only and exits"),
                _ => {
                    // The user asked three times: results.json is written (it takes
                    // milliseconds), the reports are left to `peakready report DIR`. Whatever
                    // is stuck (a publisher, a server shutdown) gets 3 s before the exit.
                    crate::engine::HURRY.store(true, std::sync::atomic::Ordering::Relaxed);
                    eprintln!("\npeakready: stopping now ({name}, third time): writing results.json only; `peakready report DIR` renders the reports");
                    give_up();
                }
            }
        }
    });
    rx
}

/// The third Ctrl-C, for the binary: `main` waits on it and, 3 s later, exits (130) whatever
/// is still stuck. The library itself never ends the process.
static GAVE_UP: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

fn give_up() {
    let (flag, signal) = &GAVE_UP;
    *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
    signal.notify_all();
}

/// Blocks until the user has pressed Ctrl-C a third time (see [`give_up`]).
pub fn wait_for_third_interrupt() {
    let (flag, signal) = &GAVE_UP;
    let mut given_up = flag.lock().unwrap_or_else(|e| e.into_inner());
    while !*given_up {
        given_up = signal.wait(given_up).unwrap_or_else(|e| e.into_inner());
    }
}

/// Completes at the first Ctrl-C or SIGTERM (a service manager, `kill PID`): `serve`'s graceful
/// shutdown.
pub(super) async fn first_interrupt() {
    let mut stop = interrupts();
    let _ = stop.wait_for(|n| *n >= 1).await;
}
