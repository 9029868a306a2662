//! A viewer's side of the wire: its keep-alive sessions (one per origin), every timed request
//! with redirects followed as a player does, and the [`Trace`] that sends its one outcome however
//! the visit ends. Shared by the join steps, the HLS watch loop and the journey.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use url::Url;

use crate::metrics::{ErrorKind, Event, Metric, RecorderHandle, ViewerOutcome};
use crate::protocol::http::{
    ClientConfig, ConnectTimings, Origin, RequestError, Response, Session,
};
use crate::scenario::WatchProtocol;

use super::spec::ViewerSpec;

/// A viewer's connections, one keep-alive session per origin (almost always just one).
pub struct Connections {
    spec: Arc<ViewerSpec>,
    /// Most viewers talk to one origin: the first session is allocated alone (a Vec's first
    /// push reserves four), which is 1.2 KiB less per viewer.
    sessions: Vec<Session>,
    /// How far the viewer got; sends its outcome when the connections are dropped.
    pub trace: Trace,
    pub rec: RecorderHandle,
    pub region: u16,
    pub phase: u16,
    pub viewer_id: u64,
    pub seed: u64,
    /// Headers of this viewer's own (made from its variables), sent with every request.
    pub headers: Option<Arc<[(http::HeaderName, http::HeaderValue)]>>,
    /// The generator started this viewer after its whole visit should have ended (start lag ≥
    /// watch time): whatever it then fails to see is the generator's doing, not the viewer's
    /// choice, and is not counted as the viewer leaving early.
    pub started_after_leave: bool,
    /// Where the last request ended up when it followed redirects.
    pub redirected_to: Option<Url>,
}

/// Redirects a viewer follows for one request before it is a `redirect` failure.
pub const MAX_REDIRECTS: u32 = 5;

impl Connections {
    /// A viewer's connections before its first request: no session yet, its trace at the join.
    pub fn new(
        spec: Arc<ViewerSpec>,
        rec: RecorderHandle,
        (region, phase): (u16, u16),
        viewer_id: u64,
        started_after_leave: bool,
    ) -> Connections {
        Connections {
            trace: Trace {
                rec: rec.clone(),
                region,
                phase,
                stage: Stage::Joining,
                no_video: spec.watch_protocol == WatchProtocol::None,
                playing: false,
                playback_failed: false,
                last_error: None,
                outcome: None,
            },
            rec,
            region,
            phase,
            viewer_id,
            seed: spec.seed,
            headers: None,
            started_after_leave,
            redirected_to: None,
            spec,
            sessions: Vec::new(),
        }
    }

    /// One timed request, following redirects as a player does: at most [`MAX_REDIRECTS`]
    /// hops, each hop's host checked against `target.allow_hosts` (a redirect elsewhere is
    /// `redirect`, nothing is sent there), 303 (and 301/302 after a POST) continue as GET. The
    /// final URL is kept in [`Connections::redirected_to`] for resolving what it lists. Records
    /// connect timings, ttfb and failures; returns the final response whatever its status.
    pub async fn request(
        &mut self,
        method: http::Method,
        url: &Url,
        body: Option<Bytes>,
        keep_body: bool,
    ) -> Result<Response, RequestError> {
        self.redirected_to = None;
        // Borrowed until a redirect: most requests go where they were sent.
        let (mut method, mut body, mut at) = (method, body, std::borrow::Cow::Borrowed(url));
        for hop in 0..=MAX_REDIRECTS {
            let response = self
                .request_once(method.clone(), &at, body.clone(), keep_body)
                .await?;
            let next = match (response.status, response.location.as_deref()) {
                (301 | 302 | 303 | 307 | 308, Some(location)) => at.join(location).ok(),
                _ => None,
            };
            let Some(next) = next else {
                if hop > 0 {
                    crate::metrics::details::note_redirect(url, &at, hop);
                    self.redirected_to = Some(at.into_owned());
                }
                return Ok(response);
            };
            let host = next.host_str().unwrap_or_default();
            let refused = if hop == MAX_REDIRECTS {
                Some(format!(
                    "more than {MAX_REDIRECTS} redirects from {url} (a loop?); the last pointed to {next}"
                ))
            } else if !matches!(next.scheme(), "http" | "https") {
                Some(format!("redirect from {at} to a non-HTTP URL {next}"))
            } else if !super::host_allowed(host, &self.spec.allow_hosts) {
                Some(format!(
                    "redirect from {at} to host `{host}`, which is not in target.allow_hosts: not followed"
                ))
            } else {
                None
            };
            if let Some(detail) = refused {
                let error = RequestError::new(ErrorKind::Redirect, detail);
                crate::metrics::details::note(error.kind, &error.detail);
                self.rec.request(self.region, self.phase, Some(error.kind));
                return Err(error);
            }
            if response.status == 303 || (method == http::Method::POST && response.status < 303) {
                method = http::Method::GET;
                body = None;
            }
            at = std::borrow::Cow::Owned(next);
        }
        unreachable!("the loop returns by its last hop")
    }

