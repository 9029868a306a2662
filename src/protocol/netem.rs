//! A region's network profile applied to a client stream, in process: delay, jitter, loss and
//! bandwidth on each direction of one connection, as its application would see them above TCP.
//!
//! # Model (see `docs/network-emulation.md` for the limits)
//! - RTT = `rtt_ms` + `origin_rtt_ms`; each direction gets half of it as one-way delay, and
//!   half of `jitter_ms` as a uniform ± spread, so round trips vary by up to ±`jitter_ms`.
//! - Each direction is a link of `down_kbps` / `up_kbps` (0 = unlimited) that sends one
//!   1460-byte packet at a time (40 header bytes counted against the rate).
//! - Each packet is lost with `loss_pct`; a lost one arrives one RTO later
//!   (RTT + max(200 ms, 4 × jitter), Linux's formula) and holds back everything behind it.
//! - Delivery is in order: jitter never lets a later packet overtake an earlier one.
//! - The TCP handshake costs one RTT (SYN → SYN-ACK), paid by the connector as an explicit
//!   sleep since the real handshake happened on loopback; a lost SYN or SYN-ACK adds the 1 s
//!   initial RTO. TLS pays its round trips naturally through [`Emulated`].
//!
//! Everything random comes from a per-connection `SmallRng` derived from the configured seed
//! and the connection's ordinal, so a profile's draws are reproducible per connection.
//!
//! A region without a profile must not pay for any of this: [`Netem::new`] returns `None` for
//! a profile that changes nothing, and the connector then uses the bare socket type.

mod pipe;
#[cfg(test)]
mod tests;

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::scenario::NetworkProfile;
use pipe::{Link, Pipe, HEADER_BYTES, MSS, RTO_MIN};

/// RFC 6298's initial RTO (Linux `TCP_TIMEOUT_INIT`): what a lost SYN or SYN-ACK costs.
const SYN_RTO: Duration = Duration::from_secs(1);
/// Bytes read from the real socket per call.
const READ_CHUNK: usize = 16 * 1024;

/// A profile turned into per-direction link parameters, shared by every connection of a
/// region. Cheap to clone into an `Arc`; hands out one [`ConnectionPlan`] per connection.
#[derive(Debug)]
pub struct Netem {
    profile: NetworkProfile,
    down: Link,
    up: Link,
    rtt: Duration,
    seed: u64,
    connections: AtomicU64,
}

impl Netem {
    /// `None` when the profile changes nothing (no delay, jitter, loss or rate limit), so the
    /// caller can skip the wrapper entirely. Negative or NaN values count as 0 (the scenario
    /// validator rejects them; this is belt and braces for direct API use).
    pub fn new(profile: &NetworkProfile, seed: u64) -> Option<Netem> {
        let ms =
            |v: f64| Duration::from_secs_f64(if v.is_finite() { v.max(0.0) } else { 0.0 } / 1000.0);
        let rtt = ms(profile.rtt_ms) + ms(profile.origin_rtt_ms);
        let jitter = ms(profile.jitter_ms);
        let loss = if profile.loss_pct.is_finite() {
            (profile.loss_pct / 100.0).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let kbps = |k: u64| (k > 0).then_some(k);
        if rtt.is_zero()
            && jitter.is_zero()
            && loss == 0.0
            && profile.down_kbps == 0
            && profile.up_kbps == 0
        {
            return None;
        }
        // Linux: RTO = SRTT + max(rto_min, 4·RTTVAR). Jitter stands in for RTTVAR.
        let rto = rtt + RTO_MIN.max(jitter * 4);
        let link = |k: u64| Link {
            one_way: rtt / 2,
            jitter: jitter / 2,
            loss,
            kbps: kbps(k),
            rto,
        };
        Some(Netem {
            profile: profile.clone(),
            down: link(profile.down_kbps),
            up: link(profile.up_kbps),
            rtt,
            seed,
            connections: AtomicU64::new(0),
        })
    }

    /// The profile this was built from (for reports).
    pub fn profile(&self) -> &NetworkProfile {
        &self.profile
    }

    /// Round-trip time including `origin_rtt_ms`, without jitter.
    pub fn rtt(&self) -> Duration {
        self.rtt
    }

    /// Draws what the next connection gets: its handshake cost and its random stream.
    pub fn plan_connection(&self) -> ConnectionPlan {
        let ordinal = self.connections.fetch_add(1, Ordering::Relaxed);
        let mut rng = SmallRng::seed_from_u64(splitmix(self.seed ^ splitmix(ordinal)));
        let mut handshake = self.rtt;
        // The handshake is two packets; either being lost costs the initial RTO.
        let p_lost = 1.0 - (1.0 - self.down.loss) * (1.0 - self.up.loss);
        if p_lost > 0.0 && rng.gen_bool(p_lost.clamp(0.0, 1.0)) {
            handshake += SYN_RTO;
        }
        ConnectionPlan {
            handshake,
            down: self.down,
            up: self.up,
            rng,
        }
    }
}

/// One connection's share of a [`Netem`]: sleep for `handshake` after the real TCP connect,
/// then [`ConnectionPlan::wrap`] the socket.
#[derive(Debug)]
pub struct ConnectionPlan {
    /// What the TCP handshake should have cost on the emulated path.
    pub handshake: Duration,
    down: Link,
    up: Link,
    rng: SmallRng,
}

impl ConnectionPlan {
    /// Wraps the client's side of a connection. Must be called inside a Tokio runtime (the
    /// wrapper owns timers).
    pub fn wrap<S>(self, inner: S) -> Emulated<S> {
        Emulated {
            inner,
            down: Pipe::new(self.down),
            up: Pipe::new(self.up),
            rng: self.rng,
            end: None,
        }
    }
}

/// How the inner stream's read side ended, delivered after the data queued before it.
#[derive(Debug)]
struct End {
    due: Instant,
    /// `None` = clean EOF.
    error: Option<io::Error>,
}

/// A stream whose bytes take the emulated path: reads are held until their packets would have
/// arrived; writes are queued and handed to the real socket when they would have arrived at
/// the server. Wrap the TCP socket (under TLS) so handshake bytes are shaped too.
///
/// Queued writes progress whenever the stream is polled (read, write, flush or shutdown), and
/// a timer wakes the polling task when the next chunk is due. A client that writes and then
/// awaits the reply (HTTP, TLS) always polls; one that only writes should `shutdown` at the end,
/// which waits until everything was handed on.
#[derive(Debug)]
pub struct Emulated<S> {
    inner: S,
    /// Server → client.
    down: Pipe,
    /// Client → server.
    up: Pipe,
    rng: SmallRng,
    end: Option<End>,
}

impl<S> Emulated<S> {
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncWrite + Unpin> Emulated<S> {
    /// Hands every due chunk of the write queue to the real socket. `Ready(Ok)` once the queue
    /// is empty; `Pending` with a waker registered (timer or socket) otherwise.
    fn drive_writes(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.up.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let now = Instant::now();
            let Some(head) = self.up.due_head(now) else {
                if self.up.wait_head(cx).is_pending() {
                    return Poll::Pending;
                }
                continue;
            };
            match Pin::new(&mut self.inner).poll_write(cx, head) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.up.consume(n),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Emulated<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // A writer that never flushes (it waits for the reply instead) still gets its bytes
        // out. A write error here resurfaces on the next write, where it belongs.
        let _ = this.drive_writes(cx);

        // Pull what the real socket has, stamping it with its emulated arrival.
        while this.end.is_none() && this.down.room() > 0 {
            let mut tmp = [0u8; READ_CHUNK];
            let want = this.down.room().min(READ_CHUNK);
            let mut rb = ReadBuf::new(&mut tmp[..want]);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => break,
                Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                    // FIN travels the path like data: after it, and one delay later.
                    let due = this
                        .down
                        .last_due()
                        .max(Instant::now() + this.down.link().one_way);
                    this.end = Some(End { due, error: None });
                }
                Poll::Ready(Ok(())) => {
                    let data = Bytes::copy_from_slice(rb.filled());
                    this.down.admit(data, Instant::now(), &mut this.rng);
                }
                Poll::Ready(Err(e)) => {
                    // A reset reaches the application as soon as it arrives; what was queued
                    // before it is still delivered first.
                    let due = this.down.last_due().max(Instant::now());
                    this.end = Some(End {
                        due,
                        error: Some(e),
                    });
                }
            }
        }

