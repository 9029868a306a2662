//! `run` as a list of stages: check safety → start the embedded target if asked → open the
//! results directory → record while the engine runs the plan → build the RunResult → judge
//! SLOs → write results and reports. Results files are written even when the run is
//! interrupted or aborted.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;
use tokio::sync::watch;
use url::Url;

use crate::engine::progress::{self, ProgressMode};
use crate::engine::viewer::ViewerSpec;
use crate::engine::{self, sysinfo, EngineConfig};
use crate::metrics::result::{GeneratorHealth, ScenarioInfo, Verdict, SCHEMA_VERSION};
use crate::metrics::series::SeriesWriter;
use crate::metrics::{breakdowns, Recorder, RunResult, RunStatus};
use crate::plan::Plan;
use crate::protocol::http::ClientConfig;
use crate::scenario::{BaseUrl, Scenario};
use crate::staging::{EmbeddedServer, StagingConfig};

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
    pub shard: Option<crate::plan::Shard>,
    /// When time zero is: now, `--start-at`, or the collector's start barrier.
    pub start: crate::collector::StartGate,
    /// `--region NAME`: run only that region's slice (its own `--shard I/N` among
    /// `--region-shards`); `shard` is then this process's place among all shards.
    pub region: Option<RegionRun>,
    /// `--metrics-listen`, `--json-lines`.
    pub live: super::live::LiveOptions,
}

/// `run --region NAME --shard I/N --region-shards A=n,B=m`.
#[derive(Debug, Clone)]
pub struct RegionRun {
    pub name: String,
    /// I/N among this region's shards.
    pub local: crate::plan::Shard,
    /// Every region's shard count, in the order given.
    pub layout: Vec<(String, u64)>,
}

