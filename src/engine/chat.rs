//! A viewer's chat session: connect (timed as `chat_connect_ms`), send at
//! `messages_per_min`, and time every message from *another* simulated viewer of the same room
//! as `chat_delivery_ms` (send → receipt, one process-wide monotonic clock); with
//! `chat.delivery: echo`, time the viewer's *own* messages coming back instead (an echo server,
//! e.g. websocketd running `cat`, only ever returns those). Closes are
//! classified by code (1008/1011/1013/other) and followed by a reconnect with backoff while
//! the viewer is still watching.
//!
//! # Delivery ratio
//! Each room has shared atomic counters (touched once per send, no lock). A chat session
//! snapshots the room's sent count when it connects; at its cut-off it snapshots it again.
//! Expected = messages sent in the room in between minus its own; received = distinct messages
//! from others stamped inside that window. The cut-off is [`GRACE`] before the viewer leaves
//! (or, when the run ends, the viewer lingers [`GRACE`] after it) so messages still in flight
//! at the cut-off can arrive. Recorded per session-set (per viewer) as `chat_delivery_ratio`.
//! Edges are exact to a few µs (a send racing the snapshot may be miscounted by one).
//!
//! Duplicates are detected over the last [`DUP_WINDOW`] messages a viewer received (a fixed
//! ring: memory stays constant whatever the room size).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

use crate::metrics::{ErrorKind, Metric, RecorderHandle};
use crate::protocol::http::ClientConfig;
use crate::protocol::ws::{self, epoch_us, ChatMessage};
use crate::scenario::ChatDelivery;

/// Time left for in-flight messages between a session's cut-off and its close.
pub const GRACE: Duration = Duration::from_secs(1);
/// Received message ids remembered for duplicate detection.
pub const DUP_WINDOW: usize = 32;
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// What every viewer's chat shares, built once per run.
pub struct ChatSpec {
    /// Per region: the resolved `ws://` / `wss://` URL.
    pub url: Vec<Url>,
    pub interval: Duration,
    pub rooms: Rooms,
    /// Echo: a viewer's own message coming back is its delivery (any echo WebSocket server).
    pub echo: bool,
}

impl ChatSpec {
    pub fn new(url: Vec<Url>, messages_per_min: f64, delivery: ChatDelivery) -> ChatSpec {
        // Validation guarantees a positive rate; the floor keeps a typo from busy-looping.
        let interval = Duration::from_secs_f64(60.0 / messages_per_min.max(1e-3))
            .max(Duration::from_millis(10));
        ChatSpec {
            url,
            interval,
            rooms: Rooms::default(),
            echo: delivery == ChatDelivery::Echo,
        }
    }
}

/// The chat URL for a region: absolute `ws://`/`wss://` as written, or relative to the
/// region's base URL with `http` → `ws` and `https` → `wss`.
pub fn resolve_url(base: &Url, chat: &str) -> Result<Url, String> {
    let mut url = base.join(chat).map_err(|e| e.to_string())?;
    let scheme = match url.scheme() {
        "http" => "ws",
        "https" => "wss",
        "ws" | "wss" => return Ok(url),
        other => return Err(format!("scheme {other:?} is not ws, wss, http or https")),
    };
    url.set_scheme(scheme)
        .map_err(|()| format!("cannot use {scheme} with {url}"))?;
    Ok(url)
}

/// Per-room counters, keyed by chat URL (which names the room).
#[derive(Default)]
pub struct Rooms(Mutex<HashMap<String, Arc<AtomicU64>>>);

impl Rooms {
    /// Taken once per viewer, never per message.
    fn sent_counter(&self, url: &Url) -> Arc<AtomicU64> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(url.as_str().to_owned()).or_default().clone()
    }
}

