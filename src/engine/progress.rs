//! The live display: an indicatif bar on a terminal, plain periodic lines otherwise (CI logs),
//! nothing with `--quiet`. Always on stderr, so stdout stays for results.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;

use crate::metrics::LiveStats;
use crate::plan::PlannedPhase;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Bar,
    Lines,
    Quiet,
}

impl ProgressMode {
    /// A bar on an interactive stderr unless `CI` is set; plain lines otherwise.
    pub fn detect(quiet: bool) -> ProgressMode {
        if quiet {
            ProgressMode::Quiet
        } else if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
            ProgressMode::Bar
        } else {
            ProgressMode::Lines
        }
    }
}

fn phase_at(phases: &[PlannedPhase], t: f64) -> &str {
    phases
        .iter()
        .find(|p| t >= p.start_s && t < p.start_s + p.duration_s)
        .map(|p| p.name.as_str())
        .unwrap_or("drain")
}

pub fn status_line(s: &LiveStats, phases: &[PlannedPhase]) -> String {
    let p99 = s
        .join_p99_ms
        .map(|v| format!("{v:.0} ms"))
        .unwrap_or_else(|| "–".into());
    let mut line = format!(
        "{:<14} viewers {:>6}  joins/s {:>5}  errors {:>6}  join p99 {:>8}",
        phase_at(phases, s.elapsed.as_secs_f64()),
        s.active_viewers,
        s.joins_last_second,
        s.errors_total,
        p99
    );
    if let Some(words) = &s.slo_words {
        line.push_str("  ");
        line.push_str(words);
    }
    line
}

/// Spawns the display; abort the handle (or let the `live` sender drop) to stop it.
pub fn spawn(
    mode: ProgressMode,
    mut live: watch::Receiver<LiveStats>,
    phases: Vec<PlannedPhase>,
    total: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let bar = match mode {
            ProgressMode::Bar => {
                let bar = ProgressBar::with_draw_target(
                    Some(total.as_secs().max(1)),
                    ProgressDrawTarget::stderr(),
                );
                let style = ProgressStyle::with_template(
                    "{elapsed_precise}/{duration_precise} [{bar:30.cyan/blue}] {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style.progress_chars("=> "));
                Some(bar)
            }
            _ => None,
        };
        let mut last_line = Duration::ZERO;
        while live.changed().await.is_ok() {
            let s = live.borrow().clone();
            match (&bar, mode) {
                (Some(bar), _) => {
                    bar.set_position(s.elapsed.as_secs());
                    bar.set_message(status_line(&s, &phases));
                }
                (None, ProgressMode::Lines) if s.elapsed >= last_line + Duration::from_secs(5) => {
                    last_line = s.elapsed;
                    eprintln!(
                        "[{:>4.0} s / {:.0} s] {}",
                        s.elapsed.as_secs_f64(),
                        total.as_secs_f64(),
                        status_line(&s, &phases)
                    );
                }
                _ => {}
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    })
}
