//! `peakready quick URL`: the stages of a one-endpoint run. Measurement goes through the same
//! `Session`, recorder and `RunResult` as `run`; only the workload differs (engine::quick).

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use url::Url;

use super::Exit;
use crate::engine::quick::{self, QuickConfig};
use crate::metrics::result::ScenarioInfo;
use crate::metrics::{Recording, RunHead, RunResult};
use crate::plan::PlannedPhase;
use crate::protocol::http::ClientConfig;

pub struct QuickOptions {
    pub url: Url,
    pub connections: usize,
    /// `false`: a new connection for every request (`--no-keepalive`).
    pub keep_alive: bool,
    pub duration: Duration,
    pub rate: Option<f64>,
    pub timeout: Duration,
    pub insecure_tls: bool,
    /// `--tls-resume`: resume TLS sessions across new connections.
    pub tls_resume: bool,
    pub headers: Vec<(String, String)>,
    pub out: Option<PathBuf>,
    /// `--json`: print results.json instead of the table.
    pub json: bool,
    /// `--fail-under`: the share of completed requests that must succeed.
    pub fail_under: Option<f64>,
}

/// Refuses a target before anything is sent: credentials in the URL (URLs are printed and
/// written to results), or a host that is neither loopback nor in `allow_hosts`.
pub fn check_target(url: &Url, allow_hosts: Vec<String>) -> anyhow::Result<()> {
    if crate::scenario::target::has_userinfo(url) {
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
    Ok(())
}

/// The `quick` verb: the measurement, then the table (or results.json with `--json`); exit 3
/// when the results directory is incomplete, 1 when too few requests succeeded.
pub async fn run(opts: QuickOptions, interrupts: watch::Receiver<u32>) -> anyhow::Result<Exit> {
    let (json, fail_under) = (opts.json, opts.fail_under);
    let (result, not_written) = measure(opts, interrupts).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!("{}", render(&result));
    }
    if result.incomplete.is_some() || !not_written.is_empty() {
        eprintln!("peakready: the results directory is incomplete (exit 3)");
        return Ok(Exit::Unrecorded);
    }
    match failure(&result, fail_under) {
        Some(why) => {
            eprintln!("peakready: quick failed: {why}");
            Ok(Exit::Failed)
        }
        None => Ok(Exit::Success),
    }
}

/// Measures `quick`; with `--out`, also returns the results files that could not be written.
pub async fn measure(
    opts: QuickOptions,
    interrupts: watch::Receiver<u32>,
) -> anyhow::Result<(RunResult, Vec<(String, String)>)> {
    let config = workload(&opts)?;
    let phase = PlannedPhase {
        name: "steady".into(),
        start_s: 0.0,
        duration_s: opts.duration.as_secs_f64(),
        joins_per_sec: 0.0,
        ramp_to: None,
        capped: false,
    };
    let open_files_limit = crate::sysinfo::raise_open_files_limit();
    let recording = Recording::start(
        opts.out.as_deref(),
        vec!["quick".to_string()],
        std::slice::from_ref(&phase),
        open_files_limit,
        Utc::now(),
        None,
        None,
    )?;
    let (start, started_at) = (recording.start, recording.started_at);
    let handshakes = config.client.clone();
    let outcome = quick::run(
        config,
        start,
        recording.handle.clone(),
        interrupts,
        recording.runtimes(),
    )
    .await?;
    let measured = recording.finish(outcome.elapsed).await?;
    let head = RunHead {
        scenario: scenario_info(&opts),
        seed: 0,
        started_at,
        ended_at: Utc::now(),
        duration_s: outcome.elapsed.as_secs_f64(),
        planned_duration_s: opts.duration.as_secs_f64(),
        status: outcome.status,
        status_reason: outcome.reason,
        phases: vec![phase],
        notices: crate::cmd::run::tls_notice(handshakes.handshakes(), opts.tls_resume)
            .into_iter()
            .chain(notices(&opts))
            .collect(),
        shard: None,
        merge: None,
    };
    let mut result = RunResult::new(head, measured);
    crate::analysis::judge(&mut result, None);
    let not_written = match &opts.out {
        Some(dir) => crate::cmd::run::record(dir, &result),
        None => Vec::new(),
    };
    Ok((result, not_written))
}

