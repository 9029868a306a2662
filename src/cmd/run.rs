//! `run` as a list of stages: check safety → start the embedded target if asked → open the
//! results directory → record while the engine runs the plan → build the RunResult → judge
//! SLOs → write results and reports. Results files are written even when the run is
//! interrupted or aborted.

mod checks;
mod region;
mod summary;
mod target;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

pub use checks::check_hosts;
pub(crate) use checks::preflight;
pub use region::RegionRun;
pub use summary::print as print_finished;
use target::Target;

use super::Exit;
use crate::engine::progress::{self, ProgressMode};
use crate::engine::{self, EngineConfig, EngineOutcome};
use crate::metrics::result::{ScenarioInfo, Verdict};
use crate::metrics::{Recording, RunHead, RunResult, RunStatus};
use crate::plan::{Plan, Shard};
use crate::scenario::Scenario;
use crate::staging::StagingConfig;

/// How `run` (and `demo`) were asked to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: Option<PathBuf>,
    pub seed: Option<u64>,
    pub progress: ProgressMode,
    /// How long in-flight viewers may finish after the plan ends or a stop.
    pub drain: Duration,
    /// Capacity of the embedded staging server, when the scenario targets it.
    pub embedded: StagingConfig,
    /// `--shard I/N`: run one slice of the plan.
    pub shard: Option<Shard>,
    /// When time zero is: now, `--start-at`, or the collector's start barrier.
    pub start: crate::collector::StartGate,
    /// Render report.md, charts, card and HTML (a capacity step writes only its data files).
    pub render: bool,
    /// `--region NAME`: run only that region's slice (its own `--shard I/N` among
    /// `--region-shards`); `shard` is then this process's place among all shards.
    pub region: Option<RegionRun>,
    /// `--metrics-listen`, `--json-lines`.
    pub live: super::live::LiveOptions,
}

/// How a finished run maps onto exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    SloFailed,
    Aborted,
    /// The results could not all be recorded (a full disk): exit 3.
    Unrecorded,
}

pub struct Finished {
    pub outcome: Outcome,
    pub dir: PathBuf,
    pub result: RunResult,
    /// Results files that could not be written, with why.
    pub not_written: Vec<(String, String)>,
}

pub fn default_out_dir(scenario: &Scenario) -> PathBuf {
    PathBuf::from("reports").join(format!(
        "{}-{}",
        scenario.name,
        Utc::now().format("%Y%m%dT%H%M%SZ")
    ))
}

/// The `run` verb (and `demo`'s): the scenario's notices, the run, its summary; the exit the
/// run earned.
pub async fn run(
    scenario: Scenario,
    opts: RunOptions,
    interrupts: watch::Receiver<u32>,
) -> anyhow::Result<Exit> {
    for notice in scenario.notices() {
        eprintln!("notice: {notice}");
    }
    let finished = measure(scenario, opts, interrupts).await?;
    Ok(summary::print(&finished))
}