impl RegionRun {
    /// This process's index among all shards of all regions (regions in scenario order).
    pub fn global(&self, scenario: &Scenario) -> anyhow::Result<crate::plan::Shard> {
        let source = &scenario.source;
        let names: Vec<&str> = scenario.regions.iter().map(|r| r.name.as_str()).collect();
        for (name, n) in &self.layout {
            if !names.contains(&name.as_str()) {
                bail!(
                    "--region-shards names `{name}`, which is not a region of {source} ({})",
                    names.join(", ")
                );
            }
            if *n == 0 {
                bail!("--region-shards {name}=0: every region needs at least one shard");
            }
        }
        let mut offset = 0;
        let mut total = 0;
        let mut mine = None;
        for name in &names {
            let n = self
                .layout
                .iter()
                .find(|(r, _)| r == name)
                .map(|(_, n)| *n)
                .with_context(|| format!("--region-shards does not give region `{name}` of {source} a shard count; give every region, e.g. {}", names.iter().map(|r| format!("{r}=1")).collect::<Vec<_>>().join(",")))?;
            if *name == self.name {
                if n != self.local.count {
                    bail!(
                        "--shard {}/{} but --region-shards gives {name} {n} shards",
                        self.local.index,
                        self.local.count
                    );
                }
                mine = Some(offset);
            }
            offset += n;
            total += n;
        }
        let offset = mine.with_context(|| {
            format!(
                "--region {}: not a region of {source} ({})",
                self.name,
                names.join(", ")
            )
        })?;
        Ok(crate::plan::Shard {
            index: offset + self.local.index,
            count: total,
        })
    }
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

/// Lag above which a viewer counts as started late, and the p99 above which the generator,
/// not the target, is declared the bottleneck.
const LATE_THRESHOLD_MS: f64 = engine::LATE_START.as_millis() as f64;

/// Every host a run will contact, checked before any packet is sent.
pub fn check_hosts(scenario: &Scenario) -> anyhow::Result<()> {
    let mut urls: Vec<(String, Url)> = Vec::new();
    if let BaseUrl::Url(u) = &scenario.target.base_url {
        urls.push(("target.base_url".into(), u.clone()));
    }
    for (i, r) in scenario.regions.iter().enumerate() {
        if let Some(BaseUrl::Url(u)) = &r.base_url {
            urls.push((format!("regions[{i}].base_url"), u.clone()));
        }
    }
    for (i, step) in scenario.viewer.join.iter().enumerate() {
        if let Ok(u) = Url::parse(&step.path) {
            urls.push((format!("viewer.join[{i}].path"), u));
        }
    }
    if let Ok(u) = Url::parse(&scenario.viewer.watch.url) {
        urls.push(("viewer.watch.url".into(), u));
    }
    if let Some(u) = scenario
        .viewer
        .chat
        .as_ref()
        .and_then(|c| Url::parse(&c.url).ok())
    {
        urls.push(("viewer.chat.url".into(), u));
    }
    if let Some(u) = scenario
        .publishers
        .as_ref()
        .and_then(|p| Url::parse(&p.url).ok())
    {
        urls.push(("publishers.url".into(), u));
    }
    for (key, url) in urls {
        let host = url.host_str().unwrap_or_default();
        if !engine::host_allowed(host, &scenario.target.allow_hosts) {
            bail!(
                "{}: {key}: host `{host}` is not in target.allow_hosts {:?}; nothing was sent. \
                 If this target is yours to load, add `{host}` to target.allow_hosts",
                scenario.source,
                scenario.target.allow_hosts
            );
        }
    }
    Ok(())
}

fn resolve_base(base: &BaseUrl, embedded: Option<&Url>) -> anyhow::Result<Url> {
    match base {
        BaseUrl::Url(u) => Ok(u.clone()),
        BaseUrl::Embedded => embedded
            .cloned()
            .context("the embedded server was not started"),
    }
}

pub fn default_out_dir(scenario: &Scenario) -> PathBuf {
    PathBuf::from("reports").join(format!(
        "{}-{}",
        scenario.name,
        Utc::now().format("%Y%m%dT%H%M%SZ")
    ))
}

pub async fn run(
    scenario: Scenario,
    opts: RunOptions,
    interrupts: watch::Receiver<u32>,
) -> anyhow::Result<Finished> {
    check_hosts(&scenario)?;
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
    let open_files_limit = sysinfo::raise_open_files_limit();
    preflight(&scenario, &plan, open_files_limit)?;

    let uses_embedded = scenario.target.base_url == BaseUrl::Embedded
        || scenario
            .regions
            .iter()
            .any(|r| r.base_url == Some(BaseUrl::Embedded));
    let server = if uses_embedded {
        Some(
            EmbeddedServer::start(opts.embedded.clone())
                .await
                .context("starting the embedded staging server")?,
        )
    } else {
        None
    };
    let embedded_url = match &server {
        Some(s) => Some(Url::parse(&s.base_url()).context("embedded server address")?),
        None => None,
    };
    let target_base = resolve_base(&scenario.target.base_url, embedded_url.as_ref())?;
    let parts = engine::join::JourneyParts::new(&scenario)
        .map_err(|e| anyhow::anyhow!("{}: {e}", scenario.source))?;
    let mut region_base = Vec::new();
    let mut watch_url = Vec::new();
    let mut chat_url = Vec::new();
    for r in &scenario.regions {
        let base = match &r.base_url {
            Some(b) => resolve_base(b, embedded_url.as_ref())?,
            None => target_base.clone(),
        };
        // A templated URL is made per viewer from its join variables; the base stands in.
        let watch = match parts.watch_template {
            Some(_) => "",
            None => scenario.viewer.watch.url.as_str(),
        };
        let w = base.join(watch).with_context(|| {
            format!(
                "viewer.watch.url `{}` does not resolve against {base}",
                scenario.viewer.watch.url
            )
        })?;
        watch_url.push(w);
        if let Some(chat) = scenario
            .viewer
            .chat
            .as_ref()
            .filter(|_| parts.chat_template.is_none())
        {
            chat_url.push(engine::chat::resolve_url(&base, &chat.url).map_err(|e| {
                anyhow::anyhow!("viewer.chat.url `{}` against {base}: {e}", chat.url)
            })?);
        }
        region_base.push(base);
    }
    let mut client = ClientConfig::new(
        scenario.target.timeout,
        scenario.target.insecure_tls,
        &parts.static_headers,
    )
    .map_err(|e| anyhow::anyhow!("{}: target.headers: {e}", scenario.source))?;
    if scenario.target.tls_resume {
        client = client
            .resuming_tls_sessions()
            .map_err(|e| anyhow::anyhow!("{}: target.tls: {e}", scenario.source))?;
    }
    let mut allow_hosts = scenario.target.allow_hosts.clone();
    if embedded_url.is_some() {
        allow_hosts.extend(["127.0.0.1".to_string(), "localhost".to_string()]);
    }
    // One client configuration per region: same TLS config, the region's network profile.
    let clients = scenario
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| {
            // A placed region's pods run in that region's real network: emulating it on top
            // would count its latency twice, unless the scenario asks for both.
            let real_network =
                placed == Some(i) && r.placement.as_ref().is_some_and(|p| !p.emulate_network);
            let network = if real_network {
                None
            } else {
                r.network.clone()
            };
            client.with_network(network, seed ^ (i as u64 + 1))
        })
        .collect();
    let chat = scenario
        .viewer
        .chat
        .as_ref()
        .map(|c| engine::chat::ChatSpec::new(chat_url, c.messages_per_min, c.delivery));
    let spec = Arc::new(ViewerSpec {
        clients,
        source_addrs: scenario.target.source_addrs.clone(),
        viewer_id_stride: opts.shard.map_or(1, |s| s.count),
        region_base,
        data: scenario.viewer.data.clone(),
        join: parts.steps,
        header_templates: parts.header_templates,
        watch_template: parts.watch_template,
        chat_template: parts.chat_template,
        watch_protocol: scenario.viewer.watch.protocol,
        watch_url,
        allow_hosts,
        rendition: scenario.viewer.watch.rendition,
        seed,
        chat,
    });

    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&scenario));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating results directory {}", dir.display()))?;
    // Time zero: the plan's instants are relative to it on every shard.
    let gate = crate::collector::client::wait_for_start(
        &opts.start,
        opts.shard,
        || collector_identity(&scenario, &plan, seed),
        interrupts.clone(),
    )
    .await?;
    let started_at = gate.at;
    let phase_bounds: Vec<(String, f64, f64)> = plan
        .phases
        .iter()
        .map(|p| (p.name.clone(), p.start_s, p.start_s + p.duration_s))
        .collect();
    let live_export =
        super::live::start(&opts.live, plan.regions.clone(), phase_bounds.clone()).await?;
    let series = SeriesWriter::create(
        &dir,
        plan.regions.clone(),
        phase_bounds,
        started_at.timestamp_millis() as f64 / 1000.0,
    )
    .with_context(|| format!("creating timeseries files in {}", dir.display()))?;
    let (mut recorder, handle, live) =
        Recorder::new(plan.regions.len(), plan.phases.len(), Some(series));
    let mut live_server = None;
    if let Some((export, server)) = live_export {
        recorder = recorder.with_export(export);
        live_server = Some(server);
    }
    let (cpu_before, _) = sysinfo::cpu_and_peak_rss();
    let start = tokio::time::Instant::from_std(gate.zero.unwrap_or_else(std::time::Instant::now));
    let stream = gate.link.as_ref().map(|l| l.stream(&dir));
    let interrupts = match &gate.link {
        Some(l) => l.merge_interrupts(interrupts),
        None => interrupts,
    };
    let recorder_task = tokio::spawn(recorder.run(start.into_std()));
    let display = progress::spawn(opts.progress, live.clone(), plan.phases.clone(), plan.total);

    let engine_config = EngineConfig {
        plan: plan.clone(),
        spec: spec.clone(),
        drain: opts.drain,
        abort_when: scenario.load.abort_when.clone(),
        end: scenario.load.end,
    };
    // Publishers stream alongside the viewers and stop with them.
    let publishers = match &scenario.publishers {
        Some(p) => Some(
            engine::publisher::start(p, handle.clone(), scenario.target.timeout)
                .map_err(|e| anyhow::anyhow!("{}: {e}", scenario.source))?,
        ),
        None => None,
    };
    let mut outcome = engine::run(engine_config, start, handle.clone(), live, interrupts).await;
    if let Some(why) = gate.link.as_ref().and_then(|l| l.stopped_because()) {
        outcome.status = RunStatus::Aborted;
        outcome.reason = Some(format!("stopped by the collector: {why}"));
    }
    if let Some(p) = publishers {
        p.stop(Duration::from_secs(2)).await;
    }
    let state = handle
        .finish()
        .await
        .context("the recorder stopped unexpectedly")?;
    let _ = recorder_task.await;
    if let Some(server) = live_server {
        server.finish().await;
    }
    let _ = display.await;
    if let Some(server) = server {
        server.shutdown().await;
    }
    let (cpu_after, peak_rss) = sysinfo::cpu_and_peak_rss();

    let phase_names: Vec<String> = plan.phases.iter().map(|p| p.name.clone()).collect();
    let (regions, overall) = breakdowns(&state, &plan.regions, &phase_names);
    let elapsed = outcome.elapsed.as_secs_f64();
    let mut notices = scenario.notices();
    notices.extend(tls_notice(client.handshakes(), scenario.target.tls_resume));
    notices.extend(crate::metrics::details::redirect_notice());
    notices.extend(engine::join::failure_notices(&spec.join));
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
    if overall.joins.capped > 0 {
        notices.push(format!(
            "load.max_viewers ({}) was reached: {} planned arrivals were not started",
            scenario.load.max_viewers, overall.joins.capped
        ));
    }
    if plan.phases.iter().any(|p| p.capped) {
        notices.push(format!(
            "load.max_joins_per_sec ({}) lowered the planned arrival rate",
            scenario.load.max_joins_per_sec
        ));
    }
    if let Some(words) = &outcome.end_words {
        notices.push(words.clone());
    }
    let generator = generator_health(
        &overall,
        cpu_after - cpu_before,
        elapsed,
        peak_rss,
        open_files_limit,
        state.peak_open_files,
    );
    let mut result = RunResult {
        schema: SCHEMA_VERSION,
        tool: format!("peakready {}", env!("CARGO_PKG_VERSION")),
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            source: scenario.source.clone(),
            scale: scenario.load.scale,
            max_viewers: scenario.load.max_viewers,
            max_joins_per_sec: scenario.load.max_joins_per_sec,
            target: target_base.to_string(),
            slo: scenario.slo.gates.clone(),
            resolved: serde_json::to_value(&scenario).unwrap_or(serde_json::Value::Null),
        },
        seed,
        started_at,
        ended_at: Utc::now(),
        duration_s: elapsed,
        planned_duration_s: plan.total.as_secs_f64(),
        status: outcome.status,
        status_reason: outcome.reason,
        phases: plan.phases.clone(),
        regions,
        overall,
        slo: Vec::new(),
        slo_passed: true,
        generator,
        notices,
        readiness: None,
        shard: opts.shard,
        merge: None,
        incomplete: state.write_failure.clone(),
        error_details: Default::default(),
    };
    result.error_details = crate::metrics::details::for_classes(result.overall.errors.keys());
    crate::analysis::slo::evaluate(&mut result);
    let nobody_joined = result.overall.joins.attempted > 0 && result.overall.joins.succeeded == 0;
    if nobody_joined {
        result
            .notices
            .push("no viewer could join: the run fails whatever the SLOs say".into());
    }
    // Reads timeseries.csv back from `dir` (the recorder has flushed and closed it), exactly as
    // `report DIR` will, so a re-render reproduces these verdicts.
    crate::analysis::assess_dir(&dir, &mut result);
    // Load was sent: from here a failure is a failed run (exit 1) or an unrecorded one (exit
    // 3), never "bad input" (exit 2), and the terminal summary still shows what was measured.
    let not_written = record(&dir, &result);
    if let Some(stream) = stream {
        let results = match not_written.iter().find(|(f, _)| f == "results.json") {
            Some((_, why)) => Err(format!("results.json could not be written: {why}")),
            None => std::fs::read_to_string(dir.join("results.json"))
                .map_err(|e| format!("results.json could not be read back: {e}")),
        };
        stream.finish(results).await;
    }
    // NOT READY means an SLO broke (for several seconds) below the target load: that is an SLO
    // failure for the exit-code contract even when the whole-run percentile still passed.
    let not_ready = result
        .readiness
        .as_ref()
        .is_some_and(|r| r.overall.verdict == Verdict::NotReady);
    let outcome = match result.status {
        _ if result.incomplete.is_some() || !not_written.is_empty() => Outcome::Unrecorded,
        RunStatus::Completed if nobody_joined => Outcome::SloFailed,
        RunStatus::Completed if result.slo_passed && !not_ready => Outcome::Passed,
        RunStatus::Completed => Outcome::SloFailed,
        _ => Outcome::Aborted,
    };
    Ok(Finished {
        outcome,
        dir,
        result,
        not_written,
    })
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

