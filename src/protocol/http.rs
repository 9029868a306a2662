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
//! - `ttfb`: from handing the request to hyper (the connection already free) to the response
//!   head parsed. hyper writes from its connection task and does not report when the write
//!   finished, so this includes the write (one small `write` for a GET) and one task hand-off.
//! - `total`: same start, until the last body byte was read.
//!
//! Each phase (DNS, connect, TLS, whole request including body) is bounded by
//! [`ClientConfig::timeout`].
//!
//! # Network emulation
//! A config made with [`ClientConfig::with_network`] puts every connection on an emulated path
//! ([`crate::netem`]): `connect` includes the handshake's emulated round trip, and TLS and
//! every request pay the path's delay, rate and loss. Without a profile the socket is used
//! bare (the open path is generic over the stream type, so there is no wrapper to pay for).

mod body;
mod connect;
mod error;
mod session;
#[cfg(test)]
mod tests;

pub use error::RequestError;
pub use session::Session;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};
use tokio_rustls::TlsConnector;

use crate::metrics::ErrorKind;
use crate::netem::Netem;
use crate::scenario::NetworkProfile;
use body::{body_hint, KeptBody};
use connect::{connect_tcp, resolve};

const USER_AGENT: &str = concat!("peakready/", env!("CARGO_PKG_VERSION"));

/// Settings shared by every connection of a run. Build once with [`ClientConfig::new`] and share
/// the `Arc`; the TLS config inside is expensive to build and is never rebuilt per connection.
#[derive(Debug)]
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
            headers: parsed,
            tls: super::tls::client_config(insecure_tls)?,
            network: None,
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
            network: profile
                .as_ref()
                .and_then(|p| Netem::new(p, seed))
                .map(Arc::new),
        })
    }

    /// The network profile connections emulate, if any.
    pub fn network(&self) -> Option<&NetworkProfile> {
        self.network.as_deref().map(Netem::profile)
    }
}

/// Per-connection read buffer (see `start_http1`).
const READ_BUFFER: usize = 8 * 1024;

/// Largest response body kept in memory (playlists, `expect_body`); larger ones are counted only.
pub const MAX_KEPT_BODY: u64 = 4 << 20;

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
    /// Host name for DNS (IPv6 literals without brackets).
    pub host: String,
    pub port: u16,
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
        let (host, ip) = match url.host() {
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
            host,
            port,
            ip,
            server_name,
            host_header,
        })
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
    /// Request handed to the connection → response head received.
    pub ttfb: Duration,
    /// Same start → last body byte received.
    pub total: Duration,
    /// Body bytes received (after transfer decoding).
    pub body_len: u64,
    /// The body, when the request asked to keep it.
    pub body: Option<Bytes>,
}

/// One HTTP/1.1 keep-alive connection. hyper's connection driver runs in its own task; this
/// struct holds the sending half.
pub struct HttpConnection {
    sender: http1::SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
    cfg: Arc<ClientConfig>,
    host_header: HeaderValue,
    /// Set on any failure: the connection's state is unknown, so it is never reused.
    broken: bool,
    requests_sent: u64,
}

/// A failed exchange, plus whether [`Session`] may safely retry it on a fresh connection.
struct Failure {
    error: RequestError,
    retryable: bool,
}

/// Where in the exchange hyper failed; decides whether a retry is safe.
enum Stage {
    /// The request never left: always safe to send elsewhere.
    NotSent(hyper::Error),
    /// Sent (perhaps partly) but no response byte came back.
    BeforeHead(hyper::Error),
    /// The head arrived; the body did not complete.
    Body(hyper::Error),
}

impl HttpConnection {
    /// Resolves, connects (binding `source_addr` when given) and, for `https`, does the TLS
    /// handshake. Each phase is bounded by `cfg.timeout`.
    pub async fn open(
        origin: &Origin,
        cfg: &Arc<ClientConfig>,
        source_addr: Option<IpAddr>,
    ) -> Result<(HttpConnection, ConnectTimings), RequestError> {
        let (addr, dns) = resolve(origin, source_addr, cfg.timeout).await?;
        let plan = cfg.network.as_ref().map(|n| n.plan_connection());
        let handshake = plan.as_ref().map_or(Duration::ZERO, |p| p.handshake);
        let (tcp, connect) = connect_tcp(addr, source_addr, cfg.timeout, handshake).await?;
        // Two monomorphised paths rather than one boxed or enum stream: the unemulated one is
        // exactly the code that ran before emulation existed.
        let (sender, driver, tls) = match plan {
            None => establish(origin, cfg, tcp).await?,
            Some(plan) => establish(origin, cfg, plan.wrap(tcp)).await?,
        };
        let conn = HttpConnection {
            sender,
            driver,
            cfg: cfg.clone(),
            host_header: origin.host_header.clone(),
            broken: false,
            requests_sent: 0,
        };
        Ok((conn, ConnectTimings { dns, connect, tls }))
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
        self.send(method, path_and_query, body, keep_body)
            .await
            .map_err(|f| f.error)
    }

    /// False once the server closed the connection or a request on it failed.
    pub fn is_usable(&self) -> bool {
        !self.broken && !self.sender.is_closed()
    }

