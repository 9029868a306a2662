//! One recorder's life, the same for every verb that measures (`run`, `quick`): open the
//! per-second files, start the recorder at time zero, and at the end stop it, fold its cells
//! into breakdowns, read the process's resources and judge the generator's health.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::build::breakdowns;
use super::generator::{self, Resources};
use super::names::ErrorKind;
use super::recorder::{LiveStats, Recorder, RecorderHandle};
use super::result::{Breakdown, GeneratorHealth};
use super::runtime::RuntimeProbe;
use super::series::SeriesWriter;
use crate::plan::PlannedPhase;

/// A recorder running for one run.
pub struct Recording {
    /// Cloned into every task that reports events.
    pub handle: RecorderHandle,
    /// Once-a-second snapshot for the progress display and abort checks.
    pub live: watch::Receiver<LiveStats>,
    /// The run's time zero.
    pub start: tokio::time::Instant,
    pub started_at: DateTime<Utc>,
    task: JoinHandle<()>,
    probe: RuntimeProbe,
    cpu_before: f64,
    open_files_limit: u64,
    regions: Vec<String>,
    phases: Vec<String>,
}

/// What a run measured, ready for [`super::RunResult::new`].
pub struct Measured {
    pub regions: Vec<Breakdown>,
    pub overall: Breakdown,
    pub generator: GeneratorHealth,
    /// Why the per-second data is incomplete (the first failed write of its files), if it is.
    pub incomplete: Option<String>,
    /// One example per error class counted (see `details`).
    pub error_details: BTreeMap<ErrorKind, String>,
}

impl Recording {
    /// Start recording now. With `dir`, `timeseries.csv` and `histograms.hlog` are written
    /// there second by second (the directory is created); without, only the totals are kept.
    /// `open_files_limit` is the limit in force (raised by the caller before its preflight).
    /// Time zero is `zero` (a shared start: `started_at` on this process's monotonic clock), or
    /// the moment the recorder starts.
    pub fn start(
        dir: Option<&Path>,
        regions: Vec<String>,
        phases: &[PlannedPhase],
        open_files_limit: u64,
        started_at: DateTime<Utc>,
        zero: Option<std::time::Instant>,
        export: Option<std::sync::Arc<super::live::LiveExport>>,
    ) -> anyhow::Result<Recording> {
        let series = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating results directory {}", dir.display()))?;
                let bounds = phases
                    .iter()
                    .map(|p| (p.name.clone(), p.start_s, p.start_s + p.duration_s))
                    .collect();
                let epoch = started_at.timestamp_millis() as f64 / 1000.0;
                Some(
                    SeriesWriter::create(dir, regions.clone(), bounds, epoch).with_context(
                        || format!("creating timeseries files in {}", dir.display()),
                    )?,
                )
            }
            None => None,
        };
        let (mut recorder, handle, live) = Recorder::new(regions.len(), phases.len(), series);
        if let Some(export) = export {
            recorder = recorder.with_export(export);
        }
        let (cpu_before, _) = crate::sysinfo::cpu_and_peak_rss();
        let start = tokio::time::Instant::from_std(zero.unwrap_or_else(std::time::Instant::now));
        let task = tokio::spawn(recorder.run(start.into_std()));
        let probe = RuntimeProbe::start(dir, start);
        Ok(Recording {
            handle,
            live,
            start,
            started_at,
            task,
            probe,
            cpu_before,
            open_files_limit,
            regions,
            phases: phases.iter().map(|p| p.name.clone()).collect(),
        })
    }

    /// Where the runtimes viewers run on are registered, for the runtime probe.
    pub fn runtimes(&self) -> super::runtime::Runtimes {
        self.probe.runtimes()
    }

    /// Stop the recorder (its files are flushed and closed when this returns) and measure.
    /// `elapsed` is the run's wall-clock length, for CPU utilisation.
    pub async fn finish(self, elapsed: Duration) -> anyhow::Result<Measured> {
        let state = self
            .handle
            .finish()
            .await
            .context("the recorder stopped unexpectedly")?;
        let _ = self.task.await;
        let (runtime, runtime_failure) = self.probe.finish().await;
        let (cpu_after, peak_rss_bytes) = crate::sysinfo::cpu_and_peak_rss();
        let (regions, overall) = breakdowns(&state, &self.regions, &self.phases)
            .map_err(|e| anyhow::anyhow!("summarising the run's histograms: {e}"))?;
        let generator = generator::measure(
            &overall,
            Resources {
                cpu_seconds: cpu_after - self.cpu_before,
                wall_seconds: elapsed.as_secs_f64(),
                cores: crate::sysinfo::cores(),
                peak_rss_bytes,
                open_files_limit: self.open_files_limit,
                peak_open_files: state.peak_open_files,
            },
            Some(runtime),
        );
        let overall_errors = overall.errors.clone();
        Ok(Measured {
            regions,
            overall,
            generator,
            incomplete: state.write_failure.or(runtime_failure),
            error_details: super::details::for_classes(overall_errors.keys()),
        })
    }
}
