//! The timed HTTP/1.1 client: one keep-alive connection per simulated viewer, with DNS, TCP
//! connect, TLS, time-to-first-byte and total time measured separately. Owns connection setup,
//! request exchange and error classification; it knows nothing of HLS, scenarios or metrics
//! recording (callers turn [`ConnectTimings`] and [`Response`] into `dns_ms`, `connect_ms`,
//! `tls_ms`, `ttfb_ms`).
//!
//! # Timing
//! - `dns`: `lookup_host`; `None` when the host is an IP literal.
//! - `connect`: the TCP handshake only (socket creation and `bind` excluded).
//! - `tls`: the rustls handshake on the connected socket.
//! - `ttfb`: from just before the request is written to the response head parsed; it includes
//!   the write (one small `write` for a GET).
//! - `total`: same start, until the last body byte was read.
//!
//! Each phase (DNS, connect, TLS, whole request including body) is bounded by
//! [`ClientConfig::timeout`].
//!
//! # Network emulation
//! A config made with [`ClientConfig::with_network`] puts every connection on an emulated path
//! ([`crate::protocol::netem`]): `connect` includes the handshake's emulated round trip, and TLS and
//! every request pay the path's delay, rate and loss. Without a profile the socket is used
//! bare and unboxed ([`Io::Plain`]), so there is no wrapper to pay for.

mod buffers;
mod connect;
mod error;
#[cfg(test)]
mod framing_tests;
#[cfg(test)]
mod fuzz_tests;
mod h1;
mod ports;
mod request;
mod session;
mod stream;
#[cfg(test)]
mod tests;

pub use error::RequestError;
pub use session::Session;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Method};
use rustls::pki_types::ServerName;
use tokio::time::{timeout, Instant};
use tokio_rustls::TlsConnector;

use crate::metrics::ErrorKind;
use crate::protocol::netem::Netem;
use crate::scenario::NetworkProfile;
use connect::{connect_tcp, resolve};
use h1::Stage;
use request::RequestHead;
pub use stream::Io;

const USER_AGENT: &str = concat!("peakready/", env!("CARGO_PKG_VERSION"));

/// Settings shared by every connection of a run. Build once with [`ClientConfig::new`] and share
/// the `Arc`; the TLS config inside is expensive to build and is never rebuilt per connection.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Bound on each phase: DNS, connect, TLS, and one whole request (head + body).
    pub timeout: Duration,
    /// Accept any server certificate (staging with self-signed certs).
    pub insecure_tls: bool,
    /// Sent on every request. Values are marked sensitive so `Debug` never prints them.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The shared rustls config; public so other clients (e.g. chat over `wss`) can reuse it.
    pub tls: Arc<rustls::ClientConfig>,
    has_host: bool,
    has_user_agent: bool,
    /// The emulated network path; `None` = the real one, untouched.
    network: Option<Arc<Netem>>,
    /// Keep each connection's read buffer between requests (see [`Self::keeping_read_buffers`]).
    keep_read_buffer: bool,
    /// `false`: every request asks for `Connection: close` and its connection is closed after
    /// the response (see [`Self::closing_connections`]).
    keep_alive: bool,
    has_connection: bool,
    /// TLS handshakes made by every connection of this config and its copies.
    handshakes: Arc<HandshakeCounts>,
}

/// How many TLS handshakes were full and how many resumed an earlier session: with
/// `target.tls.resume` the server decides, and a run must say what it got.
#[derive(Debug, Default)]
pub struct HandshakeCounts {
    full: std::sync::atomic::AtomicU64,
    resumed: std::sync::atomic::AtomicU64,
}

impl HandshakeCounts {
    /// (full, resumed) so far.
    pub fn get(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.full.load(Relaxed), self.resumed.load(Relaxed))
    }

    fn count(&self, kind: Option<rustls::HandshakeKind>) {
        use std::sync::atomic::Ordering::Relaxed;
        match kind {
            Some(rustls::HandshakeKind::Resumed) => self.resumed.fetch_add(1, Relaxed),
            _ => self.full.fetch_add(1, Relaxed),
        };
    }
}