    async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
        keep_body: bool,
    ) -> Result<Response, Failure> {
        let uri = Uri::try_from(path_and_query).map_err(|_| Failure {
            error: RequestError::new(ErrorKind::Other, "invalid request path"),
            retryable: false,
        })?;
        let idempotent = method.is_idempotent();
        let reused = self.requests_sent > 0;
        self.requests_sent += 1;
        let req = self.build(method, uri, body);

        let result = timeout(self.cfg.timeout, self.exchange(req, keep_body)).await;
        let failure = match result {
            Ok(Ok(resp)) => return Ok(resp),
            Err(_) => Failure {
                error: RequestError::timed_out("request"),
                retryable: false,
            },
            // Retry only what a stale keep-alive explains: a reused connection that failed
            // before any response byte, and only if re-sending cannot duplicate a side effect.
            Ok(Err(Stage::NotSent(e))) => Failure {
                retryable: reused,
                error: RequestError::from_hyper(&e, "sending request"),
            },
            Ok(Err(Stage::BeforeHead(e))) => {
                let error = RequestError::from_hyper(&e, "awaiting response");
                Failure {
                    retryable: reused && idempotent && error.kind == ErrorKind::Reset,
                    error,
                }
            }
            Ok(Err(Stage::Body(e))) => Failure {
                error: RequestError::from_hyper(&e, "reading body"),
                retryable: false,
            },
        };
        self.broken = true;
        // Release the socket now rather than whenever hyper notices: a load generator leaking
        // half-dead sockets under errors runs out of ports exactly when it matters.
        self.driver.abort();
        Err(failure)
    }

    fn build(&self, method: Method, uri: Uri, body: Option<Bytes>) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(body.unwrap_or_default()));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        let headers = req.headers_mut();
        headers.reserve(self.cfg.headers.len() + 2);
        // A configured Host / User-Agent replaces ours (virtual-host testing, app UA strings).
        if !self.cfg.has_host {
            headers.insert(header::HOST, self.host_header.clone());
        }
        if !self.cfg.has_user_agent {
            headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        }
        for (name, value) in &self.cfg.headers {
            headers.append(name.clone(), value.clone());
        }
        req
    }

    async fn exchange(
        &mut self,
        req: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> Result<Response, Stage> {
        // Waiting for the connection to become free is not the server's latency.
        self.sender.ready().await.map_err(Stage::NotSent)?;
        let start = Instant::now();
        let head = match self.sender.try_send_request(req).await {
            Ok(head) => head,
            Err(mut e) => {
                let unsent = e.take_message().is_some();
                let err = e.into_error();
                return Err(if unsent {
                    Stage::NotSent(err)
                } else {
                    Stage::BeforeHead(err)
                });
            }
        };
        let ttfb = start.elapsed();
        let status = head.status().as_u16();
        let mut body = head.into_body();
        let mut kept = keep_body.then(|| KeptBody::with_hint(body_hint(&body)));
        let mut body_len = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(Stage::Body)?;
            if let Ok(data) = frame.into_data() {
                body_len += data.len() as u64;
                if body_len > MAX_KEPT_BODY {
                    // Bodies are kept for playlists and `expect_body` checks; a server answering
                    // with something huge must not grow a viewer's memory without bound. The
                    // body is still read and counted; the caller sees no body (e.g. "not HLS").
                    kept = None;
                }
                if let Some(k) = kept.as_mut() {
                    k.push(data);
                }
            }
        }
        Ok(Response {
            status,
            ttfb,
            total: start.elapsed(),
            body_len,
            body: kept.map(KeptBody::finish),
        })
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

/// TLS (for `https`) and the HTTP/1.1 handshake on a connected stream.
async fn establish<T>(
    origin: &Origin,
    cfg: &ClientConfig,
    io: T,
) -> Result<
    (
        http1::SendRequest<Full<Bytes>>,
        JoinHandle<()>,
        Option<Duration>,
    ),
    RequestError,
>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let Some(name) = &origin.server_name else {
        let (s, d) = start_http1(io).await?;
        return Ok((s, d, None));
    };
    let start = Instant::now();
    let handshake = TlsConnector::from(cfg.tls.clone()).connect(name.clone(), io);
    let stream = timeout(cfg.timeout, handshake)
        .await
        .map_err(|_| RequestError::timed_out("TLS handshake"))?
        // An EOF or reset here is the peer hanging up (Reset); what rustls itself rejected is
        // Tls. `from_io` tells them apart.
        .map_err(|e| RequestError::from_io(&e, "TLS handshake"))?;
    let tls = start.elapsed();
    let (s, d) = start_http1(stream).await?;
    Ok((s, d, Some(tls)))
}

async fn start_http1<T>(
    io: T,
) -> Result<(http1::SendRequest<Full<Bytes>>, JoinHandle<()>), RequestError>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    // A fixed 8 KiB read buffer: hyper's adaptive buffer grows towards 400 KiB on large bodies,
    // and with one connection per simulated viewer that, not the viewer, dominated memory.
    let (sender, conn) = http1::Builder::new()
        .read_buf_exact_size(Some(READ_BUFFER))
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| RequestError::from_hyper(&e, "HTTP handshake"))?;
    // The driver's own result is dropped on purpose: any failure reaches the in-flight request
    // through the sender, where it is classified once.
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((sender, driver))
}
