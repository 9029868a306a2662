//! The embedded staging server: what `peakready serve` runs and what scenarios with
//! `target.base_url: embedded` start in-process. This file owns the public API, the route
//! table and the accept loop (connection counting and graceful shutdown); the routes live
//! in `api.rs` (JSON API), `hls.rs` (live HLS origin) and `chat.rs` (WebSocket chat), and the
//! capacity model in `capacity.rs`.
//!
//! Routes:
//! `POST /api/v1/token`, `GET /api/v1/rooms/{id}`, `GET /healthz`, `GET /hls/stream.m3u8`,
//! `GET /hls/{low|mid|high}/index.m3u8[?_HLS_msn=M&_HLS_part=P]`,
//! `GET /hls/{low|mid|high}/seg-{msn}.ts`, `GET /hls/{low|mid|high}/seg-{msn}.p-{k}.ts` (LL-HLS),
//! `GET /chat?room=ID` (WebSocket), and the same HLS routes under `/live/{grant}/hls/…` with a
//! grant signed by the token API (403 without one, `signed.rs`).
//!
//! We run our own accept loop instead of `axum::serve` so every socket can be counted (the
//! capacity model's "viewers" are open TCP connections) and so shutdown can be bounded.

mod api;
mod capacity;
mod chat;
mod hls;
mod llhls;
mod signed;

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{service_fn, Service as _};
use hyper::Request;
use hyper_util::rt::TokioIo;
// `hyper-util/service` is enabled by axum's `tokio` feature, which `ws` requires.
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use capacity::{CountedStream, Counters, Gate};

/// How long in-flight connections get to finish after shutdown before they are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Pause after an accept error such as EMFILE, so a full fd table doesn't spin the loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How the staging server behaves. `Default` is a realistic 2 s-segment stream with no
/// capacity limit.
#[derive(Debug, Clone)]
pub struct StagingConfig {
    /// Concurrent viewers the server can hold; None = unlimited. Concurrent viewers = open
    /// client TCP connections (WebSocket chat sockets included).
    pub capacity: Option<u64>,
    pub segment_duration: Duration,
    /// Lowest rendition bitrate; the ladder is this, ×3 and ×8.
    pub bitrate_kbps: u32,
    /// Segments in the live media playlist.
    pub playlist_window: usize,
    /// Added latency at zero load for API calls (and playlists when a capacity is set).
    pub base_service_time: Duration,
    /// LL-HLS mode: parts, preload hints and blocking playlist reload (see `llhls.rs`).
    pub ll_hls: bool,
    /// A known stall schedule (every `every`, the server answers nothing for `length`): the
    /// target wrk2's coordinated-omission method needs, so measured tails can be checked
    /// against the tails the schedule implies.
    pub stall: Option<StallSchedule>,
    /// Added before every media segment's response: a slow origin or CDN, whose segments are
    /// late whatever the viewer's network (what `link_ratio` tells apart from a thin link).
    pub segment_delay: Duration,
}

/// `every` and `length` of a periodic, whole-server stall, from server start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallSchedule {
    pub every: Duration,
    pub length: Duration,
}

impl StallSchedule {
    /// How long a request arriving `elapsed` after server start waits for the stall to end.
    pub fn wait_at(&self, elapsed: Duration) -> Duration {
        // Nanosecond arithmetic: the schedule must not drift over a long run.
        let every = self.every.as_nanos().max(1);
        let into = elapsed.as_nanos() % every;
        let length = self.length.as_nanos();
        if into < length {
            Duration::from_nanos((length - into) as u64)
        } else {
            Duration::ZERO
        }
    }
}

impl Default for StagingConfig {
    fn default() -> Self {
        Self {
            capacity: None,
            segment_duration: Duration::from_secs(2),
            bitrate_kbps: 400,
            playlist_window: 6,
            base_service_time: Duration::from_millis(1),
            ll_hls: false,
            stall: None,
            segment_delay: Duration::ZERO,
        }
    }
}

/// A point-in-time snapshot of the server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StagingStats {
    pub open_connections: u64,
    pub peak_connections: u64,
    pub requests_total: u64,
    /// Requests answered `503` because the server was past capacity.
    pub rejected_503: u64,
    pub accepted_connections_total: u64,
}

/// What every handler can reach, shared by `Arc`.
#[derive(Debug)]
pub(crate) struct ServerState {
    gate: Gate,
    hls: hls::Hls,
    rooms: Arc<chat::Rooms>,
    signer: signed::Signer,
    /// Flips to `true` on shutdown; chat sessions watch it to send their close frame.
    shutdown: watch::Receiver<bool>,
}