impl ClientConfig {
    /// Validates `headers` and builds the TLS config. An invalid header is reported by its name
    /// only: values may be secrets.
    pub fn new(
        timeout: Duration,
        insecure_tls: bool,
        headers: &[(String, String)],
    ) -> Result<Arc<ClientConfig>, String> {
        if timeout.is_zero() {
            return Err("timeout must be greater than zero".into());
        }
        let mut parsed = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let Ok(hname) = HeaderName::from_bytes(name.as_bytes()) else {
                // A "name" holding ':' or spaces is likely a whole "Name: value" line pasted as
                // the name; printing it could leak the value.
                return Err(if name.contains([':', ' ', '\t']) {
                    "header name contains ':' or whitespace; give the name and the value separately"
                        .into()
                } else {
                    format!("header name {name:?} is not a valid HTTP header name")
                });
            };
            if hname == header::CONTENT_LENGTH || hname == header::TRANSFER_ENCODING {
                return Err(format!(
                    "header {hname}: message framing is set from the request body; remove it"
                ));
            }
            let mut hvalue = HeaderValue::from_str(value).map_err(|_| {
                format!("header {hname}: value contains characters not allowed in HTTP headers")
            })?;
            hvalue.set_sensitive(true);
            parsed.push((hname, hvalue));
        }
        Ok(Arc::new(ClientConfig {
            timeout,
            insecure_tls,
            has_host: parsed.iter().any(|(n, _)| n == header::HOST),
            has_user_agent: parsed.iter().any(|(n, _)| n == header::USER_AGENT),
            has_connection: parsed.iter().any(|(n, _)| n == header::CONNECTION),
            headers: parsed,
            tls: super::tls::client_config(insecure_tls, false)?,
            network: None,
            keep_read_buffer: false,
            keep_alive: true,
            handshakes: Arc::default(),
        }))
    }

    /// A copy of this config whose connections take the emulated path of `profile` (one
    /// config per region). `None`, or a profile that changes nothing, gives a config with no
    /// emulation at all. `seed` makes each connection's jitter and loss draws reproducible;
    /// connections are numbered in the order they open. The TLS config is shared, not rebuilt.
    pub fn with_network(
        self: &Arc<ClientConfig>,
        profile: Option<NetworkProfile>,
        seed: u64,
    ) -> Arc<ClientConfig> {
        Arc::new(ClientConfig {
            timeout: self.timeout,
            insecure_tls: self.insecure_tls,
            headers: self.headers.clone(),
            tls: self.tls.clone(),
            has_host: self.has_host,
            has_user_agent: self.has_user_agent,
            has_connection: self.has_connection,
            network: profile
                .as_ref()
                .and_then(|p| Netem::new(p, seed))
                .map(Arc::new),
            keep_read_buffer: self.keep_read_buffer,
            keep_alive: self.keep_alive,
            handshakes: self.handshakes.clone(),
        })
    }

    /// A copy of this config whose connections keep their 8 KiB read buffer between requests.
    /// Right for a few busy connections (`quick`): no allocation per request. Wrong for
    /// thousands of mostly idle viewers, where the buffer would be most of a viewer's memory,
    /// so by default a connection holds a read buffer only during an exchange.
    pub fn keeping_read_buffers(self: &Arc<ClientConfig>) -> Arc<ClientConfig> {
        let mut copy = ClientConfig::clone(self);
        copy.keep_read_buffer = true;
        Arc::new(copy)
    }

    /// A copy of this config that opens a new connection for every request, as wrk does with
    /// `-H "Connection: close"` and oha with `--disable-keepalive`: each request carries
    /// `Connection: close` (unless the headers already set `Connection`) and its connection is
    /// closed once the response is read, whatever the server answered. For measuring connection
    /// setup; a viewer's app keeps its connection.
    pub fn closing_connections(self: &Arc<ClientConfig>) -> Arc<ClientConfig> {
        let mut copy = ClientConfig::clone(self);
        copy.keep_alive = false;
        Arc::new(copy)
    }

    /// A copy of this config whose TLS connections resume earlier sessions (`target.tls.resume`):
    /// one session cache for the run, so after the first handshakes most new connections
    /// resume, if the server allows it (see [`Self::handshakes`]).
    pub fn resuming_tls_sessions(self: &Arc<ClientConfig>) -> Result<Arc<ClientConfig>, String> {
        let mut copy = ClientConfig::clone(self);
        copy.tls = super::tls::client_config(self.insecure_tls, true)?;
        Ok(Arc::new(copy))
    }

    /// TLS handshakes so far, full and resumed, over this config and every copy of it.
    pub fn handshakes(&self) -> &HandshakeCounts {
        &self.handshakes
    }

    /// The network profile connections emulate, if any.
    pub fn network(&self) -> Option<&NetworkProfile> {
        self.network.as_deref().map(Netem::profile)
    }
}

