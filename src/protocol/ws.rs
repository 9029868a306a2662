//! Chat over WebSocket: a timed connect (TCP, TLS for `wss`, the HTTP upgrade until `101`)
//! and the text format of peakready's chat messages. Knows nothing of rooms or metrics;
//! `engine::chat` runs the session.
//!
//! TLS is done here with the run's shared rustls config (the same one HTTP uses, so
//! `insecure_tls` applies) and the WebSocket handshake runs over that stream, so
//! tokio-tungstenite needs no TLS feature of its own.
//!
//! # Message format
//! `pr1 <sender> <seq> <sent_us>`: the sending viewer's id, its per-viewer sequence number,
//! and the send instant in µs since the process's chat epoch ([`epoch_us`]). All simulated
//! viewers of a run share one process, so one monotonic clock gives exact delivery times.
//! Across processes (shards) the timestamp would have to be wall clock, with the shards'
//! clock offset in the error. Anything else on the socket (other clients' chat) is ignored.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::WebSocketStream;
use url::Url;

use super::http::{open_stream, ClientConfig, Origin};
use crate::metrics::ErrorKind;

/// Any byte stream a WebSocket can run over (plain TCP or TLS).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub type ChatSocket = WebSocketStream<Box<dyn Io>>;

/// A failed connect, classified.
#[derive(Debug)]
pub struct ConnectError {
    pub kind: ErrorKind,
    pub detail: String,
}

fn err(kind: ErrorKind, detail: impl Into<String>) -> ConnectError {
    ConnectError {
        kind,
        detail: detail.into(),
    }
}

/// Opens `url` (`ws` or `wss`) and completes the upgrade. The connection takes the same path as
/// the viewer's HTTP connections ([`open_stream`]: the region's network profile, the viewer's
/// source address, TLS for `wss`) and sends the target's headers on the upgrade. Returns the
/// socket and the time from the start of the connect (DNS included) to the `101` (what a user
/// waits for "chat connecting"). Each phase is bounded by the client's timeout.
pub async fn connect(
    url: &Url,
    client: &ClientConfig,
    source_addr: Option<IpAddr>,
) -> Result<(ChatSocket, Duration), ConnectError> {
    let http_scheme = match url.scheme() {
        "ws" => "http",
        "wss" => "https",
        other => {
            return Err(err(
                ErrorKind::Other,
                format!("chat URL scheme {other:?}: use ws or wss"),
            ))
        }
    };
    let mut as_http = url.clone();
    as_http.set_scheme(http_scheme).map_err(|()| {
        err(
            ErrorKind::Other,
            format!("chat URL {url} has no HTTP equivalent"),
        )
    })?;
    let origin =
        Origin::from_url(&as_http).map_err(|e| err(ErrorKind::Other, format!("chat URL: {e}")))?;
    let limit = client.timeout;
    let start = Instant::now();
    let (io, _timings) = open_stream(&origin, client, source_addr)
        .await
        .map_err(|e| err(e.kind, format!("chat {}", e.detail)))?;
    let stream: Box<dyn Io> = Box::new(io);
    let headers = &client.headers;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| err(ErrorKind::Other, format!("chat request: {e}")))?;
    // The target's headers (e.g. `Authorization`) go on the upgrade too: an authenticated chat
    // would otherwise refuse every viewer. Values stay marked sensitive.
    for (name, value) in headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    let (socket, _response) = timeout(limit, tokio_tungstenite::client_async(request, stream))
        .await
        .map_err(|_| err(ErrorKind::Timeout, "chat upgrade: no 101 in time"))?
        .map_err(classify)?;
    Ok((socket, start.elapsed()))
}

/// A handshake that did not produce `101` is an upgrade failure, whatever the status.
fn classify(e: WsError) -> ConnectError {
    match e {
        WsError::Http(resp) => err(
            ErrorKind::WsUpgrade,
            format!("chat upgrade answered {}", resp.status()),
        ),
        WsError::Io(io) => err(io_kind(&io), format!("chat upgrade: {io}")),
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            err(ErrorKind::WsUpgrade, "chat upgrade: closed")
        }
        other => err(ErrorKind::WsUpgrade, format!("chat upgrade: {other}")),
    }
}

fn io_kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => ErrorKind::Refused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            ErrorKind::Reset
        }
        K::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Other,
    }
}

/// The error class for a close frame's code: 1008/1011/1013 are the ones a chat service uses
/// to shed or refuse load; anything else (or no frame) is a plain close.
pub fn close_kind(code: Option<u16>) -> ErrorKind {
    match code {
        Some(1008) => ErrorKind::WsClose1008,
        Some(1011) => ErrorKind::WsClose1011,
        Some(1013) => ErrorKind::WsClose1013,
        _ => ErrorKind::WsClosed,
    }
}

static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();

/// µs since the process's chat epoch (set on first use). Monotonic and shared by every
/// viewer task of the process.
pub fn epoch_us() -> u64 {
    let epoch = EPOCH.get_or_init(std::time::Instant::now);
    epoch.elapsed().as_micros().min(u128::from(u64::MAX)) as u64
}

/// One chat message as sent and received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatMessage {
    pub sender: u64,
    pub seq: u64,
    pub sent_us: u64,
}

impl ChatMessage {
    pub fn encode(&self) -> String {
        format!("pr1 {} {} {}", self.sender, self.seq, self.sent_us)
    }

    /// `None` for anything that is not a peakready message.
    pub fn decode(text: &str) -> Option<ChatMessage> {
        let mut parts = text.strip_prefix("pr1 ")?.split(' ');
        let mut next = || parts.next().and_then(|p| p.parse::<u64>().ok());
        let msg = ChatMessage {
            sender: next()?,
            seq: next()?,
            sent_us: next()?,
        };
        Some(msg)
    }

    /// A 64-bit id for duplicate detection.
    pub fn id(&self) -> u64 {
        self.sender.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ self.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_foreign_text_is_ignored() {
        let m = ChatMessage {
            sender: 42,
            seq: 7,
            sent_us: 123_456,
        };
        assert_eq!(ChatMessage::decode(&m.encode()), Some(m));
        assert_eq!(ChatMessage::decode("hello"), None);
        assert_eq!(ChatMessage::decode("pr1 1 2"), None);
        assert_eq!(ChatMessage::decode("pr1 x 2 3"), None);
    }

    #[test]
    fn close_codes_are_classified() {
        assert_eq!(close_kind(Some(1013)), ErrorKind::WsClose1013);
        assert_eq!(close_kind(Some(1008)), ErrorKind::WsClose1008);
        assert_eq!(close_kind(Some(1011)), ErrorKind::WsClose1011);
        assert_eq!(close_kind(Some(1000)), ErrorKind::WsClosed);
        assert_eq!(close_kind(None), ErrorKind::WsClosed);
    }
}
