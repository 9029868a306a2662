//! The command line: clap derive, one `Command` per verb, and the dispatch to library stages.
//! No measurement logic lives here.

use std::path::PathBuf;
use std::time::Duration;

use std::io::Write;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use crate::engine::progress::ProgressMode;
use crate::run::{Outcome, RunOptions};
use crate::scenario::{self, Scenario};
use crate::staging::StagingConfig;

/// Rehearse a live-streaming platform's peak night: simulated viewers join live streams from
/// several regions; peakready measures what they get and says whether you are ready.
#[derive(Debug, Parser)]
#[command(name = "peakready", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No progress display (results and errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Worker threads of the generator (default: one per core). Fewer threads make the
    /// generator, not the target, the bottleneck sooner — reports say so when it happens.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the embedded staging server and run scenarios/demo.yaml against it (about a minute).
    Demo {
        /// Results directory (default: reports/demo-<utc time>/).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Seed for every random draw (arrival jitter, watch times).
        #[arg(long, value_name = "S")]
        seed: Option<u64>,
        /// Concurrent viewers the embedded server holds before answering 503.
        #[arg(long, value_name = "N")]
        capacity: Option<u64>,
    },
    /// Run a scenario: exit 0 when every SLO passed, 1 when one failed or the run aborted, 2 on bad input.
    Run {
        #[arg(value_name = "SCENARIO")]
        scenario: PathBuf,
        /// Results directory (default: reports/<scenario name>-<utc time>/).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Seed for every random draw; the seed of a past run (results.json) replays its plan.
        #[arg(long, value_name = "S")]
        seed: Option<u64>,
        /// When the scenario targets `embedded`: concurrent viewers the server holds before 503.
        #[arg(long, value_name = "N")]
        capacity: Option<u64>,
        /// How long in-flight viewers may finish after the plan ends or Ctrl-C.
        #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_arg)]
        drain: Duration,
        /// Run only slice I of N of the plan (one of N processes or machines; same seed for all).
        #[arg(long, value_name = "I/N")]
        shard: Option<crate::plan::Shard>,
        /// When the scenario targets `embedded`: serve Low-Latency HLS.
        #[arg(long)]
        ll_hls: bool,
    },
    /// Parse and check a scenario and print the resolved plan: exit 0 when valid, 2 when not.
    Validate {
        #[arg(value_name = "SCENARIO")]
        scenario: PathBuf,
        /// Seed used for the plan (only matters for the sample counts).
        #[arg(long, value_name = "S", default_value_t = 1)]
        seed: u64,
    },
    /// Run the embedded staging server alone (token/room API, live HLS, WebSocket chat).
    Serve {
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Concurrent viewers (open connections) before answering 503; unlimited when absent.
        #[arg(long, value_name = "N")]
        capacity: Option<u64>,
        /// HLS segment duration.
        #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration_arg)]
        segment_duration: Duration,
        /// Bitrate of the lowest rendition (the others are 3× and 8×).
        #[arg(long, value_name = "KBPS", default_value_t = 400)]
        bitrate_kbps: u32,
        /// Stall the whole server for `--stall-for` every this often (a known schedule to check
        /// coordinated-omission correction against).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, requires = "stall_for")]
        stall_every: Option<Duration>,
        /// How long each stall lasts.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, requires = "stall_every")]
        stall_for: Option<Duration>,
        /// Serve Low-Latency HLS (parts, preload hints, blocking playlist reload).
        #[arg(long)]
        ll_hls: bool,
    },
    /// Load one URL with N keep-alive connections (like wrk/oha), same timing and percentiles as `run`.
    Quick {
        #[arg(value_name = "URL")]
        url: url::Url,
        /// Keep-alive connections.
        #[arg(long, short = 'c', value_name = "N", default_value_t = 50)]
        connections: usize,
        /// How long to send requests.
        #[arg(long, short = 'z', value_name = "DURATION", default_value = "10s", value_parser = parse_duration_arg)]
        duration: Duration,
        /// Requests per second across all connections (open model, coordinated-omission corrected).
        #[arg(long, short = 'r', value_name = "REQ_PER_S")]
        rate: Option<f64>,
        /// Per-request timeout.
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration_arg)]
        timeout: Duration,
        /// Extra header, `Name: value` (repeatable).
        #[arg(long = "header", short = 'H', value_name = "HEADER")]
        headers: Vec<String>,
        /// Accept any TLS certificate (self-signed staging).
        #[arg(long)]
        insecure: bool,
        /// Host to allow besides loopback (load goes only to allowed hosts).
        #[arg(long = "allow-host", value_name = "HOST")]
        allow_hosts: Vec<String>,
        /// Print results.json to stdout instead of the table.
        #[arg(long)]
        json: bool,
        /// Also write a results directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Re-render every report file from a results directory.
    Report {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Merge the results directories of `run --shard I/N` processes into one results directory
    /// (histograms added, never percentiles averaged) and render every report from it.
    Merge {
        /// The shards' results directories (one per `--shard I/N`, any order).
        #[arg(value_name = "DIR", required = true, num_args = 1..)]
        dirs: Vec<PathBuf>,
        /// Merged results directory to create (it must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Merge the shards present when some are missing; results.json and the report then
        /// say which are missing.
        #[arg(long)]
        allow_partial: bool,
    },
    /// Compare two runs (results directories or results.json files): exit 1 on a regression.
    Compare {
        #[arg(value_name = "BASE")]
        base: PathBuf,
        #[arg(value_name = "CANDIDATE")]
        candidate: PathBuf,
        /// A latency is a regression only when worse by more than this percentage…
        #[arg(long, value_name = "PCT", default_value_t = 10.0)]
        tolerance_pct: f64,
        /// …and by more than this many milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 5.0)]
        tolerance_ms: f64,
        /// An error rate is a regression when up by more than this many percentage points.
        #[arg(long, value_name = "PP", default_value_t = 1.0)]
        tolerance_error_pp: f64,
        /// Also write the comparison as Markdown to this file (and, unless `--chart` says
        /// otherwise, the chart next to it as `<stem>.png`).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Write the comparison chart (1600×900 PNG) to FILE; `--chart` without a value writes
        /// `compare.png`. Without `--chart` a chart is written only beside `--out`. Give the value
        /// after the two runs or as `--chart=FILE`, since a bare `--chart BASE` takes BASE as FILE.
        #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "compare.png")]
        chart: Option<PathBuf>,
    },
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    scenario::duration::parse_duration(text)
}