/// What one process of a plan holds at its peak (also sizes `k8s render`'s pods).
pub struct PlannedLoad {
    /// Expected peak concurrent viewers of this process (+10 % for the draw, capped).
    pub viewers: u64,
    /// Sockets per viewer (a chat WebSocket beside the HTTP connection).
    pub per_viewer: u64,
    /// Descriptors needed: viewers' sockets, publishers, 256 spare.
    pub open_files: u64,
}

pub fn planned_load(scenario: &Scenario, plan: &Plan) -> PlannedLoad {
    let expected_peak = plan
        .expected_concurrency()
        .into_iter()
        .fold(0.0f64, f64::max)
        * plan.fraction();
    // The plan's peak is an expectation; leave 10% for the draw, never more than the cap.
    let viewers = (expected_peak * 1.1).ceil().min(plan.max_viewers as f64) as u64;
    let per_viewer = 1 + u64::from(scenario.viewer.chat.is_some());
    let publishers = scenario
        .publishers
        .as_ref()
        .map_or(0, |p| u64::from(p.streams));
    PlannedLoad {
        viewers,
        per_viewer,
        open_files: viewers * per_viewer + publishers + 256,
    }
}

/// What the collector checks every shard against: one scenario, one seed, one shard count.
fn collector_identity(
    scenario: &Scenario,
    plan: &Plan,
    seed: u64,
) -> crate::collector::proto::Identity {
    let mut resolved = serde_json::to_value(scenario).unwrap_or(serde_json::Value::Null);
    if let Some(o) = resolved.as_object_mut() {
        o.remove("source");
        if let Some(t) = o.get_mut("target").and_then(|t| t.as_object_mut()) {
            t.remove("source_addrs");
        }
    }
    crate::collector::proto::Identity {
        scenario: scenario.name.clone(),
        seed,
        shard_count: plan.shard.map_or(1, |s| s.count),
        resolved,
        regions: plan.regions.clone(),
        phases: plan.phases.clone(),
        planned_s: plan.total.as_secs_f64(),
        abort_when: scenario
            .load
            .abort_when
            .as_ref()
            .map(|a| (a.error_rate, a.after.as_secs_f64())),
    }
}

