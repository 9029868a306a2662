//! The command line: clap derive, one `Command` per verb, and the dispatch to library stages.
//! No measurement logic lives here.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use std::io::Write;

use anyhow::Context;
use tokio::sync::watch;

use crate::cmd::run::{Outcome, RunOptions};
use crate::engine::progress::ProgressMode;
use crate::scenario::{self, Scenario};
use crate::staging::StagingConfig;

mod args;
pub use args::{Cli, Command, K8sAction};

/// What `main` maps onto an exit code.
pub enum Exit {
    Success,
    /// An SLO failed or the run aborted.
    Failed,
    /// The run's results could not all be recorded (a full disk, an unwritable directory).
    Unrecorded,
}

fn interrupts() -> watch::Receiver<u32> {
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

pub const DEMO_SCENARIO: &str = include_str!("../scenarios/demo.yaml");

pub async fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    let progress = ProgressMode::detect(cli.quiet);
    match cli.command {
        Command::Demo {
            out,
            seed,
            capacity,
        } => {
            let env = |name: &str| std::env::var(name).ok();
            let scenario = scenario::parse_str(DEMO_SCENARIO, "scenarios/demo.yaml", &env)?;
            let embedded = StagingConfig {
                capacity,
                ..StagingConfig::default()
            };
            let opts = RunOptions {
                out,
                seed,
                progress,
                drain: Duration::from_secs(5),
                embedded,
                shard: None,
                start: crate::collector::StartGate::Now,
                region: None,
                live: Default::default(),
                render: true,
            };
            // The demo shows the tool; its verdict is in the report, not the exit code.
            run_and_print(scenario, opts).await.map(|_| Exit::Success)
        }
        Command::Run {
            scenario: path,
            out,
            seed,
            capacity,
            drain,
            shard,
            shard_base,
            collector,
            start_at,
            region,
            region_shards,
            ll_hls,
            config,
            live,
        } => {
            let scenario = scenario::load_with(&path, &config.overrides())?;
            let embedded = StagingConfig {
                capacity,
                ll_hls,
                ..StagingConfig::default()
            };
            let shard = shard
                .map(|s| crate::plan::Shard::parse(&s, shard_base))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--shard: {e}"))?;
            let region = match (region, region_shards, shard) {
                (Some(name), Some(layout), Some(local)) => Some(crate::cmd::run::RegionRun {
                    name,
                    local,
                    layout: parse_layout(&layout)?,
                }),
                _ => None,
            };
            let shard = match &region {
                Some(rr) => Some(rr.global(&scenario)?),
                None => shard,
            };
            if shard.is_some() && seed.is_none() {
                anyhow::bail!("--shard needs --seed: every shard must draw the same plan");
            }
            let opts = RunOptions {
                out,
                seed,
                progress,
                drain,
                embedded,
                shard,
                start: crate::collector::StartGate::of(collector, start_at),
                region,
                live: crate::cmd::live::LiveOptions {
                    metrics_listen: live.metrics_listen,
                    json_lines: live.json_lines,
                },
                render: true,
            };
            run_and_print(scenario, opts).await
        }
        Command::K8s { action } => crate::cmd::k8s::dispatch(action),
        Command::Collect {
            listen,
            shards,
            out,
            barrier_timeout,
            start_lead,
            shard_timeout,
            keep_serving,
        } => {
            let opts = crate::cmd::collect::CollectOptions {
                listen,
                shards,
                out,
                barrier_timeout,
                start_lead,
                shard_timeout,
                keep_serving,
                progress,
            };
            crate::cmd::collect::collect(opts, interrupts()).await
        }
        Command::Capacity {
            scenario: path,
            out,
            seed,
            capacity,
            drain,
        } => {
            let scenario = scenario::load(&path)?;
            let opts = crate::cmd::capacity::CapacityOptions {
                out,
                seed,
                quiet: progress == ProgressMode::Quiet,
                drain,
                embedded: StagingConfig {
                    capacity,
                    ..StagingConfig::default()
                },
            };
            let finished = crate::cmd::capacity::capacity(scenario, opts, interrupts()).await?;
            if let Some(steps) = crate::report::capacity::plain(&finished.result) {
                println!("{steps}");
            }
            print_finished(&finished)
        }
        Command::Validate {
            scenario: path,
            seed,
            config,
        } => {
            let scenario = scenario::load_with(&path, &config.overrides())?;
            crate::cmd::run::check_hosts(&scenario)?;
            crate::cmd::validate::check(&scenario, seed)?;
            print!("{}", crate::cmd::validate::render(&scenario, seed));
            Ok(Exit::Success)
        }
        Command::Serve {
            listen,
            capacity,
            segment_duration,
            bitrate_kbps,
            stall_every,
            stall_for,
            ll_hls,
        } => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let stall = match (stall_every, stall_for) {
                (Some(every), Some(length)) if length < every => {
                    Some(crate::staging::StallSchedule { every, length })
                }
                (Some(_), Some(_)) => {
                    anyhow::bail!("--stall-for must be shorter than --stall-every")
                }
                _ => None,
            };
            let config = StagingConfig {
                capacity,
                segment_duration,
                bitrate_kbps,
                stall,
                ll_hls,
                ..StagingConfig::default()
            };
            let addr = listener.local_addr()?;
            // One line with the address, so a script or test can read it; a closed stdout must
            // not take the server down.
            let _ = writeln!(
                std::io::stdout(),
                "peakready staging server on http://{addr}  (HLS /hls/stream.m3u8, chat ws://{addr}/chat, API /api/v1/…; Ctrl-C stops)"
            );
            // Ctrl-C or SIGTERM (a service manager, `kill PID`) stop the server gracefully.
            let mut stop = interrupts();
            let shutdown = async move {
                let _ = stop.wait_for(|n| *n >= 1).await;
            };
            crate::staging::serve(listener, config, shutdown)
                .await
                .context("staging server")?;
            Ok(Exit::Success)
        }
        Command::Quick {
            url,
            connections,
            no_keepalive,
            duration,
            rate,
            timeout,
            headers,
            insecure,
            tls_resume,
            allow_hosts,
            json,
            out,
            fail_under,
        } => {
            if crate::scenario::target::has_userinfo(&url) {
                anyhow::bail!("the URL carries credentials (`user:password@`); URLs are printed and written to results, so they are refused there (nothing was sent). Send them as a header: -H \"Authorization: Basic $TOKEN\"");
            }
            let host = url.host_str().unwrap_or_default().to_string();
            let mut allowed = vec![
                "127.0.0.1".to_string(),
                "localhost".to_string(),
                "::1".to_string(),
            ];
            allowed.extend(allow_hosts);
            let loopback = host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
            if !loopback && !crate::engine::host_allowed(&host, &allowed) {
                anyhow::bail!("host `{host}` is not loopback; nothing was sent. If this target is yours to load, pass --allow-host {host}");
            }
            if rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
                anyhow::bail!("--rate must be a positive number of requests per second");
            }
            let headers = headers
                .iter()
                .map(|h| match h.split_once(':') {
                    Some((name, value)) => Ok((name.trim().to_string(), value.trim().to_string())),
                    None => Err(anyhow::anyhow!(
                        "--header expects `Name: value`, got a header without `:`"
                    )),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let opts = crate::cmd::quick::QuickOptions {
                url,
                connections,
                keep_alive: !no_keepalive,
                duration,
                rate,
                timeout,
                insecure_tls: insecure,
                tls_resume,
                headers,
                out,
            };
            let (result, not_written) = crate::cmd::quick::run(opts, interrupts()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                println!("{}", crate::cmd::quick::render(&result));
            }
            if result.incomplete.is_some() || !not_written.is_empty() {
                eprintln!("peakready: the results directory is incomplete (exit 3)");
                return Ok(Exit::Unrecorded);
            }
            match crate::cmd::quick::failure(&result, fail_under) {
                Some(why) => {
                    eprintln!("peakready: quick failed: {why}");
                    Ok(Exit::Failed)
                }
                None => Ok(Exit::Success),
            }
        }
        Command::Report { dir } => {
            let mut result = crate::report::load(&dir)?;
            // Recompute the readiness from results.json + timeseries.csv: files from before the
            // analysis existed gain it, and a re-render always matches the current rules.
            let before = result.readiness.clone();
            crate::analysis::assess_dir(&dir, &mut result);
            if result.readiness != before {
                crate::report::write_results(&dir, &result)?;
            }
            crate::report::render_all(&dir, &result)?;
            println!("{}", crate::report::summary::render(&result));
            println!("Re-rendered the report in {}", dir.display());
            Ok(Exit::Success)
        }
        Command::Merge {
            dirs,
            out,
            allow_partial,
        } => {
            let opts = crate::cmd::merge::MergeOptions {
                dirs,
                out,
                allow_partial,
            };
            let merged = crate::cmd::merge::merge(&opts)?;
            for w in &merged.warnings {
                eprintln!("peakready: warning: {w}");
            }
            println!("{}", crate::cmd::merge::summary(&merged, &opts.out));
            Ok(Exit::Success)
        }
        Command::Compare {
            base,
            candidate,
            tolerance_pct,
            tolerance_ms,
            tolerance_error_pp,
            out,
            chart,
        } => {
            let tol = crate::report::compare::Tolerance {
                pct: tolerance_pct,
                ms: tolerance_ms,
                error_pp: tolerance_error_pp,
            };
            let c = crate::report::compare::compare_paths(&base, &candidate, tol)?;
            print!("{}", c.plain());
            if let Some(out) = &out {
                crate::report::write_atomic(out, c.markdown().as_bytes())?;
                println!("  Comparison: {}", out.display());
            }
            // An explicit --chart wins; otherwise the chart follows --out. `out.png` given as
            // --out must not be overwritten by its own chart, hence the `.chart.png` fallback.
            let chart = chart.or_else(|| {
                out.as_ref().map(|o| match o.extension() {
                    Some(e) if e.eq_ignore_ascii_case("png") => o.with_extension("chart.png"),
                    _ => o.with_extension("png"),
                })
            });
            if let Some(chart) = chart {
                if let Some(dir) = chart.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                crate::report::charts::compare::render(
                    &chart,
                    &c,
                    &crate::report::charts::compare::run_name(&base),
                    &crate::report::charts::compare::run_name(&candidate),
                )
                .with_context(|| format!("drawing {}", chart.display()))?;
                println!("  Chart: {}", chart.display());
            }
            Ok(if c.regressed() {
                Exit::Failed
            } else {
                Exit::Success
            })
        }
    }
}

async fn run_and_print(scenario: Scenario, opts: RunOptions) -> anyhow::Result<Exit> {
    for notice in scenario.notices() {
        eprintln!("notice: {notice}");
    }
    let finished = crate::cmd::run::run(scenario, opts, interrupts()).await?;
    print_finished(&finished)
}

fn print_finished(finished: &crate::cmd::run::Finished) -> anyhow::Result<Exit> {
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
    Ok(match finished.outcome {
        Outcome::Passed => Exit::Success,
        Outcome::SloFailed | Outcome::Aborted => Exit::Failed,
        Outcome::Unrecorded => Exit::Unrecorded,
    })
}

/// `--region-shards eu=4,sea=2`.
fn parse_layout(text: &str) -> anyhow::Result<Vec<(String, u64)>> {
    text.split(',')
        .map(|part| {
            let (name, n) = part.split_once('=').with_context(|| {
                format!("--region-shards: `{part}` is not REGION=N (e.g. eu=4,sea=2)")
            })?;
            let n: u64 = n.trim().parse().with_context(|| {
                format!("--region-shards: `{n}` in `{part}` is not a count (e.g. eu=4,sea=2)")
            })?;
            Ok((name.trim().to_string(), n))
        })
        .collect()
}