    /// One timed request, no redirect followed.
    async fn request_once(
        &mut self,
        method: http::Method,
        url: &Url,
        body: Option<Bytes>,
        keep_body: bool,
    ) -> Result<Response, RequestError> {
        let extra = self.headers.clone();
        let extra = extra.as_deref().unwrap_or(&[]);
        let session = match self.session_for(url) {
            Ok(session) => session,
            Err(e) => {
                // Refused before any packet: still a request attempted, with its class.
                self.judged(Some(e.kind));
                return Err(e);
            }
        };
        let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
        // Boxed, like every part of a viewer that runs only for a while: an async fn's state is
        // as large as its largest await, and it would otherwise stay inside every idle viewer's
        // task (memory per viewer is what caps viewers per machine).
        let outcome = Box::pin(session.request_with(method, path, body, keep_body, extra)).await;
        let (region, phase) = (self.region, self.phase);
        match outcome {
            Ok((timings, response)) => {
                if let Some(t) = timings {
                    self.record_connect(t);
                }
                self.rec
                    .duration(region, phase, Metric::TtfbMs, response.ttfb);
                Ok(response)
            }
            Err(e) => {
                crate::metrics::details::note(e.kind, &e.detail);
                self.rec.request(region, phase, Some(e.kind));
                self.trace.failed_request(e.kind);
                Err(e)
            }
        }
    }

    fn record_connect(&self, t: ConnectTimings) {
        let (r, p) = (self.region, self.phase);
        if let Some(dns) = t.dns {
            self.rec.duration(r, p, Metric::DnsMs, dns);
        }
        self.rec.duration(r, p, Metric::ConnectMs, t.connect);
        if let Some(tls) = t.tls {
            self.rec.duration(r, p, Metric::TlsMs, tls);
        }
    }

    fn session_for(&mut self, url: &Url) -> Result<&mut Session, RequestError> {
        if let Some(i) = self.sessions.iter().position(|s| s.origin().serves(url)) {
            return Ok(&mut self.sessions[i]);
        }
        let origin = match self.spec.origins.iter().find(|o| o.serves(url)) {
            Some(known) => known.clone(),
            None => Origin::from_url(url).map_err(|detail| RequestError {
                kind: ErrorKind::UnusableUrl,
                detail,
            })?,
        };
        let host = url.host_str().unwrap_or_default();
        if !super::host_allowed(host, &self.spec.allow_hosts) {
            // A playlist pointing at a host nobody allowed: refuse before any packet.
            return Err(RequestError {
                kind: ErrorKind::HostNotAllowed,
                detail: format!("host {host} is not in target.allow_hosts"),
            });
        }
        let session = Session::new(origin, self.client(), self.source_addr());
        if self.sessions.capacity() == 0 {
            self.sessions.reserve_exact(1);
        }
        self.sessions.push(session);
        let last = self.sessions.len() - 1;
        Ok(&mut self.sessions[last])
    }

    /// The viewer's region's client configuration (network profile, TLS, headers, timeout).
    pub fn client(&self) -> Arc<ClientConfig> {
        self.spec.clients[self.region as usize].clone()
    }

    /// The local address this viewer's connections leave from: viewers are spread over
    /// `target.source_addrs` so one machine can hold more than one ephemeral-port range of
    /// connections to a single target.
    pub fn source_addr(&self) -> Option<std::net::IpAddr> {
        match self.spec.source_addrs.len() {
            0 => None,
            n => self
                .spec
                .source_addrs
                .get(source_index(self.viewer_id, self.spec.viewer_id_stride, n))
                .copied(),
        }
    }

    /// A deterministic pick in `0..n` for this viewer (same seed, same choice).
    pub fn rng_index(&self, n: usize) -> usize {
        let mut x = self.seed ^ self.viewer_id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        (x % n.max(1) as u64) as usize
    }