/// Largest response body kept in memory (playlists, `expect_body`); larger is `body_too_large`.
pub const MAX_KEPT_BODY: u64 = 4 << 20;

/// Largest response body read and counted (segments, `quick`); beyond it the request is
/// `body_too_large` and the connection dropped.
pub const MAX_COUNTED_BODY: u64 = 1 << 30;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// Where to connect and what to call it: everything derived once from a URL so that opening a
/// connection does no parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: Scheme,
    /// Host name for DNS (IPv6 literals without brackets). Shared: a viewer's connections
    /// clone the run's origins rather than parse their URLs again.
    pub host: Arc<str>,
    pub port: u16,
    /// The URL named its port (then `Host` carries it, as browsers send it).
    explicit_port: bool,
    /// Set when the host is an IP literal: no DNS lookup then.
    ip: Option<IpAddr>,
    /// SNI; `Some` for `https` only.
    server_name: Option<ServerName<'static>>,
    /// `host[:port]` as sent in `Host` (port omitted when it is the scheme's default).
    host_header: HeaderValue,
}

impl Origin {
    pub fn from_url(url: &url::Url) -> Result<Origin, String> {
        let scheme = match url.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(format!("unsupported scheme {other:?}: use http or https")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in the URL are not supported; send them as a header".into());
        }
        let (host, ip): (String, _) = match url.host() {
            Some(url::Host::Domain(d)) => (d.to_owned(), None),
            Some(url::Host::Ipv4(a)) => (a.to_string(), Some(IpAddr::V4(a))),
            Some(url::Host::Ipv6(a)) => (a.to_string(), Some(IpAddr::V6(a))),
            None => return Err(format!("URL {url} has no host")),
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("URL {url} has no port"))?;
        let host_str = url.host_str().unwrap_or(&host);
        // `Url::port()` is `None` when the port is the scheme's default, which is exactly when
        // browsers leave it out of `Host`.
        let host_header = match url.port() {
            Some(p) => format!("{host_str}:{p}"),
            None => host_str.to_owned(),
        };
        let host_header = HeaderValue::from_str(&host_header)
            .map_err(|_| format!("host {host_str:?} cannot be sent in a Host header"))?;
        let server_name = match (scheme, ip) {
            (Scheme::Http, _) => None,
            (Scheme::Https, Some(ip)) => Some(ServerName::IpAddress(ip.into())),
            (Scheme::Https, None) => Some(
                ServerName::try_from(host.clone())
                    .map_err(|_| format!("host {host:?} is not a valid TLS server name"))?,
            ),
        };
        Ok(Origin {
            scheme,
            host: host.into(),
            port,
            explicit_port: url.port().is_some(),
            ip,
            server_name,
            host_header,
        })
    }

    /// Whether a request to `url` goes to this origin, with the same `Host` header: what
    /// [`Origin::from_url`] would make of it equals `self`, found without parsing or
    /// allocating (a viewer asks this for every request it sends).
    pub fn serves(&self, url: &url::Url) -> bool {
        let scheme = match url.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return false,
        };
        let same_host = match url.host() {
            Some(url::Host::Domain(d)) => self.ip.is_none() && *self.host == *d,
            Some(url::Host::Ipv4(a)) => self.ip == Some(IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => self.ip == Some(IpAddr::V6(a)),
            None => false,
        };
        scheme == self.scheme
            && same_host
            && url.port_or_known_default() == Some(self.port)
            && url.port().is_some() == self.explicit_port
            && url.username().is_empty()
            && url.password().is_none()
    }

    /// The `Host` header value.
    pub fn host_header(&self) -> &HeaderValue {
        &self.host_header
    }
}

