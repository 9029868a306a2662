//! The shard's side: wait for the shared start (`--start-at` or the collector's barrier), then
//! stream the closed seconds the recorder wrote to disk, and hand over results.json at the end.
//!
//! Streaming reads back what the recorder already flushed to `timeseries.csv` and
//! `histograms.hlog` (whole lines only): the files on disk stay the one record of the run, and
//! the collector's copy is byte for byte the shard's own.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{oneshot, watch};
use url::Url;

use super::proto::{Data, DataReply, Identity, Refusal, Register, RegisterReply};
use super::StartGate;
use crate::plan::Shard;

/// How long a shard keeps trying to reach a collector that is not up yet (its pod may start
/// after the generators').
const REACH_FOR: Duration = Duration::from_secs(300);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Time zero of the run, as agreed.
pub struct Started {
    /// The shared instant (the plan's second 0 on every shard).
    pub at: DateTime<Utc>,
    /// The same instant on this process's monotonic clock; `None` for "now", which the caller
    /// takes as late as it can (just before the recorder starts), so setup is not counted as lag.
    pub zero: Option<Instant>,
    pub link: Option<Link>,
}

/// A registered shard's connection to its collector.
pub struct Link {
    url: Url,
    index: u64,
    attempt: String,
    wake_late_ms: f64,
    stop_tx: watch::Sender<Option<String>>,
    stop_rx: watch::Receiver<Option<String>>,
}

enum PostError {
    Refused(String),
    Unreachable(anyhow::Error),
}