    /// Records the outcome of a request whose status/body the caller judged.
    pub fn judged(&mut self, error: Option<ErrorKind>) {
        self.rec.request(self.region, self.phase, error);
        if let Some(kind) = error.filter(|k| !k.is_outcome()) {
            self.trace.failed_request(kind);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Joining,
    Watching,
}

/// How far a viewer got, kept so that its one [`ViewerOutcome`] is sent however the visit ends:
/// normally, or cancelled at the drain deadline (the slowest joins are the ones still in flight
/// then, and dropping them silently would flatter an overloaded target). A join cut off counts
/// as a `cut` request and a failed join; a viewer cut while watching (a request the target never
/// answered) counts as `cut`. `cut` is not a timeout: the generator ended the wait, and
/// `target.timeout` may be far longer. Every started viewer sends one outcome and leaves.
pub struct Trace {
    rec: RecorderHandle,
    region: u16,
    phase: u16,
    stage: Stage,
    /// No video is asked for (`watch.protocol: none`).
    no_video: bool,
    /// The first frame was reached.
    pub playing: bool,
    /// After the first frame, playback could not go on (stale or ended stream, repeated media
    /// failures, too many stalls).
    pub playback_failed: bool,
    /// The class of the last failed request, to tell a refusal before sending.
    last_error: Option<ErrorKind>,
    outcome: Option<ViewerOutcome>,
}

impl Trace {
    /// The join is done: a visit cut from now on was watching (or starting to).
    pub fn watching(&mut self) {
        self.stage = Stage::Watching;
    }

    /// The visit is decided; sent when the viewer leaves.
    pub fn settle(&mut self, outcome: ViewerOutcome) {
        self.outcome.get_or_insert(outcome);
    }

    fn failed_request(&mut self, kind: ErrorKind) {
        self.last_error = Some(kind);
    }

    /// Something went wrong on the way (a failed request, a frozen playlist): a viewer without
    /// its first frame then is failing, not merely still starting.
    pub fn troubled(&self) -> bool {
        self.last_error.is_some() || self.playback_failed
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let (region, phase) = (self.region, self.phase);
        if self.outcome.is_none() {
            // Cancelled by the generator at the deadline: what was in flight is `cut`.
            self.rec.request(region, phase, Some(ErrorKind::Cut));
        }
        let outcome = match (self.outcome, self.stage) {
            (Some(o), _) => o,
            (None, Stage::Joining) => {
                self.rec.send(Event::Joined {
                    region,
                    phase,
                    ok: false,
                });
                // The generator, not the target, ended its wait: not judged.
                ViewerOutcome::CutBeforeStart
            }
            (None, Stage::Watching) if self.no_video => ViewerOutcome::Joined,
            (None, Stage::Watching) if self.playing => match self.playback_failed {
                true => ViewerOutcome::PlaybackFailed,
                false => ViewerOutcome::Played,
            },
            (None, Stage::Watching) if self.troubled() => ViewerOutcome::VideoStartFailed,
            (None, Stage::Watching) => ViewerOutcome::CutBeforeStart,
        };
        let refused = matches!(
            self.last_error,
            Some(ErrorKind::HostNotAllowed | ErrorKind::UnusableUrl)
        );
        let outcome = match outcome {
            ViewerOutcome::JoinFailed | ViewerOutcome::VideoStartFailed if refused => {
                ViewerOutcome::RefusedBeforeSending
            }
            o => o,
        };
        self.rec.send(Event::Outcome {
            region,
            phase,
            outcome,
        });
        self.rec.send(Event::Left { region });
    }
}

/// Cut a wait short when the run is ending.
pub async fn sleep_or_end(until: Instant, ending: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep_until(until) => true,
        _ = ending.wait_for(|e| *e) => false,
    }
}

pub const MIN_RELOAD: Duration = Duration::from_millis(100);

/// Which of `n` source addresses viewer `viewer_id` connects from: round robin over this
/// process's own viewers. A plain `viewer_id % n` would, in a shard running every S-th id, use
/// only n / gcd(n, S) of the addresses.
fn source_index(viewer_id: u64, stride: u64, n: usize) -> usize {
    ((viewer_id / stride.max(1)) % n as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::source_index;

    #[test]
    fn source_addresses_are_used_round_robin_by_every_shard() {
        for shards in 1..=8u64 {
            for n in 1..=10usize {
                for shard in 0..shards {
                    let mut used = vec![0u32; n];
                    for k in 0..(n as u64 * 7) {
                        used[source_index(k * shards + shard, shards, n)] += 1;
                    }
                    assert!(
                        used.iter().all(|&u| u == 7),
                        "{shards} shards, {n} addresses, shard {shard}: {used:?}"
                    );
                }
            }
        }
    }
}