/// How long each connection-setup phase took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectTimings {
    /// `None` when the host was an IP literal (no lookup happened).
    pub dns: Option<Duration>,
    /// The TCP handshake.
    pub connect: Duration,
    /// `None` for plain `http`.
    pub tls: Option<Duration>,
}

/// One response, fully read.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// `Location` of a 3xx response.
    pub location: Option<String>,
    /// Request handed to the connection → response head received.
    pub ttfb: Duration,
    /// Same start → last body byte received.
    pub total: Duration,
    /// Body bytes received (after transfer decoding).
    pub body_len: u64,
    /// The body, when the request asked to keep it.
    pub body: Option<Bytes>,
    /// The raw response head, kept with the body.
    pub head: Option<Bytes>,
}

impl Response {
    /// The first value of header `name` (case-insensitive), when the head was kept.
    pub fn header(&self, name: &str) -> Option<String> {
        let raw = self.head.as_ref()?;
        let mut headers = [httparse::EMPTY_HEADER; 100];
        let mut resp = httparse::Response::new(&mut headers);
        resp.parse(raw).ok()?;
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    }
}

/// One HTTP/1.1 keep-alive connection, driven by the task that uses it (see [`h1`]).
pub struct HttpConnection {
    io: Io,
    cfg: Arc<ClientConfig>,
    host_header: HeaderValue,
    /// Set while an exchange is in flight and after any failure: a connection whose exchange
    /// failed or was cancelled midway is in an unknown state and is never reused.
    broken: bool,
    requests_sent: u64,
    /// The encoded request, reused between requests (a GET head is ~100 bytes).
    out: Vec<u8>,
    /// Empty between requests unless the config keeps read buffers.
    read_buf: Vec<u8>,
}

/// Resolves, connects (binding `source_addr` when given) on the config's network path and, for
/// `https`, does the TLS handshake: the byte stream under an HTTP connection, and under a chat
/// WebSocket, so both take the same path, source address and timings. Each phase is bounded by
/// `cfg.timeout`.
pub async fn open_stream(
    origin: &Origin,
    cfg: &ClientConfig,
    source_addr: Option<IpAddr>,
) -> Result<(Io, ConnectTimings), RequestError> {
    let (addr, dns) = resolve(origin, source_addr, cfg.timeout).await?;
    let plan = cfg.network.as_ref().map(|n| n.plan_connection());
    let handshake = plan.as_ref().map_or(Duration::ZERO, |p| p.handshake);
    let (tcp, connect) = connect_tcp(addr, source_addr, cfg.timeout, handshake).await?;
    let io = match plan {
        None => Io::Plain(tcp),
        Some(plan) => Io::Wrapped(Box::new(plan.wrap(tcp))),
    };
    let (io, tls) = match &origin.server_name {
        None => (io, None),
        Some(name) => {
            let start = Instant::now();
            let handshake = TlsConnector::from(cfg.tls.clone()).connect(name.clone(), io);
            let stream = timeout(cfg.timeout, handshake)
                .await
                .map_err(|_| RequestError::timed_out("TLS handshake"))?
                // An EOF or reset here is the peer hanging up (Reset); what rustls itself
                // rejected is Tls. `from_io` tells them apart.
                .map_err(|e| RequestError::from_io(&e, "TLS handshake"))?;
            let elapsed = start.elapsed();
            cfg.handshakes.count(stream.get_ref().1.handshake_kind());
            (Io::Wrapped(Box::new(stream)), Some(elapsed))
        }
    };
    Ok((io, ConnectTimings { dns, connect, tls }))
}

/// A failed exchange, plus whether [`Session`] may safely retry it on a fresh connection.
struct Failure {
    error: RequestError,
    retryable: bool,
}

/// An encoded request larger than this is not kept for the next one.
const KEEP_REQUEST_BUFFER: usize = 4 * 1024;

impl HttpConnection {
    /// Resolves, connects (binding `source_addr` when given) and, for `https`, does the TLS
    /// handshake. Each phase is bounded by `cfg.timeout`.
    pub async fn open(
        origin: &Origin,
        cfg: &Arc<ClientConfig>,
        source_addr: Option<IpAddr>,
    ) -> Result<(HttpConnection, ConnectTimings), RequestError> {
        let (io, timings) = open_stream(origin, cfg, source_addr).await?;
        let conn = HttpConnection {
            io,
            cfg: cfg.clone(),
            host_header: origin.host_header.clone(),
            broken: false,
            requests_sent: 0,
            out: Vec::new(),
            read_buf: Vec::new(),
        };
        Ok((conn, timings))
    }

