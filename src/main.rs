//! Exit-code policy only: 0 success, 1 an SLO failed or the run aborted, 2 bad input or an
//! error before/while measuring, 3 the run measured but its results could not all be written
//! (a full disk: per-second data or a results file missing; the verdict is then INCOMPLETE).
//! Errors print with their whole context chain.

use std::process::ExitCode;

use clap::Parser;
use peakready::cli::{dispatch, Cli, Exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The third Ctrl-C: results.json is being written (milliseconds); whatever is stuck (a
    // publisher, a server shutdown) gets 3 s, then the process ends.
    std::thread::spawn(|| {
        peakready::cli::wait_for_third_interrupt();
        std::thread::sleep(std::time::Duration::from_secs(3));
        eprintln!("peakready: still not stopped after 3 s: exiting");
        std::process::exit(130);
    });
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        builder.worker_threads(threads.into());
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("peakready: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Failed) => ExitCode::from(1),
        Ok(Exit::Unrecorded) => ExitCode::from(3),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("peakready: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
