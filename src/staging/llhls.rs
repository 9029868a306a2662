//! LL-HLS mode of the synthetic origin (RFC 8216bis §4.4.4.9, §6.2.5.2): the timeline of
//! partial segments, blocking playlist reload and blocking preload-hinted part requests.
//!
//! Parts follow the same wall clock as segments (see `hls.rs`): segment `msn` spans elapsed
//! `[(msn − window)·d, (msn − window + 1)·d)` and part `k` of it ends at `(k + 1)·d / n` into
//! it, so the last part ends exactly when its segment does and the two never disagree.
//!
//! Waiting is cheap: one ticker task per server sends on a `tokio::sync::watch` channel at
//! every part boundary, and a blocked request re-checks the clock on each tick. No timer per
//! request beyond its own timeout.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Parts are a quarter segment, but never shorter than this: below ~200 ms the request
/// overhead dominates and real packagers do not go lower.
const MIN_PART: Duration = Duration::from_millis(200);
/// Completed segments (before the one in progress) whose parts stay listed, as packagers do so
/// a viewer a few parts behind the edge can still address them.
pub(crate) const PARTS_KEPT_SEGMENTS: u64 = 2;
/// RFC 8216bis §6.2.5.2: `_HLS_msn` more than this past the last segment is a 400.
const MAX_MSN_AHEAD: u64 = 2;

/// The part timeline and the tick channel blocked requests wait on.
#[derive(Debug)]
pub(crate) struct LowLatency {
    /// Parts per segment (≥ 1).
    pub(crate) parts: u32,
    segment: Duration,
    window: u64,
    started: Instant,
    ticks: watch::Receiver<u64>,
    /// Held until the ticker is spawned inside a runtime (see [`LowLatency::spawn_ticker`]).
    ticker: std::sync::Mutex<Option<watch::Sender<u64>>>,
}

/// What a blocking request may be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocked {
    /// The awaited part exists now.
    Ready,
    /// Too far ahead to ever be awaited (400).
    TooFar,
    /// Did not appear within the bound (503).
    TimedOut,
}

impl LowLatency {
    pub(crate) fn new(segment: Duration, window: u64, started: Instant) -> Self {
        let part = (segment / 4).max(MIN_PART);
        // u128 → u32: a segment is at most 4 parts of MIN_PART or more.
        let parts = (segment.as_nanos() / part.as_nanos()).clamp(1, 4) as u32;
        let (tx, rx) = watch::channel(0);
        Self {
            parts,
            segment,
            window,
            started,
            ticks: rx,
            ticker: std::sync::Mutex::new(Some(tx)),
        }
    }

    /// Nominal part duration (the last one may differ by a nanosecond of rounding).
    pub(crate) fn part_target(&self) -> Duration {
        self.segment / self.parts
    }

    /// End of part `k` measured from the start of its segment.
    fn part_end(&self, k: u32) -> u128 {
        self.segment.as_nanos() * u128::from(k + 1) / u128::from(self.parts)
    }

    pub(crate) fn part_duration(&self, k: u32) -> Duration {
        let start = if k == 0 { 0 } else { self.part_end(k - 1) };
        Duration::from_nanos((self.part_end(k) - start) as u64)
    }

    /// Elapsed nanoseconds (from server start) at which part `k` of segment `msn` is complete.
    fn available_at(&self, msn: u64, k: u32) -> i128 {
        let seg_start =
            (i128::from(msn) - i128::from(self.window)) * self.segment.as_nanos() as i128;
        seg_start + self.part_end(k) as i128
    }

    pub(crate) fn part_available(&self, msn: u64, k: u32, elapsed: Duration) -> bool {
        k < self.parts && self.available_at(msn, k) <= elapsed.as_nanos() as i128
    }

    /// Parts of segment `msn` complete at `elapsed` (0..=parts).
    pub(crate) fn parts_done(&self, msn: u64, elapsed: Duration) -> u32 {
        (0..self.parts)
            .take_while(|&k| self.part_available(msn, k, elapsed))
            .count() as u32
    }