fn workload(opts: &QuickOptions) -> anyhow::Result<QuickConfig> {
    // A few connections each sending back to back: keeping their read buffers saves an
    // allocation per request.
    let mut client = ClientConfig::new(opts.timeout, opts.insecure_tls, &opts.headers)
        .map_err(|e| anyhow::anyhow!("--header: {e}"))?
        .keeping_read_buffers();
    if !opts.keep_alive {
        client = client.closing_connections();
    }
    if opts.tls_resume {
        client = client
            .resuming_tls_sessions()
            .map_err(|e| anyhow::anyhow!("--tls-resume: {e}"))?;
    }
    Ok(QuickConfig {
        url: opts.url.clone(),
        client,
        connections: opts.connections,
        duration: opts.duration,
        rate: opts.rate,
    })
}

fn scenario_info(opts: &QuickOptions) -> ScenarioInfo {
    let host = opts.url.host_str().unwrap_or_default();
    ScenarioInfo {
        name: format!("quick {host}"),
        description: Some(format!(
            "GET {} with {} {} for {:.0} s{}",
            opts.url,
            opts.connections,
            if opts.keep_alive {
                "keep-alive connections"
            } else {
                "concurrent connections, a new one per request,"
            },
            opts.duration.as_secs_f64(),
            opts.rate
                .map(|r| format!(" at {r} req/s"))
                .unwrap_or_default()
        )),
        source: "quick".into(),
        scale: 1.0,
        max_viewers: opts.connections as u64,
        max_joins_per_sec: 0.0,
        target: opts.url.to_string(),
        slo: Vec::new(),
        resolved: None,
    }
}

fn notices(opts: &QuickOptions) -> Vec<String> {
    let mut notices = Vec::new();
    if opts.rate.is_none() {
        notices.push(
            "closed model: each connection waits for its previous response, so latency excludes \
             queueing (coordinated omission affects these percentiles); use --rate for corrected latency"
                .to_string(),
        );
    }
    notices
}

/// Completed requests that succeeded, and those completed (cut requests never completed).
pub fn successes(r: &RunResult) -> (u64, u64) {
    let o = &r.overall;
    let failed: u64 = o
        .errors
        .iter()
        .filter(|(k, _)| k.is_request())
        .map(|(_, v)| v)
        .sum();
    (o.requests.saturating_sub(failed), o.requests)
}

/// Why `quick` fails (exit 1): no request succeeded, or fewer than `--fail-under` did.
pub fn failure(r: &RunResult, fail_under: Option<f64>) -> Option<String> {
    let (ok, completed) = successes(r);
    if ok == 0 {
        let cut = r
            .overall
            .errors
            .get(&crate::metrics::ErrorKind::Cut)
            .copied()
            .unwrap_or(0);
        return Some(match (completed, cut) {
            (0, 0) => "no request completed".to_string(),
            (0, cut) => format!("no request completed: {cut} were still waiting for an answer when the run ended, and were cut"),
            (n, 0) => format!("no request succeeded: all {n} completed requests failed"),
            (n, cut) => format!("no request succeeded: all {n} completed requests failed, {cut} more were cut at the end"),
        });
    }
    let min = fail_under?;
    let share = ok as f64 / completed as f64;
    (share < min).then(|| {
        format!(
            "{} of completed requests succeeded, under --fail-under {}",
            crate::format::pct(share),
            crate::format::pct(min)
        )
    })
}

/// The terminal summary for `quick`: throughput, errors, and a percentile table.
pub fn render(r: &RunResult) -> String {
    use crate::format;
    let o = &r.overall;
    let (ok, completed) = successes(r);
    let mut out = format!(
        "{}\n  requests  {} in {} = {} req/s   success {}\n",
        r.scenario.description.as_deref().unwrap_or("quick"),
        format::count(o.requests as f64),
        format::secs(r.duration_s),
        format::num(o.requests as f64 / r.duration_s.max(1e-9)),
        if completed == 0 {
            "–".to_string()
        } else {
            format::pct(ok as f64 / completed as f64)
        },
    );
    if let Some(reason) = &r.status_reason {
        out.push_str(&format!("  stopped   {reason}\n"));
    }
    if !o.errors.is_empty() {
        let errs: Vec<String> = o
            .errors
            .iter()
            .map(|(k, v)| format!("{k} {}", format::count(*v as f64)))
            .collect();
        out.push_str(&format!("  errors    {}\n", errs.join(", ")));
        for (class, detail) in &r.error_details {
            out.push_str(&format!("            {class}: {detail}\n"));
        }
    }
    if let Some(t) = crate::report::markdown::latency_table(o) {
        out.push('\n');
        out.push_str(&t.plain());
    }
    for n in &r.notices {
        out.push_str(&format!("\n  note: {n}\n"));
    }
    out
}