/// The stages of one run, to its results directory (`capacity` runs each step through here,
/// reports not rendered).
pub async fn measure(
    scenario: Scenario,
    opts: RunOptions,
    interrupts: watch::Receiver<u32>,
) -> anyhow::Result<Finished> {
    checks::check_hosts(&scenario)?;
    let seed = opts
        .seed
        .unwrap_or_else(|| Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64);
    let mut plan = Plan::build(&scenario, seed);
    if let Some(shard) = opts.shard {
        plan = plan.with_shard(shard);
    }
    let placed = match &opts.region {
        Some(rr) => {
            let region = scenario
                .regions
                .iter()
                .position(|r| r.name == rr.name)
                .with_context(|| {
                    format!("--region {}: not a region of {}", rr.name, scenario.source)
                })?;
            plan = plan.with_region_slice(
                scenario.load.max_viewers,
                crate::plan::RegionSlice {
                    region: region as u16,
                    index: rr.local.index,
                    count: rr.local.count,
                },
            );
            Some(region)
        }
        None => None,
    };
    if let Some(d) = &scenario.viewer.data {
        engine::data::check_unique(d, &plan, &scenario.source).map_err(anyhow::Error::msg)?;
    }
    let open_files_limit = crate::sysinfo::raise_open_files_limit();
    checks::preflight(&scenario, &plan, open_files_limit)?;
    let target = Target::start(&scenario, &opts.embedded, seed, opts.shard, placed).await?;
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&scenario));
    // Time zero: the plan's instants are relative to it on every shard.
    let gate = crate::collector::client::wait_for_start(
        &opts.start,
        opts.shard,
        || collector_identity(&scenario, &plan, seed),
        interrupts.clone(),
    )
    .await?;
    let phase_bounds: Vec<(String, f64, f64)> = plan
        .phases
        .iter()
        .map(|p| (p.name.clone(), p.start_s, p.start_s + p.duration_s))
        .collect();
    let live_export = super::live::start(&opts.live, plan.regions.clone(), phase_bounds).await?;
    let (export, live_server) = match live_export {
        Some((export, server)) => (Some(export), Some(server)),
        None => (None, None),
    };
    let recording = Recording::start(
        Some(&dir),
        plan.regions.clone(),
        &plan.phases,
        open_files_limit,
        gate.at,
        gate.zero,
        export,
    )?;
    let started_at = recording.started_at;
    let stream = gate.link.as_ref().map(|l| l.stream(&dir));
    let interrupts = match &gate.link {
        Some(l) => l.merge_interrupts(interrupts),
        None => interrupts,
    };
    let (mut outcome, display) =
        drive(&scenario, &plan, &target, &opts, &recording, interrupts).await?;
    if let Some(why) = gate.link.as_ref().and_then(|l| l.stopped_because()) {
        outcome.status = RunStatus::Aborted;
        outcome.reason = Some(format!("stopped by the collector: {why}"));
    }
    let measured = recording.finish(outcome.elapsed).await?;
    if let Some(server) = live_server {
        server.finish().await;
    }
    let _ = display.await;
    let target_url = target.base.clone();
    let tls = tls_notice(target.client.handshakes(), scenario.target.tls_resume);
    let join_failures = engine::steps::failure_notices(&target.spec.join);
    target.stop().await;
    let head = RunHead {
        notices: tls
            .into_iter()
            .chain(notices(
                &scenario,
                &plan,
                &opts,
                placed,
                measured.overall.joins.capped,
            ))
            .chain(join_failures)
            .chain(outcome.end_words.clone())
            .collect(),
        scenario: scenario_info(&scenario, &target_url),
        seed,
        started_at,
        ended_at: Utc::now(),
        duration_s: outcome.elapsed.as_secs_f64(),
        planned_duration_s: plan.total.as_secs_f64(),
        status: outcome.status,
        status_reason: outcome.reason,
        phases: plan.phases.clone(),
        shard: opts.shard,
        merge: None,
    };
    let mut result = RunResult::new(head, measured);
    // Reads timeseries.csv back from `dir` (the recorder has flushed and closed it), exactly as
    // `report DIR` will, so a re-render reproduces these verdicts.
    crate::analysis::judge(&mut result, Some(&dir));
    // Load was sent: from here a failure is a failed run (exit 1) or an unrecorded one (exit
    // 3), never "bad input" (exit 2), and the terminal summary still shows what was measured.
    let not_written = if opts.render {
        record(&dir, &result)
    } else {
        // A capacity step: its data files only; the search renders the reports once.
        match crate::report::write_results(&dir, &result) {
            Ok(()) => Vec::new(),
            Err(e) => vec![("results.json".to_string(), format!("{e:#}"))],
        }
    };
    if let Some(stream) = stream {
        let results = match not_written.iter().find(|(f, _)| f == "results.json") {
            Some((_, why)) => Err(format!("results.json could not be written: {why}")),
            None => std::fs::read_to_string(dir.join("results.json"))
                .map_err(|e| format!("results.json could not be read back: {e}")),
        };
        stream.finish(results).await;
    }
    Ok(Finished {
        outcome: exit_outcome(&result, &not_written),
        dir,
        result,
        not_written,
    })
}

/// The engine runs the plan while publishers stream alongside; both have stopped when this
/// returns. The progress display follows the recorder and ends with it: its task is returned.
async fn drive(
    scenario: &Scenario,
    plan: &Plan,
    target: &Target,
    opts: &RunOptions,
    recording: &Recording,
    interrupts: watch::Receiver<u32>,
) -> anyhow::Result<(EngineOutcome, JoinHandle<()>)> {
    let live = recording.live.clone();
    let display = progress::spawn(opts.progress, live.clone(), plan.phases.clone(), plan.total);
    let engine_config = EngineConfig {
        plan: plan.clone(),
        spec: target.spec.clone(),
        drain: opts.drain,
        abort_when: scenario.load.abort_when.clone(),
        end: scenario.load.end,
        lanes: tokio::runtime::Handle::current().metrics().num_workers(),
        runtimes: recording.runtimes(),
    };
    let handle = recording.handle.clone();
    let publishers = match &scenario.publishers {
        Some(p) => Some(
            engine::publisher::start(p, handle.clone(), scenario.target.timeout)
                .map_err(|e| anyhow::anyhow!("{}: {e}", scenario.source))?,
        ),
        None => None,
    };
    let outcome = engine::run(engine_config, recording.start, handle, live, interrupts).await?;
    if let Some(p) = publishers {
        p.stop(Duration::from_secs(2)).await;
    }
    Ok((outcome, display))
}

/// What the collector checks every shard against: one scenario, one seed, one shard count.
fn collector_identity(
    scenario: &Scenario,
    plan: &Plan,
    seed: u64,
) -> crate::collector::proto::Identity {
    crate::collector::proto::Identity {
        scenario: scenario.name.clone(),
        seed,
        shard_count: plan.shard.map_or(1, |s| s.count),
        resolved: scenario.clone(),
        regions: plan.regions.clone(),
        phases: plan.phases.clone(),
        planned_s: plan.total.as_secs_f64(),
        abort_when: scenario
            .load
            .abort_when
            .as_ref()
            .map(|a| (a.error_rate, a.after.as_secs_f64())),
        slo: scenario.slo.gates.clone(),
    }
}

