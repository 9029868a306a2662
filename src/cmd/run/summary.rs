//! What a finished run (or a capacity search's hold) tells the terminal: the summary, the
//! report's path when it was written, what could not be recorded; and the exit it earned.

use super::{Finished, Outcome};
use crate::cmd::Exit;

pub fn print(finished: &Finished) -> Exit {
    let r = &finished.result;
    println!("\n{}", crate::report::summary::render(r));
    if let Some(reason) = &r.status_reason {
        println!("  {reason}");
    }
    // Only files that exist are announced.
    let missing = |file: &str| finished.not_written.iter().any(|(f, _)| f == file);
    let hurried = crate::engine::HURRY.load(std::sync::atomic::Ordering::Relaxed);
    if !missing("report.md") && !missing("results.json") && !hurried {
        println!("  Report: {}", finished.dir.join("report.md").display());
    }
    if let Some(why) = &r.incomplete {
        eprintln!(
            "peakready: the per-second data is incomplete ({why}): verdict INCOMPLETE, exit 3"
        );
    }
    if !finished.not_written.is_empty() {
        let files: Vec<&str> = finished
            .not_written
            .iter()
            .map(|(f, _)| f.as_str())
            .collect();
        eprintln!(
            "peakready: not written in {}: {} (exit 3)",
            finished.dir.display(),
            files.join(", ")
        );
    }
    match finished.outcome {
        Outcome::Passed => Exit::Success,
        Outcome::SloFailed | Outcome::Aborted => Exit::Failed,
        Outcome::Unrecorded => Exit::Unrecorded,
    }
}