/// Who is chatting, for recording.
pub struct ChatViewer {
    pub rec: RecorderHandle,
    /// The viewer's region's client: its network profile, TLS config, headers and timeout.
    pub client: Arc<ClientConfig>,
    /// The viewer's source address, as for its HTTP connections.
    pub source_addr: Option<IpAddr>,
    pub region: u16,
    pub phase: u16,
    pub viewer_id: u64,
    /// First send offset within the interval, so a crowd does not send in lockstep.
    pub offset: Duration,
    /// This viewer's own chat URL, when `viewer.chat.url` is made from its variables.
    pub url: Option<Url>,
}

#[derive(Default)]
struct Tally {
    expected: u64,
    received: u64,
    reconnects: u64,
    ring: [u64; DUP_WINDOW],
    ring_len: usize,
    ring_next: usize,
    seq: u64,
}

impl Tally {
    /// False when `id` was seen recently (a duplicate).
    fn remember(&mut self, id: u64) -> bool {
        if self.ring[..self.ring_len].contains(&id) {
            return false;
        }
        self.ring[self.ring_next] = id;
        self.ring_next = (self.ring_next + 1) % DUP_WINDOW;
        self.ring_len = (self.ring_len + 1).min(DUP_WINDOW);
        true
    }
}

/// Chats until `leave_at` or the end of the run, reconnecting after closes.
pub async fn run_chat(
    spec: &ChatSpec,
    who: ChatViewer,
    leave_at: Instant,
    mut ending: watch::Receiver<bool>,
) {
    let Some(url) = who.url.as_ref().or(spec.url.get(who.region as usize)) else {
        return;
    };
    let sent = spec.rooms.sent_counter(url);
    let mut tally = Tally::default();
    let mut backoff = BACKOFF_START;
    let mut attempts = 0u64;
    loop {
        if Instant::now() + GRACE >= leave_at || *ending.borrow() {
            break;
        }
        if attempts > 0 {
            tally.reconnects += 1;
        }
        attempts += 1;
        match ws::connect(url, &who.client, who.source_addr).await {
            Ok((socket, took)) => {
                who.rec
                    .duration(who.region, who.phase, Metric::ChatConnectMs, took);
                who.rec.request(who.region, who.phase, None);
                backoff = BACKOFF_START;
                let closed =
                    session(spec, &who, socket, &sent, &mut tally, leave_at, &mut ending).await;
                match closed {
                    None => break,
                    Some(kind) => who.rec.request(who.region, who.phase, Some(kind)),
                }
            }
            Err(e) => who.rec.request(who.region, who.phase, Some(e.kind)),
        }
        let retry_at = (Instant::now() + backoff).min(leave_at);
        backoff = (backoff * 2).min(BACKOFF_MAX);
        tokio::select! {
            _ = tokio::time::sleep_until(retry_at) => {}
            _ = ended(&mut ending) => break,
        }
    }
    let (r, p) = (who.region, who.phase);
    if attempts > 0 {
        who.rec
            .sample(r, p, Metric::ChatReconnects, tally.reconnects);
    }
    if tally.expected > 0 {
        let ratio = (tally.received.min(tally.expected) as f64 / tally.expected as f64 * 1e6)
            .round() as u64;
        who.rec.sample(r, p, Metric::ChatDeliveryRatio, ratio);
    }
}

