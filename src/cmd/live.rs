//! `run --metrics-listen ADDR` and `--json-lines FILE`: the live export's endpoint and file.
//!
//! The exposition is served at `/metrics` (and `/`) for the whole run and 3 s after it, so a
//! scraper on a 1 s interval also collects the final second's counts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::header;
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::metrics::live::LiveExport;

/// How long the endpoint stays up after the run: three scrapes at a 1 s interval.
const LINGER: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    pub metrics_listen: Option<SocketAddr>,
    pub json_lines: Option<PathBuf>,
}

pub struct LiveServer {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// The export and its endpoint, when either option is set. Binds before any load is sent, so a
/// port in use is an error up front.
pub async fn start(
    opts: &LiveOptions,
    regions: Vec<String>,
    phases: Vec<(String, f64, f64)>,
) -> anyhow::Result<Option<(Arc<LiveExport>, LiveServer)>> {
    if opts.metrics_listen.is_none() && opts.json_lines.is_none() {
        return Ok(None);
    }
    let export = Arc::new(
        LiveExport::new(regions, phases, opts.json_lines.as_deref()).with_context(|| {
            format!(
                "creating --json-lines {}",
                opts.json_lines
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""))
                    .display()
            )
        })?,
    );
    let mut server = LiveServer {
        stop: None,
        task: None,
    };
    if let Some(addr) = opts.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("--metrics-listen {addr}"))?;
        let e = export.clone();
        let metrics = move || {
            let e = e.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    e.render(),
                )
            }
        };
        let app = Router::new()
            .route("/metrics", get(metrics.clone()))
            .route("/", get(metrics));
        let (tx, rx) = oneshot::channel::<()>();
        server.stop = Some(tx);
        server.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        }));
    }
    Ok(Some((export, server)))
}

impl LiveServer {
    /// After the run: keep serving for [`LINGER`], then stop.
    pub async fn finish(mut self) {
        let Some(stop) = self.stop.take() else {
            return;
        };
        tokio::time::sleep(LINGER).await;
        let _ = stop.send(());
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
        }
    }
}
