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

/// The phase a closed second belongs to, by its middle: the rule timeseries.csv files it by.
fn phase_of_second(phases: &[PlannedPhase], second: u64) -> &str {
    let t = second as f64 + 0.5;
    phases
        .iter()
        .find(|p| t >= p.start_s && t < p.start_s + p.duration_s)
        .map(|p| p.name.as_str())
        .unwrap_or("drain")
}

/// The phase named is the one of the second the figures describe (the last closed one), not
/// the one running when the line is printed: at a phase boundary they differ.
pub fn status_line(s: &LiveStats, phases: &[PlannedPhase]) -> String {
    let p99 = s
        .join_p99_ms
        .map(crate::format::ms)
        .unwrap_or_else(|| "–".into());
    let mut line = format!(
        "{:<14} viewers {:>6}  joins/s {:>5}  errors {:>6}  join p99 {:>8}",
        phase_of_second(phases, s.second),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(name: &str, start_s: f64, duration_s: f64) -> PlannedPhase {
        PlannedPhase {
            name: name.into(),
            start_s,
            duration_s,
            joins_per_sec: 1.0,
            ramp_to: None,
            capped: false,
        }
    }

    /// Issue 13: second 14 (the last of `warmup`) closes at 15.0 s, when `spike` has begun; its
    /// figures are warmup's and the line must say so.
    #[test]
    fn the_line_names_the_phase_of_the_second_its_figures_describe() {
        let phases = [phase("warmup", 0.0, 15.0), phase("spike", 15.0, 5.0)];
        let line = |second: u64, elapsed: f64| {
            status_line(
                &LiveStats {
                    elapsed: Duration::from_secs_f64(elapsed),
                    second,
                    joins_last_second: 7,
                    ..LiveStats::default()
                },
                &phases,
            )
        };
        let closing_warmup = line(14, 15.02);
        assert!(closing_warmup.starts_with("warmup "), "{closing_warmup}");
        assert!(closing_warmup.contains("joins/s     7"), "{closing_warmup}");
        assert!(line(15, 16.0).starts_with("spike "));
        // A backlog closes an old second late: still that second's phase.
        assert!(line(3, 17.5).starts_with("warmup "));
        assert!(line(20, 21.0).starts_with("drain "));
    }
}