/// What `main` maps onto an exit code.
pub enum Exit {
    Success,
    /// An SLO failed or the run aborted.
    Failed,
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
            tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_err() { return },
                _ = term_signal => {}
            }
            eprintln!("\npeakready: stopping: no new work starts; in-flight work drains (Ctrl-C again skips the drain, a third time exits at once)");
            tx.send_modify(|n| *n += 1);
            if *tx.borrow() >= 3 {
                // Whatever is stuck (a publisher, a server shutdown, a chart), the user asked
                // three times: results written so far stay on disk.
                eprintln!("peakready: stopping now (third Ctrl-C)");
                std::process::exit(130);
            }
        }
    });
    rx
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
            ll_hls,
        } => {
            let scenario = scenario::load(&path)?;
            let embedded = StagingConfig {
                capacity,
                ll_hls,
                ..StagingConfig::default()
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
            };
            run_and_print(scenario, opts).await
        }
        Command::Validate {
            scenario: path,
            seed,
        } => {
            let scenario = scenario::load(&path)?;
            crate::run::check_hosts(&scenario)?;
            print!("{}", crate::validate::render(&scenario, seed));
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
            duration,
            rate,
            timeout,
            headers,
            insecure,
            allow_hosts,
            json,
            out,
        } => {
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
            let opts = crate::quick::QuickOptions {
                url,
                connections,
                duration,
                rate,
                timeout,
                insecure_tls: insecure,
                headers,
                out,
            };
            let result = crate::quick::run(opts, interrupts()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                println!("{}", crate::quick::render(&result));
            }
            Ok(Exit::Success)
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
            let opts = crate::merge::MergeOptions {
                dirs,
                out,
                allow_partial,
            };
            let merged = crate::merge::merge(&opts)?;
            for w in &merged.warnings {
                eprintln!("peakready: warning: {w}");
            }
            println!("{}", crate::merge::summary(&merged, &opts.out));
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
    let finished = crate::run::run(scenario, opts, interrupts()).await?;
    let r = &finished.result;
    println!("\n{}", crate::report::summary::render(r));
    if let Some(reason) = &r.status_reason {
        println!("  {reason}");
    }
    println!("  Report: {}", finished.dir.join("report.md").display());
    Ok(match finished.outcome {
        Outcome::Passed => Exit::Success,
        Outcome::SloFailed | Outcome::Aborted => Exit::Failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse_on_the_command_line() {
        let cli = Cli::parse_from(["peakready", "run", "x.yaml", "--drain", "1m30s"]);
        match cli.command {
            Command::Run { drain, .. } => assert_eq!(drain, Duration::from_secs(90)),
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["peakready", "run", "x.yaml", "--drain", "5 min"]).is_err());
    }

    #[test]
    fn merge_takes_several_dirs_and_needs_out() {
        let cli = Cli::parse_from(["peakready", "merge", "a", "b", "--out", "m"]);
        match cli.command {
            Command::Merge {
                dirs,
                out,
                allow_partial,
            } => {
                assert_eq!(dirs, vec![PathBuf::from("a"), PathBuf::from("b")]);
                assert_eq!(out, PathBuf::from("m"));
                assert!(!allow_partial);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["peakready", "merge", "a", "b"]).is_err());
        assert!(Cli::try_parse_from(["peakready", "merge", "--out", "m"]).is_err());
    }
}
