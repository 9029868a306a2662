//! One direction of an emulated path: a queue of packet-sized chunks, each stamped with the
//! instant it may be handed on. Owns the arithmetic of the model (serialisation at the link
//! rate, one-way delay plus jitter, loss as a retransmission timeout, in-order delivery); the
//! I/O plumbing around it lives in [`super::Emulated`].

use std::collections::VecDeque;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use rand::rngs::SmallRng;
use rand::Rng;
use tokio::time::{Instant, Sleep};

/// Payload bytes per emulated packet: an Ethernet MTU (1500) minus IPv4 + TCP headers.
pub(crate) const MSS: usize = 1460;
/// IPv4 + TCP header bytes per packet. A shaper such as `tc` counts them against the rate, so
/// we do too: payload throughput at a 2000 kbit/s link is ~1946 kbit/s, as on a real one.
pub(crate) const HEADER_BYTES: u64 = 40;
/// Linux's `TCP_RTO_MIN`: RFC 6298 allows 1 s, every deployed stack uses 200 ms.
pub(crate) const RTO_MIN: Duration = Duration::from_millis(200);

/// The parameters of one direction, fixed per connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Link {
    /// Propagation delay, before jitter.
    pub one_way: Duration,
    /// Each chunk's delay is `one_way` ± up to this, uniformly (as `tc netem delay D J`).
    pub jitter: Duration,
    /// Probability in [0, 1] that a chunk is lost once and retransmitted.
    pub loss: f64,
    /// Link rate; `None` = unlimited.
    pub kbps: Option<u64>,
    /// How late a lost chunk arrives: what a sender's retransmission timer would wait.
    pub rto: Duration,
}

impl Link {
    /// Time to put `payload` bytes (plus their packet headers) on the wire.
    fn serialisation(&self, payload: usize) -> Duration {
        match self.kbps {
            None => Duration::ZERO,
            Some(kbps) => {
                let bits = (payload as u64 + HEADER_BYTES) * 8;
                // bits / (kbps × 1000) s = bits × 1e6 / kbps ns.
                Duration::from_nanos(bits.saturating_mul(1_000_000) / kbps.max(1))
            }
        }
    }

    /// Bytes the queue may hold before we stop accepting more: enough for the link to stay
    /// busy through one delay plus a retransmission (so the cap never lowers the throughput
    /// below the configured rate), and not so much that thousands of viewers on a slow link
    /// buffer whole segments in our memory. Unlimited links get a fixed window, like a TCP
    /// receive window: it bounds throughput to window ÷ one-way delay, far above any preset.
    pub(crate) fn queue_cap(&self) -> usize {
        const FLOOR: usize = 64 * 1024;
        const UNLIMITED: usize = 4 * 1024 * 1024;
        match self.kbps {
            None => UNLIMITED,
            Some(kbps) => {
                let span = self.one_way + self.jitter + self.rto;
                let bytes = kbps as f64 * 1000.0 / 8.0 * span.as_secs_f64() * 2.0;
                (bytes as usize).clamp(FLOOR, UNLIMITED)
            }
        }
    }
}

struct Chunk {
    data: Bytes,
    due: Instant,
}

/// The queue of one direction and the timer that wakes its reader/writer.
pub(crate) struct Pipe {
    link: Link,
    queue: VecDeque<Chunk>,
    queued: usize,
    cap: usize,
    /// When the emulated link finishes sending what it has been given so far.
    link_free: Instant,
    /// Due instant of the newest chunk: no later chunk is due before it (TCP delivers in order).
    last_due: Instant,
    timer: Pin<Box<Sleep>>,
}

impl Pipe {
    pub(crate) fn new(link: Link) -> Pipe {
        let now = Instant::now();
        Pipe {
            link,
            queue: VecDeque::new(),
            queued: 0,
            cap: link.queue_cap(),
            link_free: now,
            last_due: now,
            timer: Box::pin(tokio::time::sleep_until(now)),
        }
    }

    pub(crate) fn link(&self) -> &Link {
        &self.link
    }

    /// Room left before the cap; 0 means "stop accepting until something drains".
    pub(crate) fn room(&self) -> usize {
        self.cap.saturating_sub(self.queued)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// When the last chunk admitted so far is due (or now, if nothing was ever queued late).
    pub(crate) fn last_due(&self) -> Instant {
        self.last_due
    }

    /// Queues `data`, which entered the path at `now`, split into packet-sized chunks.
    pub(crate) fn admit(&mut self, mut data: Bytes, now: Instant, rng: &mut SmallRng) {
        while !data.is_empty() {
            let chunk = data.split_to(data.len().min(MSS));
            // The link sends one packet at a time: this one starts when it arrives or when
            // the previous one is off the wire, whichever is later. That is a token bucket
            // holding one packet, i.e. no burst above the rate.
            let start = self.link_free.max(now);
            self.link_free = start + self.link.serialisation(chunk.len());
            let mut due = self.link_free + self.delay_sample(rng);
            if self.link.loss > 0.0 && rng.gen_bool(self.link.loss) {
                due += self.link.rto;
            }
            // A chunk that jitter would make overtake an earlier one waits for it, and
            // everything behind a lost chunk waits for its retransmission: TCP hands bytes to
            // the application in order only.
            due = due.max(self.last_due);
            self.last_due = due;
            self.queued += chunk.len();
            self.queue.push_back(Chunk { data: chunk, due });
        }
    }

    fn delay_sample(&self, rng: &mut SmallRng) -> Duration {
        if self.link.jitter.is_zero() {
            return self.link.one_way;
        }
        let base = self.link.one_way.as_secs_f64();
        let j = self.link.jitter.as_secs_f64();
        Duration::from_secs_f64((base + rng.gen_range(-j..=j)).max(0.0))
    }

    /// The head chunk's bytes if it is due at `now`.
    pub(crate) fn due_head(&self, now: Instant) -> Option<&[u8]> {
        self.queue
            .front()
            .filter(|c| c.due <= now)
            .map(|c| c.data.as_ref())
    }

    /// Drops `n` bytes from the head chunk (they were handed on).
    pub(crate) fn consume(&mut self, n: usize) {
        if let Some(head) = self.queue.front_mut() {
            let n = n.min(head.data.len());
            head.data.advance(n);
            self.queued -= n;
            if head.data.is_empty() {
                self.queue.pop_front();
            }
        }
    }

    /// Arms the timer for `deadline` and registers `cx` with it. `Ready` means the deadline
    /// has already passed: the caller should look again rather than wait.
    pub(crate) fn wait_until(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        self.timer.as_mut().poll(cx)
    }

    /// Arms the timer for the head chunk. `Pending` with nothing queued would never wake, so
    /// that case is `Ready` too; callers check [`Pipe::is_empty`] first.
    pub(crate) fn wait_head(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.queue.front() {
            Some(head) => {
                let due = head.due;
                self.wait_until(due, cx)
            }
            None => Poll::Ready(()),
        }
    }
}

impl std::fmt::Debug for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipe")
            .field("link", &self.link)
            .field("queued", &self.queued)
            .field("chunks", &self.queue.len())
            .finish()
    }
}
