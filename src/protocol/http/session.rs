//! [`Session`]: one viewer's connection to one origin, reopened when the server closed it.
//! Owns the reconnect and retry policy; the exchange itself is [`HttpConnection`]'s.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};

use super::{ClientConfig, ConnectTimings, HttpConnection, Origin, RequestError, Response};

/// Keeps one connection to one origin, as a viewer's app does, reconnecting when the server
/// closed it.
///
/// # Retry
/// A server may close an idle keep-alive connection just as we send on it. A request on a
/// *reused* connection that fails before any response byte is retried once on a fresh
/// connection when that cannot duplicate a side effect: the request was never written, or its
/// method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE). The retry's connect timings are
/// returned and its `ttfb`/`total` are those of the retried attempt. Anything else is returned
/// as the error it was. Each attempt has its own timeouts, so a retried call can take up to
/// twice as long; callers timing a whole step from its intended start still see that time.
#[derive(Debug)]
pub struct Session {
    origin: Origin,
    cfg: Arc<ClientConfig>,
    source_addr: Option<IpAddr>,
    conn: Option<HttpConnection>,
}

impl Session {
    /// Does not connect: the first request does.
    pub fn new(origin: Origin, cfg: Arc<ClientConfig>, source_addr: Option<IpAddr>) -> Session {
        Session {
            origin,
            cfg,
            source_addr,
            conn: None,
        }
    }

    /// Sends one request, (re)connecting first if needed. Returns connect timings when this
    /// call opened a connection.
    pub async fn request(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
        keep_body: bool,
    ) -> Result<(Option<ConnectTimings>, Response), RequestError> {
        self.request_with(method, path_and_query, body, keep_body, &[])
            .await
    }

    /// [`Session::request`] with headers of this request's own after the configured ones.
    pub async fn request_with(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
        keep_body: bool,
        extra: &[(HeaderName, HeaderValue)],
    ) -> Result<(Option<ConnectTimings>, Response), RequestError> {
        // The connection is used where it lies in `self.conn`: taken out and put back, its
        // struct was copied twice a request (callgrind, keep-alive `quick`).
        let mut timings = None;
        let conn = match self.conn {
            Some(ref mut c) if c.is_usable() => c,
            _ => {
                self.conn = None;
                let (c, t) = self.open().await?;
                timings = Some(t);
                self.conn.insert(c)
            }
        };
        let result = match conn
            .send(
                method.clone(),
                path_and_query,
                body.clone(),
                keep_body,
                extra,
            )
            .await
        {
            Err(f) if f.retryable => {
                self.conn = None;
                let (c, t) = self.open().await?;
                timings = Some(t);
                self.conn
                    .insert(c)
                    .send(method, path_and_query, body, keep_body, extra)
                    .await
                    .map_err(|f| f.error)
            }
            other => other.map_err(|f| f.error),
        };
        if !self.is_connected() {
            self.conn = None;
        }
        result.map(|resp| (timings, resp))
    }

    /// Whether a connection is currently held and believed usable.
    pub fn is_connected(&self) -> bool {
        self.conn.as_ref().is_some_and(HttpConnection::is_usable)
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    async fn open(&self) -> Result<(HttpConnection, ConnectTimings), RequestError> {
        // Boxed: DNS, connect and the TLS handshake make a large future, and unboxed it would
        // sit inside every viewer's task for the viewer's whole life although it runs once.
        Box::pin(HttpConnection::open(
            &self.origin,
            &self.cfg,
            self.source_addr,
        ))
        .await
    }
}