    /// Starts the task that ticks at every part boundary. It ends when the server (which
    /// holds the only long-lived receiver) is dropped. Idempotent.
    pub(crate) fn spawn_ticker(&self) {
        let Some(tx) = self.ticker.lock().ok().and_then(|mut t| t.take()) else {
            return;
        };
        let (started, segment, parts) = (self.started, self.segment, self.parts);
        tokio::spawn(async move {
            let (d, n) = (segment.as_nanos().max(1), u128::from(parts));
            // Part boundaries from elapsed 0: segment starts are whole multiples of d (the
            // window offset is a whole number of segments), parts end at d·(k+1)/n into them.
            let boundary = |g: u128| g / n * d + d * (g % n) / n;
            loop {
                let elapsed = started.elapsed().as_nanos();
                let mut g = elapsed / d * n;
                while boundary(g) <= elapsed {
                    g += 1;
                }
                let at = started + Duration::from_nanos(boundary(g) as u64);
                tokio::select! {
                    () = tokio::time::sleep_until(at.into()) => {
                        tx.send_replace(g as u64);
                    }
                    () = tx.closed() => return,
                }
            }
        });
    }

    /// Waits until part `k` of segment `msn` exists, bounded by `limit`. A `k` past the last
    /// part means part 0 of the next segment (RFC 8216bis §6.2.5.2). `edge` is the newest
    /// complete segment now; anything more than [`MAX_MSN_AHEAD`] past it is [`Blocked::TooFar`].
    pub(crate) async fn wait_part(&self, msn: u64, k: u32, edge: u64, limit: Duration) -> Blocked {
        let (msn, k) = if k >= self.parts {
            (msn.saturating_add(1), 0)
        } else {
            (msn, k)
        };
        if msn > edge.saturating_add(MAX_MSN_AHEAD) {
            return Blocked::TooFar;
        }
        let mut ticks = self.ticks.clone();
        let wait = ticks.wait_for(|_| self.part_available(msn, k, self.started.elapsed()));
        let outcome = tokio::time::timeout(limit, wait).await.map(|r| r.is_ok());
        match outcome {
            Ok(true) => Blocked::Ready,
            // The ticker is gone (server shutting down, or never started): check once more.
            Ok(false) if self.part_available(msn, k, self.started.elapsed()) => Blocked::Ready,
            Ok(false) | Err(_) => Blocked::TimedOut,
        }
    }
}

pub(crate) fn part_uri(msn: u64, k: u32) -> String {
    format!("seg-{msn}.p-{k}.ts")
}

/// `EXT-X-PART` lines for parts `0..count` of segment `msn`.
pub(crate) fn write_parts(out: &mut String, ll: &LowLatency, msn: u64, count: u32) {
    for k in 0..count {
        let independent = if k == 0 { ",INDEPENDENT=YES" } else { "" };
        let _ = writeln!(
            out,
            "#EXT-X-PART:DURATION={:.3},URI=\"{}\"{independent}",
            ll.part_duration(k).as_secs_f64(),
            part_uri(msn, k)
        );
    }
}

/// `seg-{msn}.p-{k}.ts` → (msn, k).
pub(crate) fn parse_part(file: &str) -> Option<(u64, u32)> {
    let (msn, k) = file
        .strip_prefix("seg-")?
        .strip_suffix(".ts")?
        .split_once(".p-")?;
    Some((msn.parse().ok()?, k.parse().ok()?))
}

