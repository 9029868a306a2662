//! `demo` as a list of stages: the bundled `scenarios/demo.yaml` → an ordinary run against the
//! embedded staging server → its summary. The demo shows the tool: its verdict is in the report,
//! not the exit code.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use super::run::RunOptions;
use super::Exit;
use crate::engine::progress::ProgressMode;
use crate::scenario;
use crate::staging::StagingConfig;

/// The scenario `demo` runs, built into the binary.
pub const SCENARIO: &str = include_str!("../../scenarios/demo.yaml");

/// How `demo` was asked to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub out: Option<PathBuf>,
    pub seed: Option<u64>,
    /// Concurrent viewers the embedded server holds before answering 503.
    pub capacity: Option<u64>,
    pub progress: ProgressMode,
}

pub async fn run(opts: DemoOptions, interrupts: watch::Receiver<u32>) -> anyhow::Result<Exit> {
    let env = |name: &str| std::env::var(name).ok();
    let scenario = scenario::parse_str(SCENARIO, "scenarios/demo.yaml", &env)?;
    let run = RunOptions {
        out: opts.out,
        seed: opts.seed,
        progress: opts.progress,
        drain: Duration::from_secs(5),
        embedded: StagingConfig {
            capacity: opts.capacity,
            ..StagingConfig::default()
        },
        shard: None,
        start: crate::collector::StartGate::Now,
        region: None,
        live: Default::default(),
        render: true,
    };
    // The demo shows the tool; its verdict is in the report, not the exit code.
    super::run::run(scenario, run, interrupts)
        .await
        .map(|_| Exit::Success)
}