    /// Sends one request on this connection; reads the whole body (counting bytes; keeps the
    /// body only when `keep_body`). The whole exchange is bounded by the configured timeout.
    pub async fn request(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
        keep_body: bool,
    ) -> Result<Response, RequestError> {
        self.send(method, path_and_query, body, keep_body, &[])
            .await
            .map_err(|f| f.error)
    }

    /// False once the server asked to close, or a request on it failed or was abandoned.
    pub fn is_usable(&self) -> bool {
        !self.broken
    }

    async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
        keep_body: bool,
        extra: &[(HeaderName, HeaderValue)],
    ) -> Result<Response, Failure> {
        let reused = self.requests_sent > 0;
        if reused && self.io.peer_hung_up() {
            // Nothing was sent: any method may go to a fresh connection.
            self.broken = true;
            return Err(Failure {
                error: RequestError::new(
                    ErrorKind::Reset,
                    "sending request: the server closed the idle connection",
                ),
                retryable: true,
            });
        }
        self.out.clear();
        // One allocation for a typical request head instead of a doubling series.
        self.out.reserve(256);
        let head = RequestHead {
            method: &method,
            path: path_and_query,
            // A configured Host / User-Agent replaces ours (virtual-host testing, app UA
            // strings); configured headers are written after these.
            host: (!self.cfg.has_host).then_some(&self.host_header),
            user_agent: (!self.cfg.has_user_agent).then_some(USER_AGENT),
            headers: &self.cfg.headers,
            extra,
            close: !self.cfg.keep_alive && !self.cfg.has_connection,
        };
        request::encode(&head, body.as_deref(), &mut self.out).map_err(|error| Failure {
            error,
            retryable: false,
        })?;
        self.requests_sent += 1;
        self.broken = true;
        if self.read_buf.capacity() == 0 {
            self.read_buf = buffers::take();
        }
        let start = Instant::now();
        let exchange = h1::exchange(
            &mut self.io,
            &self.out,
            method == Method::HEAD,
            keep_body,
            &mut self.read_buf,
        );
        // Pinned where it is made, so the timeout wraps a pointer, not a copy of the exchange.
        let result = timeout(self.cfg.timeout, std::pin::pin!(exchange)).await;
        if self.out.capacity() > KEEP_REQUEST_BUFFER {
            self.out = Vec::new();
        }
        // A buffer grown for a long response head is not kept either.
        if self.read_buf.capacity() > h1::READ_BUFFER {
            self.read_buf = Vec::new();
        } else if !self.cfg.keep_read_buffer {
            buffers::give_back(std::mem::take(&mut self.read_buf));
        }
        let failure = match result {
            Ok(Ok(done)) => {
                self.broken = !done.reusable || !self.cfg.keep_alive;
                return Ok(Response {
                    status: done.status,
                    location: done.location,
                    ttfb: done.head_at.saturating_duration_since(start),
                    total: start.elapsed(),
                    body_len: done.body_len,
                    body: done.body,
                    head: done.head,
                });
            }
            Err(_) => Failure {
                error: RequestError::timed_out("request"),
                retryable: false,
            },
            // Retry only what a stale keep-alive explains: a reused connection that failed
            // before any response byte. A request whose write failed never reached a server
            // whole; one that was sent is retried only if re-sending cannot duplicate a side
            // effect.
            Ok(Err(Stage::Write(e))) => Failure {
                error: RequestError::from_io(&e, "sending request"),
                retryable: reused,
            },
            Ok(Err(Stage::BeforeHead(error))) => Failure {
                retryable: reused && method.is_idempotent() && error.kind == ErrorKind::Reset,
                error,
            },
            Ok(Err(Stage::AfterHead(error))) => Failure {
                error,
                retryable: false,
            },
        };
        Err(failure)
    }
}

impl std::fmt::Debug for HttpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConnection")
            .field("usable", &self.is_usable())
            .field("requests_sent", &self.requests_sent)
            .finish()
    }
}