/// Wait until the run may start. `identity` is only built when a collector is used.
pub async fn wait_for_start(
    gate: &StartGate,
    shard: Option<Shard>,
    identity: impl FnOnce() -> Identity,
    mut interrupts: watch::Receiver<u32>,
) -> anyhow::Result<Started> {
    let (at, link) = match gate {
        StartGate::Now => {
            return Ok(Started {
                at: Utc::now(),
                zero: None,
                link: None,
            })
        }
        StartGate::At(at) => {
            let late = (Utc::now() - *at).num_milliseconds();
            if late > 1000 {
                bail!(
                    "--start-at {} was {:.1} s ago; give an instant in the future (every shard the same)",
                    at.to_rfc3339(),
                    late as f64 / 1000.0
                );
            }
            if late < 0 {
                eprintln!(
                    "peakready: waiting until {} (--start-at) to start",
                    at.to_rfc3339()
                );
            }
            (*at, None)
        }
        StartGate::Collector(url) => {
            let shard = shard.context(
                "--collector needs --shard I/N (and --seed): the collector merges the slices of one plan",
            )?;
            if url.scheme() != "http" {
                bail!("--collector {url}: only http:// collectors are supported (the collector runs beside the shards, e.g. a Kubernetes Service)");
            }
            let attempt = format!(
                "{:016x}",
                rand::random::<u64>() ^ u64::from(std::process::id())
            );
            let register = Register {
                index: shard.index,
                attempt: attempt.clone(),
                identity: identity(),
            };
            let at = tokio::select! {
                at = register_until_released(url, &register) => at?,
                Ok(_) = interrupts.wait_for(|n| *n >= 1) => bail!("interrupted while waiting at the collector's start barrier; nothing was sent"),
            };
            let (stop_tx, stop_rx) = watch::channel(None);
            let link = Link {
                url: url.clone(),
                index: shard.index,
                attempt,
                wake_late_ms: 0.0,
                stop_tx,
                stop_rx,
            };
            (at, Some(link))
        }
    };
    // Time zero on the monotonic clock: the shared instant, however late this process wakes.
    let ahead = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    let behind = (Utc::now() - at).to_std().unwrap_or(Duration::ZERO);
    let now = Instant::now();
    let zero = (now + ahead).checked_sub(behind).unwrap_or(now);
    tokio::select! {
        _ = tokio::time::sleep_until(zero.into()) => {}
        Ok(_) = interrupts.wait_for(|n| *n >= 1) => bail!("interrupted while waiting for the start; nothing was sent"),
    }
    let wake_late_ms = (Utc::now() - at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
    let link = link.map(|l| Link { wake_late_ms, ..l });
    Ok(Started {
        at,
        zero: Some(zero),
        link,
    })
}

async fn register_until_released(url: &Url, register: &Register) -> anyhow::Result<DateTime<Utc>> {
    let first = Instant::now();
    let mut said_waiting = false;
    let mut last_complaint = None::<Instant>;
    loop {
        match post::<_, RegisterReply>(url, "/v1/register", register).await {
            Ok(RegisterReply {
                start_at: Some(at), ..
            }) => return Ok(at),
            Ok(reply) => {
                if !said_waiting {
                    eprintln!(
                        "peakready: shard {} registered with the collector at {url}; waiting for the start barrier ({} of {} here)",
                        register.index, reply.registered, reply.expected
                    );
                    said_waiting = true;
                }
            }
            Err(PostError::Refused(why)) => bail!(
                "the collector at {url} refused shard {}: {why}",
                register.index
            ),
            Err(PostError::Unreachable(e)) => {
                if first.elapsed() > REACH_FOR {
                    bail!(
                        "the collector at {url} could not be reached for {} s: {e:#}",
                        REACH_FOR.as_secs()
                    );
                }
                if last_complaint.map_or(true, |t| t.elapsed() > Duration::from_secs(10)) {
                    eprintln!("peakready: collector at {url} not reachable yet ({e:#}); retrying");
                    last_complaint = Some(Instant::now());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Link {
    /// A watch of the collector's stop request (the reason), for the engine's interrupt count.
    pub fn merge_interrupts(&self, mut interrupts: watch::Receiver<u32>) -> watch::Receiver<u32> {
        let (tx, rx) = watch::channel(*interrupts.borrow());
        let mut stop = self.stop_rx.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = interrupts.changed() => {
                        if changed.is_err() { return; }
                        let n = *interrupts.borrow();
                        tx.send_modify(|c| *c = (*c).max(n));
                    }
                    changed = stop.changed() => {
                        if changed.is_err() { return; }
                        if stop.borrow().is_some() {
                            tx.send_modify(|c| *c = (*c).max(1));
                        }
                    }
                }
            }
        });
        rx
    }

    /// Why the collector stopped this shard, if it did.
    pub fn stopped_because(&self) -> Option<String> {
        self.stop_rx.borrow().clone()
    }

    /// Start sending the closed seconds written to `dir`, once a second.
    pub fn stream(&self, dir: &Path) -> Streamer {
        let (finish_tx, finish_rx) = oneshot::channel();
        let task = tokio::spawn(stream_task(
            self.url.clone(),
            self.index,
            self.attempt.clone(),
            self.wake_late_ms,
            dir.to_path_buf(),
            self.stop_tx.clone(),
            finish_rx,
        ));
        Streamer {
            finish_tx: Some(finish_tx),
            task,
        }
    }
}

/// The running stream; [`Streamer::finish`] sends the rest and results.json.
pub struct Streamer {
    finish_tx: Option<oneshot::Sender<Result<String, String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Streamer {
    /// `results`: results.json's text, or why there is none.
    pub async fn finish(mut self, results: Result<String, String>) {
        if let Some(tx) = self.finish_tx.take() {
            let _ = tx.send(results);
        }
        let _ = tokio::time::timeout(Duration::from_secs(60), &mut self.task).await;
    }
}

/// The part of a file not sent yet, cut after its last newline.
struct Tail {
    path: PathBuf,
    sent: u64,
}

impl Tail {
    fn take(&mut self) -> String {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return String::new();
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.sent)).is_err() || f.read_to_end(&mut buf).is_err() {
            return String::new();
        }
        let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
            return String::new();
        };
        buf.truncate(end + 1);
        self.sent += buf.len() as u64;
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Put back text that could not be sent, so the next message carries it.
    fn unsend(&mut self, text: &str) {
        self.sent -= text.len() as u64;
    }
}

async fn stream_task(
    url: Url,
    index: u64,
    attempt: String,
    wake_late_ms: f64,
    dir: PathBuf,
    stop: watch::Sender<Option<String>>,
    mut finish: oneshot::Receiver<Result<String, String>>,
) {
    let path = format!("/v1/shards/{index}/data");
    let mut csv = Tail {
        path: dir.join("timeseries.csv"),
        sent: 0,
    };
    let mut hlog = Tail {
        path: dir.join("histograms.hlog"),
        sent: 0,
    };
    let mut first = true;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut complained = false;
    let last = loop {
        tokio::select! {
            r = &mut finish => break r.unwrap_or_else(|_| Err("the run ended without results".into())),
            _ = tick.tick() => {}
        }
        let data = Data {
            attempt: attempt.clone(),
            wake_late_ms: first.then_some(wake_late_ms),
            csv: csv.take(),
            hlog: hlog.take(),
            ..Data::default()
        };
        match post::<_, DataReply>(&url, &path, &data).await {
            Ok(reply) => {
                first = false;
                if let Some(why) = reply.stop {
                    if stop.borrow().is_none() {
                        eprintln!("peakready: the collector stopped this run: {why}");
                        let _ = stop.send(Some(why));
                    }
                }
            }
            Err(e) => {
                csv.unsend(&data.csv);
                hlog.unsend(&data.hlog);
                if !complained {
                    let why = match e {
                        PostError::Refused(w) => w,
                        PostError::Unreachable(e) => format!("{e:#}"),
                    };
                    eprintln!("peakready: warning: could not send this second to the collector ({why}); retrying each second, the local results directory is complete");
                    complained = true;
                }
            }
        }
    };
    let (results, failed) = match last {
        Ok(text) => (Some(text), None),
        Err(why) => (None, Some(why)),
    };
    let data = Data {
        attempt,
        wake_late_ms: first.then_some(wake_late_ms),
        csv: csv.take(),
        hlog: hlog.take(),
        results,
        failed,
    };
    for _ in 0..10 {
        match post::<_, DataReply>(&url, &path, &data).await {
            Ok(_) => return,
            Err(PostError::Refused(why)) => {
                eprintln!("peakready: the collector refused this shard's results: {why}");
                return;
            }
            Err(PostError::Unreachable(_)) => tokio::time::sleep(Duration::from_secs(2)).await,
        }
    }
    eprintln!("peakready: warning: the collector at {url} did not take this shard's results; merge this shard's directory with `peakready merge`");
}

/// POST a JSON body, read a JSON reply; 409 carries a [`Refusal`].
async fn post<T: Serialize, R: DeserializeOwned>(
    base: &Url,
    path: &str,
    body: &T,
) -> Result<R, PostError> {
    let unreachable = |e: anyhow::Error| PostError::Unreachable(e);
    let exchange = async {
        let host = base.host_str().unwrap_or("localhost").to_string();
        let port = base.port_or_known_default().unwrap_or(80);
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .with_context(|| format!("connecting to {host}:{port}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(conn);
        let full = format!("{}{path}", base.path().trim_end_matches('/'));
        let json = serde_json::to_vec(body).context("encoding the message")?;
        let req = http::Request::post(full)
            .header(http::header::HOST, format!("{host}:{port}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(json)))
            .context("building the request")?;
        let resp = sender.send_request(req).await.context("sending")?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .context("reading the reply")?
            .to_bytes();
        anyhow::Ok((status, bytes))
    };
    let (status, bytes) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| unreachable(anyhow!("no answer within {} s", REQUEST_TIMEOUT.as_secs())))?
        .map_err(unreachable)?;
    if status == http::StatusCode::CONFLICT {
        let why = serde_json::from_slice::<Refusal>(&bytes)
            .map(|r| r.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        return Err(PostError::Refused(why));
    }
    if !status.is_success() {
        return Err(unreachable(anyhow!("HTTP {status}")));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| unreachable(anyhow!("a reply that is not the collector's: {e}")))
}
