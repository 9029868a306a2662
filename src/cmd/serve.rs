//! `serve` as a list of stages: bind → say where (one line on stdout, for scripts and tests) →
//! the embedded staging server until `shutdown` (Ctrl-C or SIGTERM) completes.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use super::Exit;
use crate::staging::{StagingConfig, StallSchedule};

/// How `serve` was asked to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Concurrent viewers before answering 503; unlimited when absent.
    pub capacity: Option<u64>,
    pub segment_duration: Duration,
    /// Bitrate of the lowest rendition.
    pub bitrate_kbps: u32,
    /// `--stall-every` and `--stall-for`: the whole server stalls on a known schedule.
    pub stall_every: Option<Duration>,
    pub stall_for: Option<Duration>,
    /// `--segment-delay`: every media segment is answered this late.
    pub segment_delay: Duration,
    pub ll_hls: bool,
}

pub async fn run(
    opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Exit> {
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("binding {}", opts.listen))?;
    let stall = match (opts.stall_every, opts.stall_for) {
        (Some(every), Some(length)) if length < every => Some(StallSchedule { every, length }),
        (Some(_), Some(_)) => {
            anyhow::bail!("--stall-for must be shorter than --stall-every")
        }
        _ => None,
    };
    let config = StagingConfig {
        capacity: opts.capacity,
        segment_duration: opts.segment_duration,
        bitrate_kbps: opts.bitrate_kbps,
        stall,
        segment_delay: opts.segment_delay,
        ll_hls: opts.ll_hls,
        ..StagingConfig::default()
    };
    let addr = listener.local_addr()?;
    // One line with the address, so a script or test can read it; a closed stdout must
    // not take the server down.
    let _ = writeln!(
        std::io::stdout(),
        "peakready staging server on http://{addr}  (HLS /hls/stream.m3u8, chat ws://{addr}/chat, API /api/v1/…; Ctrl-C stops)"
    );
    crate::staging::serve(listener, config, shutdown)
        .await
        .context("staging server")?;
    Ok(Exit::Success)
}