/// `_HLS_msn` / `_HLS_part` of a blocking reload. `Err` for a malformed value or `_HLS_part`
/// without `_HLS_msn` (400); `Ok(None)` when the request does not block.
pub(crate) fn blocking_request(query: Option<&str>) -> Result<Option<(u64, Option<u32>)>, ()> {
    let (mut msn, mut part) = (None, None);
    for pair in query.unwrap_or_default().split('&') {
        match pair.split_once('=') {
            Some(("_HLS_msn", v)) => msn = Some(v.parse::<u64>().map_err(|_| ())?),
            Some(("_HLS_part", v)) => part = Some(v.parse::<u32>().map_err(|_| ())?),
            _ => {}
        }
    }
    match (msn, part) {
        (Some(m), p) => Ok(Some((m, p))),
        (None, Some(_)) => Err(()),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_a_quarter_segment_and_at_least_200_ms() {
        let ll = LowLatency::new(Duration::from_secs(2), 6, Instant::now());
        assert_eq!(
            (ll.parts, ll.part_target()),
            (4, Duration::from_millis(500))
        );
        let ll = LowLatency::new(Duration::from_millis(600), 6, Instant::now());
        assert_eq!(
            (ll.parts, ll.part_target()),
            (3, Duration::from_millis(200))
        );
        let ll = LowLatency::new(Duration::from_millis(100), 6, Instant::now());
        assert_eq!(ll.parts, 1);
    }

    #[test]
    fn parts_complete_on_the_segment_grid() {
        let ll = LowLatency::new(Duration::from_secs(2), 6, Instant::now());
        // At elapsed 0 the edge is segment 5 (complete); segment 6 has no parts yet.
        assert_eq!(ll.parts_done(5, Duration::ZERO), 4);
        assert_eq!(ll.parts_done(6, Duration::ZERO), 0);
        assert_eq!(ll.parts_done(6, Duration::from_millis(499)), 0);
        assert_eq!(ll.parts_done(6, Duration::from_millis(500)), 1);
        assert_eq!(ll.parts_done(6, Duration::from_millis(1999)), 3);
        assert_eq!(ll.parts_done(6, Duration::from_millis(2000)), 4);
        assert!(!ll.part_available(6, 4, Duration::from_secs(100)));
    }

    /// A timeline started `ago`, with its ticker running.
    fn running(ago: Duration) -> LowLatency {
        let ll = LowLatency::new(Duration::from_secs(2), 6, Instant::now() - ago);
        ll.spawn_ticker();
        ll
    }

    #[tokio::test]
    async fn a_blocking_wait_ends_when_the_part_exists_not_before() {
        // 1.8 s into segment 6: parts 0..=2 exist, part 3 completes in 200 ms.
        let ll = running(Duration::from_millis(1800));
        assert!(!ll.part_available(6, 3, ll.started.elapsed()));
        let t0 = Instant::now();
        let got = ll.wait_part(6, 3, 5, Duration::from_secs(6)).await;
        let waited = t0.elapsed();
        assert_eq!(got, Blocked::Ready);
        assert!(ll.part_available(6, 3, ll.started.elapsed()));
        assert!(
            (Duration::from_millis(150)..Duration::from_millis(400)).contains(&waited),
            "{waited:?}"
        );
        // An existing part answers at once; past the last part means the next segment's 0.
        let t0 = Instant::now();
        assert_eq!(
            ll.wait_part(6, 1, 6, Duration::from_secs(6)).await,
            Blocked::Ready
        );
        assert!(t0.elapsed() < Duration::from_millis(50));
        let t0 = Instant::now();
        assert_eq!(
            ll.wait_part(6, 4, 6, Duration::from_secs(6)).await,
            Blocked::Ready
        );
        assert!(
            t0.elapsed() >= Duration::from_millis(400),
            "waited for (7, 0)"
        );
    }

    #[tokio::test]
    async fn far_ahead_is_refused_and_a_slow_part_times_out() {
        let ll = running(Duration::ZERO);
        assert_eq!(
            ll.wait_part(9, 0, 5, Duration::from_secs(6)).await,
            Blocked::TooFar
        );
        let t0 = Instant::now();
        assert_eq!(
            ll.wait_part(7, 0, 5, Duration::from_millis(100)).await,
            Blocked::TimedOut
        );
        assert!(t0.elapsed() < Duration::from_millis(300));
    }

    #[test]
    fn part_names_and_blocking_queries_parse() {
        assert_eq!(parse_part("seg-12.p-3.ts"), Some((12, 3)));
        assert_eq!(parse_part("seg-12.ts"), None);
        assert_eq!(
            blocking_request(Some("_HLS_msn=7&_HLS_part=2")),
            Ok(Some((7, Some(2))))
        );
        assert_eq!(blocking_request(Some("_HLS_part=2")), Err(()));
        assert_eq!(blocking_request(Some("_HLS_msn=x")), Err(()));
        assert_eq!(blocking_request(None), Ok(None));
    }
}