        let now = Instant::now();
        let mut delivered = false;
        while buf.remaining() > 0 {
            let Some(head) = this.down.due_head(now) else {
                break;
            };
            let n = head.len().min(buf.remaining());
            buf.put_slice(&head[..n]);
            this.down.consume(n);
            delivered = true;
        }
        if delivered {
            return Poll::Ready(Ok(()));
        }
        if !this.down.is_empty() {
            if this.down.wait_head(cx).is_ready() {
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
        if let Some(end) = this.end.as_mut() {
            if end.due <= now {
                return Poll::Ready(match end.error.take() {
                    Some(e) => Err(e),
                    None => Ok(()),
                });
            }
            let due = end.due;
            if this.down.wait_until(due, cx).is_ready() {
                cx.waker().wake_by_ref();
            }
        }
        // Otherwise the inner socket returned Pending above and holds our waker.
        Poll::Pending
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Emulated<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(e)) = this.drive_writes(cx) {
            return Poll::Ready(Err(e));
        }
        let room = this.up.room();
        if room == 0 {
            // drive_writes registered a waker: the queue is non-empty.
            return Poll::Pending;
        }
        let n = buf.len().min(room);
        this.up.admit(
            Bytes::copy_from_slice(&buf[..n]),
            Instant::now(),
            &mut this.rng,
        );
        // Zero-delay chunks go out now; otherwise this arms the timer for the caller's task.
        let _ = this.drive_writes(cx);
        Poll::Ready(Ok(n))
    }

    /// Flushing a socket means "handed to the kernel", not "arrived": so here it means handed
    /// to the emulated path. Waiting for arrival would charge a TLS handshake half an RTT for
    /// its last flight. What is still queued goes out from later polls: the timer armed here
    /// wakes this task, and [`Emulated::poll_read`] (which an HTTP or TLS client keeps polling
    /// while it awaits a reply) pushes due bytes.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(e)) = this.drive_writes(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.drive_writes(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

/// SplitMix64 finaliser: spreads (seed, ordinal) pairs so neighbouring connections don't get
/// correlated `SmallRng` streams.
/// The least time `profile`'s emulated path needs to deliver a response of `payload` bytes on
/// an open connection: one round trip for the request, then the bytes (with their packets'
/// headers, as the shaper counts them) at `down_kbps`. `None` without a downlink limit: then
/// the path sets no floor a download can be compared with.
pub fn delivery_floor(profile: &NetworkProfile, payload: u64) -> Option<Duration> {
    if profile.down_kbps == 0 {
        return None;
    }
    let ms = |v: f64| if v.is_finite() { v.max(0.0) } else { 0.0 };
    let rtt_s = (ms(profile.rtt_ms) + ms(profile.origin_rtt_ms)) / 1000.0;
    let packets = payload.div_ceil(MSS as u64);
    let bits = (payload + packets * HEADER_BYTES) * 8;
    Some(Duration::from_secs_f64(
        rtt_s + bits as f64 / (profile.down_kbps as f64 * 1000.0),
    ))
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
