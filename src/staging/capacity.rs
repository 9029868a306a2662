//! The capacity model: live counters, the per-connection guard that keeps
//! `open_connections` honest, and the admission gate (503 past capacity, M/M/1-shaped
//! service time below it).
//!
//! "Concurrent viewers" are open client TCP connections. The count lives in the socket
//! wrapper ([`CountedStream`]) rather than in the hyper connection task because a WebSocket
//! upgrade ends the hyper task while the socket stays open: the upgraded IO carries the
//! wrapper along, so a chat viewer keeps counting until its socket is really dropped.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::StagingStats;

/// Utilisation is clamped here so the M/M/1 curve stays finite (at most 20× base).
const MAX_UTILISATION: f64 = 0.95;

/// Lock-free counters shared by the accept loop, every request and [`super::EmbeddedServer`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    open: AtomicU64,
    peak: AtomicU64,
    requests: AtomicU64,
    rejected_503: AtomicU64,
    accepted: AtomicU64,
    /// Woken when `open` drops to zero, so shutdown can wait for upgraded sockets too.
    drained: Notify,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> StagingStats {
        StagingStats {
            open_connections: self.open.load(Ordering::Relaxed),
            peak_connections: self.peak.load(Ordering::Relaxed),
            requests_total: self.requests.load(Ordering::Relaxed),
            rejected_503: self.rejected_503.load(Ordering::Relaxed),
            accepted_connections_total: self.accepted.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    pub(crate) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Registers a freshly accepted socket; the returned guard un-registers it on drop.
    pub(crate) fn connect(self: &Arc<Self>) -> ConnGuard {
        let open = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(open, Ordering::Relaxed);
        self.accepted.fetch_add(1, Ordering::Relaxed);
        ConnGuard {
            counters: Arc::clone(self),
            open_at_accept: open,
        }
    }

    /// Resolves once no counted socket is open (used by shutdown's grace period).
    pub(crate) async fn wait_drained(&self) {
        loop {
            // Register interest before checking, or a drop between the check and the
            // await would be missed.
            let notified = self.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One open client socket. Dropping it is the only way `open` goes down.
#[derive(Debug)]
pub(crate) struct ConnGuard {
    counters: Arc<Counters>,
    open_at_accept: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if self.counters.open.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.counters.drained.notify_waiters();
        }
    }
}

/// A `TcpStream` that holds its [`ConnGuard`] for exactly as long as the socket lives.
#[derive(Debug)]
pub(crate) struct CountedStream {
    inner: TcpStream,
    guard: ConnGuard,
}

impl CountedStream {
    pub(crate) fn new(inner: TcpStream, guard: ConnGuard) -> Self {
        Self { inner, guard }
    }

    /// What the gate needs to know about this connection, stamped on each of its requests.
    pub(crate) fn admission(&self, capacity: Option<u64>) -> Admission {
        Admission {
            admitted: capacity.map_or(true, |cap| self.guard.open_at_accept <= cap),
        }
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Request extension: was this request's connection within capacity when it was accepted?
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admission {
    pub(crate) admitted: bool,
}

/// What a request costs the origin, which decides how the gate treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Token, room, chat handshake: rejected past capacity, full service time.
    Api,
    /// Master and media playlists: rejected past capacity, service time only when a
    /// capacity is set (an unlimited origin serves playlists from memory).
    Playlist,
    /// Media segments: never delayed, so segment throughput measures the network; rejected
    /// past capacity only on connections that were themselves accepted beyond capacity, so
    /// viewers already watching keep their stream while newcomers are turned away.
    Segment,
}

/// The admission decision for one request.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    pub(crate) capacity: Option<u64>,
    pub(crate) base_service_time: Duration,
    pub(crate) counters: Arc<Counters>,
}

impl Gate {
    /// Rejects the request past capacity, otherwise sleeps the service time for the
    /// current load. `admission` is `None` only if the router is driven outside our
    /// accept loop; such requests are treated as admitted.
    pub(crate) async fn admit(
        &self,
        class: Class,
        admission: Option<Admission>,
    ) -> Result<(), OverCapacity> {
        let open = self.counters.open();
        let over = self.capacity.is_some_and(|cap| open > cap);
        let admitted = admission.map_or(true, |a| a.admitted);
        let reject = match class {
            Class::Api | Class::Playlist => over,
            Class::Segment => over && !admitted,
        };
        if reject {
            self.counters.rejected_503.fetch_add(1, Ordering::Relaxed);
            return Err(OverCapacity);
        }
        let delay = self.service_time(class, open);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }

    fn service_time(&self, class: Class, open: u64) -> Duration {
        match (class, self.capacity) {
            (Class::Segment, _) | (Class::Playlist, None) => Duration::ZERO,
            (Class::Api, None) => self.base_service_time,
            (_, Some(cap)) => {
                // `admit` rejected open > cap, so cap == 0 cannot reach the division with
                // open > 0; the guard only protects against a zero-connection call.
                let u = if cap == 0 {
                    MAX_UTILISATION
                } else {
                    (open as f64 / cap as f64).min(MAX_UTILISATION)
                };
                self.base_service_time.mul_f64(1.0 / (1.0 - u))
            }
        }
    }
}

/// The 503 a load balancer in front of a saturated origin would send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OverCapacity;

impl IntoResponse for OverCapacity {
    fn into_response(self) -> Response {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::RETRY_AFTER, HeaderValue::from_static("1")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            "over capacity\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(capacity: Option<u64>) -> Gate {
        Gate {
            capacity,
            base_service_time: Duration::from_millis(10),
            counters: Arc::default(),
        }
    }

    #[test]
    fn service_time_is_mm1_shaped_and_clamped() {
        let g = gate(Some(10));
        assert_eq!(g.service_time(Class::Api, 0), Duration::from_millis(10));
        assert_eq!(g.service_time(Class::Api, 5), Duration::from_millis(20));
        assert_eq!(g.service_time(Class::Api, 10), Duration::from_millis(200));
        assert_eq!(
            g.service_time(Class::Playlist, 5),
            Duration::from_millis(20)
        );
        assert_eq!(g.service_time(Class::Segment, 9), Duration::ZERO);
    }

    #[test]
    fn unlimited_capacity_only_delays_api() {
        let g = gate(None);
        assert_eq!(g.service_time(Class::Api, 1000), Duration::from_millis(10));
        assert_eq!(g.service_time(Class::Playlist, 1000), Duration::ZERO);
    }

    #[tokio::test]
    async fn segments_of_admitted_connections_survive_overload() {
        let g = gate(Some(1));
        let _a = g.counters.connect();
        let _b = g.counters.connect();
        let inside = Some(Admission { admitted: true });
        let outside = Some(Admission { admitted: false });
        assert!(g.admit(Class::Api, inside).await.is_err());
        assert!(g.admit(Class::Segment, inside).await.is_ok());
        assert!(g.admit(Class::Segment, outside).await.is_err());
        assert_eq!(g.counters.snapshot().rejected_503, 2);
    }
}