pub(crate) type Shared = Arc<ServerState>;

fn router(state: Shared, stall: Option<StallSchedule>) -> Router {
    let routes = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/api/v1/token", post(api::token))
        .route("/api/v1/rooms/{id}", get(api::room))
        .route("/hls/stream.m3u8", get(hls::master))
        .route("/hls/{rendition}/{file}", get(hls::rendition_file))
        .route("/live/{grant}/hls/stream.m3u8", get(signed::master))
        .route(
            "/live/{grant}/hls/{rendition}/{file}",
            get(signed::rendition_file),
        )
        .route("/chat", get(chat::chat));
    // Only a server asked to stall pays for the middleware.
    let routes = match stall {
        Some(schedule) => {
            let started = tokio::time::Instant::now();
            routes.layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                    let wait = schedule.wait_at(started.elapsed());
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    next.run(req).await
                },
            ))
        }
        None => routes,
    };
    routes.with_state(state)
}

/// Serves the staging routes on `listener` until `shutdown` completes, then stops
/// accepting, lets in-flight connections finish for up to one second and drops the rest.
/// Accept errors (e.g. out of file descriptors) are retried, not returned.
pub async fn serve(
    listener: TcpListener,
    config: StagingConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    run(listener, config, shutdown, Arc::default()).await
}

async fn run(
    listener: TcpListener,
    config: StagingConfig,
    shutdown: impl Future<Output = ()>,
    counters: Arc<Counters>,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = Arc::new(ServerState {
        gate: Gate {
            capacity: config.capacity,
            base_service_time: config.base_service_time,
            counters: Arc::clone(&counters),
        },
        hls: hls::Hls::new(&config),
        rooms: Arc::default(),
        signer: signed::Signer::default(),
        shutdown: stop_rx.clone(),
    });
    state.hls.spawn_ticker();
    let app = TowerToHyperService::new(router(state, config.stall));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            // Reap finished connection tasks so the set stays the size of the live set.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => {
                    // Request/response over keep-alive: Nagle would add up to 40 ms per reply.
                    let _ = tcp.set_nodelay(true);
                    let stream = CountedStream::new(tcp, counters.connect());
                    connections.spawn(connection(
                        stream,
                        app.clone(),
                        config.capacity,
                        Arc::clone(&counters),
                        stop_rx.clone(),
                    ));
                }
                Err(e) if is_per_connection(&e) => {}
                Err(_) => tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                },
            },
        }
    }

    // Graceful shutdown, in the order a client would notice it: the listener closes (new
    // connects are refused), idle keep-alive connections close at once, busy ones after
    // their current response, chat sockets get a close frame. Whatever is still open after
    // the grace period is aborted, which drops (and so un-counts) its socket.
    drop(listener);
    let _ = stop_tx.send(true);
    let drain = async {
        while connections.join_next().await.is_some() {}
        counters.wait_drained().await;
    };
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, drain).await;
    connections.shutdown().await;
    Ok(())
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Resolves when the server starts shutting down (or is gone).
pub(crate) async fn stopping(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stopping| *stopping).await;
}

async fn connection(
    stream: CountedStream,
    app: TowerToHyperService<Router>,
    capacity: Option<u64>,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) {
    let admission = stream.admission(capacity);
    let service = service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(admission);
        counters.count_request();
        app.call(req)
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        // Needed for the chat WebSocket; the upgraded socket outlives this task and keeps
        // its `CountedStream`, so it stays counted.
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = stopping(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// A staging server running in this process on a free loopback port. Dropping it also
/// shuts the server down (in the background); call [`EmbeddedServer::shutdown`] to wait.
#[derive(Debug)]
pub struct EmbeddedServer {
    pub addr: SocketAddr,
    counters: Arc<Counters>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl EmbeddedServer {
    /// Binds `127.0.0.1:0` and spawns [`serve`] on the current runtime.
    pub async fn start(config: StagingConfig) -> io::Result<EmbeddedServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let counters: Arc<Counters> = Arc::default();
        let (stop, stopped) = oneshot::channel::<()>();
        // A dropped sender also resolves the receiver, which is what makes drop shut down.
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(run(listener, config, shutdown, Arc::clone(&counters)));
        Ok(EmbeddedServer {
            addr,
            counters,
            stop,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> StagingStats {
        self.counters.snapshot()
    }

    /// Stops accepting, gives in-flight connections up to one second, and returns once
    /// the server task has finished.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
