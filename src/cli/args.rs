//! The verbs and their options (clap derive). `--help` text is written here.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::scenario;

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
    Demo(DemoArgs),
    /// Run a scenario: exit 0 when every SLO passed, 1 when one failed or the run aborted, 2 on bad input.
    Run(RunArgs),
    /// Search for the knee: steps of rising load (the scenario's `search:` block) until one fails,
    /// bisection to the block's precision, then a hold at the highest pass. Exit 0 when a
    /// capacity was found and the event is not NOT READY, 1 otherwise, 2 on bad input.
    Capacity(CapacityArgs),
    /// Parse and check a scenario and print the resolved plan: exit 0 when valid, 2 when not.
    Validate(ValidateArgs),
    /// Run the embedded staging server alone (token/room API, live HLS, WebSocket chat).
    Serve(ServeArgs),
    /// Load one URL with N keep-alive connections (like wrk/oha), same timing and percentiles as `run`.
    Quick(QuickArgs),
    /// Re-render every report file from a results directory.
    Report {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Merge the results directories of `run --shard I/N` processes into one results directory
    /// (histograms added, never percentiles averaged) and render every report from it.
    Merge(MergeArgs),
    /// Write Kubernetes manifests for a sharded run (`kubectl apply -f DIR`); see docs/kubernetes.md.
    K8s {
        #[command(subcommand)]
        action: K8sAction,
    },
    /// Collect a sharded run: start barrier, live merged progress (SLO gates so far, `abort_when`),
    /// one merged results directory.
    /// Exit 0 when every shard finished and every SLO passed, 1 otherwise (a missing shard
    /// included), 2 on bad input.
    Collect(CollectArgs),
    /// Compare two runs (results directories or results.json files): exit 1 on a regression.
    Compare(CompareArgs),
}

#[derive(Debug, Subcommand)]
pub enum K8sAction {
    /// Write the manifests: scenario ConfigMap, Indexed Job of generator pods (one shard each),
    /// collector Deployment + Service; Secret references for the scenario's `${VAR}`s.
    Render(RenderArgs),
}

// Each verb's flags, in `Command`'s order; their doc comments are the `--help` text.

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Results directory (default: reports/demo-<utc time>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed for every random draw (arrival jitter, watch times).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Concurrent viewers the embedded server holds before answering 503.
    #[arg(long, value_name = "N")]
    pub capacity: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Results directory (default: reports/<scenario name>-<utc time>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed for every random draw; the seed of a past run (results.json) replays its plan.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// When the scenario targets `embedded`: concurrent viewers the server holds before 503.
    #[arg(long, value_name = "N")]
    pub capacity: Option<u64>,
    /// How long in-flight viewers may finish after the plan ends or Ctrl-C.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_arg)]
    pub drain: Duration,
    /// Run only slice I of N of the plan (one of N processes or machines; same seed for all).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// What the I of `--shard I/N` counts from: 1, or 0 for a Kubernetes Indexed Job's
    /// `$(JOB_COMPLETION_INDEX)`. Results always name shards from 1.
    #[arg(long, value_name = "0|1", default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=1), requires = "shard")]
    pub shard_base: u64,
    /// A `peakready collect` to register with: wait at its start barrier, stream each closed
    /// second to it, hand it the results, stop when it says so.
    #[arg(long, value_name = "URL", conflicts_with = "start_at")]
    pub collector: Option<url::Url>,
    /// Start the plan at this instant (RFC 3339, e.g. 2026-12-02T20:00:00Z) instead of at
    /// once: shards started on several machines then share time zero.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Run only this region's viewers (generators placed in the region, `k8s render
    /// --per-region`); `--shard I/N` then slices that region among its own N shards.
    #[arg(long, value_name = "NAME", requires_all = ["shard", "region_shards"])]
    pub region: Option<String>,
    /// Every region's shard count (`eu=4,sea=2`), so this process knows its place among
    /// all shards of the run.
    #[arg(long, value_name = "REGION=N,…", requires = "region")]
    pub region_shards: Option<String>,
    /// When the scenario targets `embedded`: serve Low-Latency HLS.
    #[arg(long)]
    pub ll_hls: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Debug, clap::Args)]