/// One connected session. Returns `None` when it ended because the viewer left, or the
/// close's error class when the server (or the network) ended it.
async fn session(
    spec: &ChatSpec,
    who: &ChatViewer,
    mut socket: ws::ChatSocket,
    sent: &AtomicU64,
    tally: &mut Tally,
    leave_at: Instant,
    ending: &mut watch::Receiver<bool>,
) -> Option<ErrorKind> {
    let (t0, s0) = (epoch_us(), sent.load(Ordering::Acquire));
    let mut own = 0u64;
    let mut received = 0u64;
    // (cut-off µs, room count at cut-off), once the cut-off has passed.
    let mut cutoff: Option<u64> = None;
    let mut close_at = leave_at;
    let mut next_send = Instant::now() + who.offset;
    let cut_at = leave_at.checked_sub(GRACE).unwrap_or(leave_at);
    let cut = |cutoff: &mut Option<u64>, own: u64, received: u64, tally: &mut Tally| {
        if cutoff.is_none() {
            let now = epoch_us();
            let s1 = sent.load(Ordering::Acquire);
            *cutoff = Some(now);
            // Echo: only this viewer's own messages come back; fan-out: everyone else's.
            tally.expected += if spec.echo {
                own
            } else {
                s1.saturating_sub(s0).saturating_sub(own)
            };
            tally.received += received;
        }
    };
    let result = loop {
        let sending = cutoff.is_none();
        tokio::select! {
            _ = tokio::time::sleep_until(next_send), if sending && next_send < cut_at => {
                tally.seq += 1;
                let msg = ChatMessage { sender: who.viewer_id, seq: tally.seq, sent_us: epoch_us() };
                sent.fetch_add(1, Ordering::AcqRel);
                own += 1;
                next_send += spec.interval;
                if socket.send(Message::text(msg.encode())).await.is_err() {
                    break Some(ErrorKind::WsClosed);
                }
            }
            _ = tokio::time::sleep_until(cut_at), if sending => {
                cut(&mut cutoff, own, received, tally);
            }
            _ = ended(ending), if sending => {
                cut(&mut cutoff, own, received, tally);
                close_at = Instant::now() + GRACE;
            }
            _ = tokio::time::sleep_until(close_at), if !sending => break None,
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let Some(msg) = ChatMessage::decode(&text) else { continue };
                    if (msg.sender == who.viewer_id) != spec.echo {
                        continue;
                    }
                    if !tally.remember(msg.id()) {
                        who.rec.request(who.region, who.phase, Some(ErrorKind::ChatDuplicate));
                        continue;
                    }
                    let now = epoch_us();
                    let delivery = Duration::from_micros(now.saturating_sub(msg.sent_us));
                    who.rec.duration(who.region, who.phase, Metric::ChatDeliveryMs, delivery);
                    let in_window = msg.sent_us >= t0 && cutoff.map_or(true, |c| msg.sent_us <= c);
                    if in_window {
                        if cutoff.is_none() {
                            received += 1;
                        } else {
                            tally.received += 1;
                        }
                    }
                }
                Some(Ok(Message::Close(frame))) => break Some(ws::close_kind(frame.map(|f| u16::from(f.code)))),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break Some(ErrorKind::WsClosed),
            },
        }
    };
    // A session the server ended: its window closes now, what was in flight is lost.
    cut(&mut cutoff, own, received, tally);
    if result.is_none() {
        let _ = socket.close(None).await;
    }
    result
}

/// Resolves once the run is ending (the guard `wait_for` returns is not `Send`, so it is
/// dropped here rather than held across a `select!`).
async fn ended(ending: &mut watch::Receiver<bool>) {
    let _ = ending.wait_for(|e| *e).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_urls_follow_the_page_scheme() {
        let base = Url::parse("https://edge.example:8443/app/").expect("url");
        assert_eq!(
            resolve_url(&base, "/chat?room=a").map(String::from),
            Ok("wss://edge.example:8443/chat?room=a".into())
        );
        let base = Url::parse("http://127.0.0.1:9/").expect("url");
        assert_eq!(
            resolve_url(&base, "chat").map(String::from),
            Ok("ws://127.0.0.1:9/chat".into())
        );
        assert_eq!(
            resolve_url(&base, "ws://x/c").map(String::from),
            Ok("ws://x/c".into())
        );
    }

    #[test]
    fn duplicates_are_caught_within_the_window() {
        let mut t = Tally::default();
        assert!(t.remember(1));
        assert!(!t.remember(1));
        for id in 2..(2 + DUP_WINDOW as u64) {
            assert!(t.remember(id));
        }
        assert!(t.remember(1), "1 has left the window");
    }
}