fn scenario_info(scenario: &Scenario, target: &Url) -> ScenarioInfo {
    ScenarioInfo {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        source: scenario.source.clone(),
        scale: scenario.load.scale,
        max_viewers: scenario.load.max_viewers,
        max_joins_per_sec: scenario.load.max_joins_per_sec,
        target: target.to_string(),
        slo: scenario.slo.gates.clone(),
        resolved: Some(scenario.clone()),
    }
}

fn notices(
    scenario: &Scenario,
    plan: &Plan,
    opts: &RunOptions,
    placed: Option<usize>,
    capped: u64,
) -> Vec<String> {
    let mut notices = scenario.notices();
    notices.extend(crate::metrics::details::redirect_notice());
    if let (Some(rr), Some(shard)) = (&opts.region, opts.shard) {
        notices.push(format!(
            "shard {} of {}: this process ran region {}'s slice {} of {} (--region)",
            shard.index, shard.count, rr.name, rr.local.index, rr.local.count
        ));
        if let Some(r) = placed.and_then(|i| scenario.regions.get(i)) {
            if r.network.is_some() && r.placement.as_ref().is_some_and(|p| !p.emulate_network) {
                notices.push(format!(
                    "regions[{}]: network emulation off: this region's viewers ran on its placed generators' real network \
                     (placement.emulate_network: true adds the profile on top)",
                    r.name
                ));
            }
        }
    } else if let Some(shard) = opts.shard {
        notices.push(format!(
            "shard {} of {}: this process ran 1/{} of the plan's arrivals (viewer id ≡ {} mod {}); \
             results cover this shard only",
            shard.index,
            shard.count,
            shard.count,
            shard.index - 1,
            shard.count
        ));
    }
    if capped > 0 {
        notices.push(format!(
            "load.max_viewers ({}) was reached: {capped} planned arrivals were not started",
            scenario.load.max_viewers
        ));
    }
    if plan.phases.iter().any(|p| p.capped) {
        notices.push(format!(
            "load.max_joins_per_sec ({}) lowered the planned arrival rate",
            scenario.load.max_joins_per_sec
        ));
    }
    notices
}

/// Writes results.json and every report file; returns the files that could not be written
/// (each with why), after saying so on stderr. Nothing that failed is left half-written.
pub fn record(dir: &std::path::Path, result: &RunResult) -> Vec<(String, String)> {
    let hurry = crate::engine::HURRY.load(std::sync::atomic::Ordering::Relaxed);
    let not_written = match crate::report::write_results(dir, result) {
        Ok(()) if hurry => {
            eprintln!(
                "peakready: reports not rendered (third Ctrl-C): `peakready report {}` renders them",
                dir.display()
            );
            Vec::new()
        }
        Ok(()) => crate::report::render_files(dir, result),
        // Without results.json no report is rendered: `report DIR` could not reproduce it.
        Err(e) => vec![("results.json".to_string(), format!("{e:#}"))],
    };
    for (file, why) in &not_written {
        eprintln!("peakready: error: {file} was not written: {why}");
    }
    not_written
}

fn exit_outcome(result: &RunResult, not_written: &[(String, String)]) -> Outcome {
    let nobody_joined = result.overall.joins.attempted > 0 && result.overall.joins.succeeded == 0;
    // NOT READY means an SLO broke (for several seconds) below the target load: that is an SLO
    // failure for the exit-code contract even when the whole-run percentile still passed.
    let not_ready = result
        .readiness
        .as_ref()
        .is_some_and(|r| r.overall.verdict == Verdict::NotReady);
    match result.status {
        _ if result.incomplete.is_some() || !not_written.is_empty() => Outcome::Unrecorded,
        RunStatus::Completed if nobody_joined => Outcome::SloFailed,
        RunStatus::Completed if result.slo_passed && !not_ready => Outcome::Passed,
        RunStatus::Completed => Outcome::SloFailed,
        _ => Outcome::Aborted,
    }
}

/// What TLS session resumption did in this run: asked-for resumption the server refused must
/// not pass for full-handshake load, nor the other way round.
pub(crate) fn tls_notice(
    counts: &crate::protocol::http::HandshakeCounts,
    resume: bool,
) -> Option<String> {
    let (full, resumed) = counts.get();
    let total = full + resumed;
    if total == 0 {
        return None;
    }
    let share = |n: u64| {
        format!(
            "{} ({})",
            crate::format::count(n as f64),
            crate::format::pct(n as f64 / total as f64)
        )
    };
    Some(if resume {
        format!(
            "TLS: session resumption on (target.tls.resume, quick --tls-resume): {} of {total} handshakes resumed an earlier session, {} were full{}",
            share(resumed),
            share(full),
            if resumed == 0 {
                " — the server resumed none (session tickets or cache off?), so this run measured full handshakes"
            } else {
                ""
            }
        )
    } else {
        format!(
            "TLS: {total} full handshakes, none resumed (each new connection is a new device; \
             target.tls.resume: true or quick --tls-resume models returning apps)"
        )
    })
}