pub struct CapacityArgs {
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Results directory (default: reports/<scenario name>-<utc time>/); steps go in steps/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed for every random draw (step N uses seed + N).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// When the scenario targets `embedded`: concurrent viewers the server holds before 503.
    #[arg(long, value_name = "N")]
    pub capacity: Option<u64>,
    /// How long a step's in-flight viewers may finish after its window.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration_arg)]
    pub drain: Duration,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Seed used for the plan (only matters for the sample counts).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Concurrent viewers (open connections) before answering 503; unlimited when absent.
    #[arg(long, value_name = "N")]
    pub capacity: Option<u64>,
    /// HLS segment duration.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration_arg)]
    pub segment_duration: Duration,
    /// Bitrate of the lowest rendition (the others are 3× and 8×).
    #[arg(long, value_name = "KBPS", default_value_t = 400)]
    pub bitrate_kbps: u32,
    /// Stall the whole server for `--stall-for` every this often (a known schedule to check
    /// coordinated-omission correction against).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, requires = "stall_for")]
    pub stall_every: Option<Duration>,
    /// How long each stall lasts.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, requires = "stall_every")]
    pub stall_for: Option<Duration>,
    /// Answer every media segment this late: a slow origin or CDN behind whatever network the
    /// viewers have (their reports then tell its stalls from a thin emulated link's).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration_arg)]
    pub segment_delay: Duration,
    /// Serve Low-Latency HLS (parts, preload hints, blocking playlist reload).
    #[arg(long)]
    pub ll_hls: bool,
}

#[derive(Debug, clap::Args)]
pub struct QuickArgs {
    #[arg(value_name = "URL")]
    pub url: url::Url,
    /// Concurrent connections (each keep-alive unless --no-keepalive).
    #[arg(long, short = 'c', value_name = "N", default_value_t = 50)]
    pub connections: usize,
    /// Open a new connection for every request and send `Connection: close` (like oha's
    /// --disable-keepalive, wrk -H "Connection: close"): every request's connect time is in
    /// the table.
    #[arg(long)]
    pub no_keepalive: bool,
    /// How long to send requests.
    #[arg(long, short = 'z', value_name = "DURATION", default_value = "10s", value_parser = parse_duration_arg)]
    pub duration: Duration,
    /// Requests per second across all connections (open model, coordinated-omission corrected).
    #[arg(long, short = 'r', value_name = "REQ_PER_S")]
    pub rate: Option<f64>,
    /// Per-request timeout.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration_arg)]
    pub timeout: Duration,
    /// Extra header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Accept any TLS certificate (self-signed staging).
    #[arg(long)]
    pub insecure: bool,
    /// New TLS connections resume an earlier session (like h2load) instead of a full
    /// handshake each; the JSON notices say how many the server resumed.
    #[arg(long)]
    pub tls_resume: bool,
    /// Host to allow besides loopback (load goes only to allowed hosts).
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Print results.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write a results directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Exit 1 when fewer than this fraction of completed requests succeeded (e.g. 0.99).
    /// Without it, `quick` exits 1 only when no request succeeded.
    #[arg(long, value_name = "FRACTION", value_parser = parse_fraction)]
    pub fail_under: Option<f64>,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' results directories (one per `--shard I/N`, any order).
    #[arg(value_name = "DIR", required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Merged results directory to create (it must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Merge the shards present when some are missing; results.json and the report then
    /// say which are missing.
    #[arg(long)]
    pub allow_partial: bool,
}