/// Descriptors and ephemeral ports a plan needs, checked before any packet: a run that would
/// hit `ulimit -n` or run out of ports half-way measures the generator's limits, not the
/// target's, so it is refused with what to change.
fn preflight(scenario: &Scenario, plan: &Plan, open_files_limit: u64) -> anyhow::Result<()> {
    let PlannedLoad {
        viewers,
        per_viewer,
        open_files: needed,
    } = planned_load(scenario, plan);
    if open_files_limit > 0 && needed > open_files_limit {
        bail!(
            "{}: this plan expects about {viewers} concurrent viewers, needing ~{needed} open files, \
             but this process may open {open_files_limit} (ulimit -n). Raise the hard limit \
             (ulimit -Hn, or LimitNOFILE= for a service), split the run with --shard I/N across \
             processes, or lower load.max_viewers",
            scenario.source
        );
    }
    if let Some(ports) = sysinfo::ephemeral_ports() {
        let sources = scenario.target.source_addrs.len().max(1) as u64;
        let to_one_target = viewers * per_viewer;
        if to_one_target > ports * sources {
            bail!(
                "{}: about {to_one_target} connections to one target need more than the {ports} ephemeral \
                 ports of {sources} source address(es). Add local addresses with target.source_addrs \
                 (e.g. 127.0.0.2-127.0.0.40 on loopback), widen net.ipv4.ip_local_port_range, or shard",
                scenario.source
            );
        }
    }
    Ok(())
}

pub(crate) fn generator_health(
    overall: &crate::metrics::Breakdown,
    cpu: f64,
    wall: f64,
    peak_rss: u64,
    limit: u64,
    peak_files: u64,
) -> GeneratorHealth {
    let cores = sysinfo::cores();
    let lag = overall.metrics.get(&crate::metrics::Metric::GeneratorLagMs);
    let late = lag
        .and_then(|m| crate::metrics::result::decode_histogram(&m.hdr).ok())
        .map(|h| h.count_between((LATE_THRESHOLD_MS * 1000.0) as u64, u64::MAX))
        .unwrap_or(0);
    let lag_p99 = lag.map(|m| m.p99).unwrap_or(0.0);
    let limited = lag_p99 > LATE_THRESHOLD_MS;
    GeneratorHealth {
        lag_p50_ms: lag.map(|m| m.p50).unwrap_or(0.0),
        lag_p99_ms: lag_p99,
        lag_max_ms: lag.map(|m| m.max).unwrap_or(0.0),
        late_arrivals: late,
        late_threshold_ms: LATE_THRESHOLD_MS,
        cpu_seconds: cpu,
        cpu_utilisation: if wall > 0.0 { cpu / wall / cores as f64 } else { 0.0 },
        cores,
        peak_rss_bytes: peak_rss,
        open_files_limit: limit,
        peak_open_files: peak_files,
        limited,
        message: limited.then(|| {
            format!(
                "the load generator, not the target, limited this run: viewers started {lag_p99:.0} ms late at p99 \
                 (threshold {LATE_THRESHOLD_MS:.0} ms). Use more cores, more shards (--shard), or fewer viewers."
            )
        }),
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
    let share = |n: u64| format!("{n} ({:.1} %)", n as f64 * 100.0 / total as f64);
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