#[derive(Debug, clap::Args)]
pub struct CollectArgs {
    /// Address shards reach this collector at.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7000")]
    pub listen: std::net::SocketAddr,
    /// How many shards (`--shard I/N`'s N, all jobs together).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub shards: u64,
    /// Merged results directory to create (it must not exist, or be empty); the shards'
    /// streamed files are kept in DIR/shards/I/.
    #[arg(long, value_name = "DIR")]
    pub out: std::path::PathBuf,
    /// Release the shards that registered this long after the first one did, naming the
    /// missing ones (the run is then partial).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration_arg)]
    pub barrier_timeout: Duration,
    /// Time between "everyone is here" and the shared start, so every shard hears it first.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration_arg)]
    pub start_lead: Duration,
    /// A running shard silent this long is counted as lost.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration_arg)]
    pub shard_timeout: Duration,
    /// After writing the results, keep serving them (GET /v1/results) until stopped: for
    /// a collector in a Deployment, which restarts whatever exits.
    #[arg(long)]
    pub keep_serving: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    #[arg(value_name = "BASE")]
    pub base: PathBuf,
    #[arg(value_name = "CANDIDATE")]
    pub candidate: PathBuf,
    /// A latency is a regression only when worse by more than this percentage…
    #[arg(long, value_name = "PCT", default_value_t = 10.0)]
    pub tolerance_pct: f64,
    /// …and by more than this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5.0)]
    pub tolerance_ms: f64,
    /// An error rate is a regression when up by more than this many percentage points.
    #[arg(long, value_name = "PP", default_value_t = 1.0)]
    pub tolerance_error_pp: f64,
    /// Also write the comparison as Markdown to this file (and, unless `--chart` says
    /// otherwise, the chart next to it as `<stem>.png`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the comparison chart (1600×900 PNG) to FILE; `--chart` without a value writes
    /// `compare.png`. Without `--chart` a chart is written only beside `--out`. Give the value
    /// after the two runs or as `--chart=FILE`, since a bare `--chart BASE` takes BASE as FILE.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "compare.png")]
    pub chart: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Generator pods (shards).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub shards: u64,
    /// Container image holding peakready (see Dockerfile).
    #[arg(long, value_name = "IMAGE")]
    pub image: String,
    /// Namespace of every object (a Namespace manifest is written too).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Directory to write the manifests to (it must not exist, or be empty); stdout when absent.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed of the plan every pod draws (random when absent; written into the Job).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// URL pods reach the collector at (default: its Service in the cluster).
    #[arg(long, value_name = "URL")]
    pub collector_url: Option<String>,
    /// One Indexed Job per region, its pods placed by `regions[].placement` and running only
    /// that region's viewers (`run --region NAME`); pods per region from
    /// `placement.shards`, else `--shards` split by weight.
    #[arg(long)]
    pub per_region: bool,
}

fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}: expected an RFC 3339 instant like 2026-12-02T20:00:00Z"))
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "expected a fraction between 0 and 1 (e.g. 0.99), got `{s}`"
        )),
    }
}

/// Watching a run while it happens.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LiveArgs {
    /// Serve Prometheus/OpenMetrics exposition at http://ADDR/metrics during the run (and 3 s
    /// after): viewers in flight, joins, failures by class, requests, latency histograms and
    /// the last second's HDR p50/p95/p99, per region and phase.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Append one JSON object per closed second to FILE (per region: viewers in flight,
    /// arrivals, joins, failures by class, requests, latency percentiles).
    #[arg(long, value_name = "FILE")]
    pub json_lines: Option<PathBuf>,
}

/// Configuration from outside the scenario file (`run` and `validate`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// Override one key of the scenario, like `load.scale=0.1` or
    /// `target.base_url=https://staging-2.example` (repeatable; checked like the file).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Read `NAME=value` lines for `${NAME}` in the scenario (repeatable; these win over the
    /// process environment, the last file over earlier ones).
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
}

impl ConfigArgs {
    pub fn overrides(self) -> scenario::Overrides {
        scenario::Overrides {
            sets: self.set,
            env_files: self.env_file,
        }
    }
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    scenario::duration::parse_duration(text)
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
            Command::Run(RunArgs { drain, .. }) => assert_eq!(drain, Duration::from_secs(90)),
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["peakready", "run", "x.yaml", "--drain", "5 min"]).is_err());
    }

    #[test]
    fn merge_takes_several_dirs_and_needs_out() {
        let cli = Cli::parse_from(["peakready", "merge", "a", "b", "--out", "m"]);
        match cli.command {
            Command::Merge(MergeArgs {
                dirs,
                out,
                allow_partial,
            }) => {
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
