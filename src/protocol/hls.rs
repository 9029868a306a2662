//! The HLS player model, pure and I/O-free: a viewer's playback buffer (startup, drain,
//! stalls), rendition choice and stale-playlist detection. `engine::watch` drives it with the
//! instants at which downloads complete; tests drive it with synthetic instants.
//!
//! # Buffer model
//! Each completed segment adds its duration to the buffer. Playback starts when the buffer
//! reaches the startup threshold ([`STARTUP_BUFFER`], or one whole segment when segments are
//! shorter than that, since we only count whole segments): that instant is the first frame.
//! While playing, the buffer drains 1 s per s. When it empties, a stall starts; it ends when
//! the buffer is back at the resume threshold (same rule as startup). Time is only evaluated
//! when something happens (a download completes, the viewer leaves), so the state is a few
//! words per viewer and no timer runs.
//!
//! # LL-HLS
//! A playlist with parts and `CAN-BLOCK-RELOAD=YES` ([`is_low_latency`]) is followed part by
//! part: the viewer starts `PART-HOLD-BACK` from the end of the playlist ([`ll_start`]), and a
//! [`PartCursor`] says what to fetch next in each playlist it receives. Parts feed the same
//! buffer with their own durations; the startup threshold is capped at `PART-HOLD-BACK`.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use super::playlist::{MediaPlaylist, Variant};

/// Buffered media needed before playback starts, and to resume after a stall. Two seconds is
/// what hls.js/AVPlayer need in practice for a live start; capped at one segment (see
/// [`threshold`]).
pub const STARTUP_BUFFER: Duration = Duration::from_secs(2);

/// by-bandwidth picks the highest variant whose `BANDWIDTH` ≤ this × the measured throughput,
/// the safety factor players use so that a variant is sustainable, not just reachable.
pub const BANDWIDTH_SAFETY: f64 = 0.8;

/// Startup / resume threshold for segments of `segment`: [`STARTUP_BUFFER`], but never more
/// than one segment (a 6 s segment arrives whole; waiting for a second one would be wrong).
pub fn threshold(segment: Duration) -> Duration {
    STARTUP_BUFFER.min(segment).max(Duration::from_millis(1))
}

/// A viewer's playback buffer. All instants are monotonic.
#[derive(Debug, Clone)]
pub struct Buffer {
    threshold: Duration,
    /// Buffered media as of `at`.
    level: Duration,
    at: Instant,
    state: State,
    /// When playback first started.
    pub started: Option<Instant>,
    pub stalls: u32,
    pub played: Duration,
    pub stalled: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Starting,
    Playing,
    /// Stalled since the given instant.
    Stalled(Instant),
}

impl Buffer {
    pub fn new(threshold: Duration, now: Instant) -> Buffer {
        Buffer {
            threshold,
            level: Duration::ZERO,
            at: now,
            state: State::Starting,
            started: None,
            stalls: 0,
            played: Duration::ZERO,
            stalled: Duration::ZERO,
        }
    }

    /// Brings the model to `now`: drains while playing, and starts a stall at the instant the
    /// buffer ran dry (which may be before `now`).
    pub fn advance(&mut self, now: Instant) {
        let now = now.max(self.at);
        if self.state == State::Playing {
            let elapsed = now - self.at;
            // Running dry exactly when the next segment lands is not a stall.
            if elapsed > self.level {
                let empty_at = self.at + self.level;
                self.played += self.level;
                self.level = Duration::ZERO;
                self.stalls += 1;
                self.state = State::Stalled(empty_at);
            } else {
                self.played += elapsed;
                self.level -= elapsed;
            }
        }
        self.at = now;
    }

    /// A segment of `duration` finished downloading at `now`. Returns true when this started
    /// playback for the first time (the first frame).
    pub fn add(&mut self, duration: Duration, now: Instant) -> bool {
        self.advance(now);
        self.level += duration;
        if self.level < self.threshold {
            return false;
        }
        match self.state {
            State::Starting => {
                self.state = State::Playing;
                self.started = Some(now);
                true
            }
            State::Stalled(since) => {
                self.stalled += now - since;
                self.state = State::Playing;
                false
            }
            State::Playing => false,
        }
    }

    /// Buffered media as of the last update.
    pub fn level(&self) -> Duration {
        self.level
    }

    pub fn is_playing(&self) -> bool {
        self.state == State::Playing
    }

    /// Closes the books at `now` (the viewer leaves): an ongoing stall counts up to `now`.
    pub fn finish(&mut self, now: Instant) {
        self.advance(now);
        if let State::Stalled(since) = self.state {
            self.stalled += now.max(since) - since;
            self.state = State::Stalled(now.max(since));
        }
    }

    /// stalled ÷ (played + stalled), in parts per million (the recorder's ratio unit).
    pub fn stall_ratio_ppm(&self) -> u64 {
        let total = self.played + self.stalled;
        if total.is_zero() {
            return 0;
        }
        (self.stalled.as_secs_f64() / total.as_secs_f64() * 1e6).round() as u64
    }
}

/// Index of the variant by-bandwidth picks for a measured throughput: the highest whose
/// `BANDWIDTH` ≤ [`BANDWIDTH_SAFETY`] × `throughput_bps`, or the lowest when none fits.
pub fn choose_by_bandwidth(variants: &[Variant], throughput_bps: f64) -> Option<usize> {
    let budget = throughput_bps * BANDWIDTH_SAFETY;
    let lowest = (0..variants.len()).min_by_key(|&i| variants[i].bandwidth)?;
    let best = (0..variants.len())
        .filter(|&i| variants[i].bandwidth as f64 <= budget)
        .max_by_key(|&i| variants[i].bandwidth);
    Some(best.unwrap_or(lowest))
}

/// Detects a playlist whose media sequence stops advancing for more than 1.5 × target
/// duration. Reports each stale episode once.
#[derive(Debug, Clone, Copy)]
pub struct StaleWatch {
    /// The newest media sequence number seen (the next segment's msn).
    next_msn: u64,
    since: Instant,
    reported: bool,
}

impl StaleWatch {
    pub fn new(next_msn: u64, now: Instant) -> StaleWatch {
        StaleWatch {
            next_msn,
            since: now,
            reported: false,
        }
    }

    /// Called after each playlist load; true when a new stale episode starts.
    pub fn observe(&mut self, next_msn: u64, target: Duration, now: Instant) -> bool {
        if next_msn > self.next_msn {
            *self = StaleWatch::new(next_msn, now);
            return false;
        }
        let limit = target.mul_f64(1.5);
        if !self.reported && now.saturating_duration_since(self.since) > limit {
            self.reported = true;
            return true;
        }
        false
    }

    pub fn is_stale(&self) -> bool {
        self.reported
    }
}

/// Whether a viewer should follow `media` as LL-HLS: it lists parts and the server holds
/// blocking reloads. Anything else is played as classic HLS.
pub fn is_low_latency(media: &MediaPlaylist) -> bool {
    !media.parts.is_empty() && media.server_control.is_some_and(|sc| sc.can_block_reload)
}

/// `PART-HOLD-BACK`, or the RFC 8216bis minimum of 3 × `PART-TARGET` when absent.
pub fn part_hold_back(media: &MediaPlaylist) -> Option<Duration> {
    media
        .server_control
        .and_then(|sc| sc.part_hold_back)
        .or_else(|| media.part_target.map(|t| t.saturating_mul(3)))
}

/// The next part an LL-HLS viewer wants: part `part` of segment `msn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartCursor {
    pub msn: u64,
    pub part: u32,
}

/// What to do for the cursor in a given playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextMedia {
    /// Fetch `parts[i]`.
    Part(usize),
    /// Fetch `segments[i]` whole (its parts are no longer listed: the viewer is behind).
    Segment(usize),
    /// The cursor fell out of the playlist: start again from [`ll_start`].
    Rejoin,
    /// Not published yet: block-reload for it.
    Wait,
}

/// Where an LL-HLS viewer starts (RFC 8216bis §6.3.3): the part at least `PART-HOLD-BACK`
/// from the end of the playlist, or the oldest listed part when fewer are listed.
pub fn ll_start(media: &MediaPlaylist) -> Option<PartCursor> {
    let hold = part_hold_back(media)?;
    let mut from_end = Duration::ZERO;
    for p in media.parts.iter().rev() {
        from_end = from_end.saturating_add(p.duration);
        if from_end >= hold {
            return Some(PartCursor::at(p));
        }
    }
    media.parts.first().map(PartCursor::at)
}

impl PartCursor {
    fn at(p: &super::playlist::Part) -> PartCursor {
        PartCursor {
            msn: p.msn,
            part: p.part_index,
        }
    }

    /// Moves past `parts[i]` (or past a whole segment when `part` is `None`).
    pub fn advance(&mut self, msn: u64, part: Option<u32>) {
        *self = match part {
            Some(k) => PartCursor { msn, part: k + 1 },
            None => PartCursor {
                msn: msn + 1,
                part: 0,
            },
        };
    }

    /// What to fetch for this cursor in `media`. A cursor past the last part of a segment
    /// that is now complete moves on to the next segment (hence `&mut`).
    pub fn next(&mut self, media: &MediaPlaylist) -> NextMedia {
        loop {
            let listed = media
                .parts
                .iter()
                .position(|p| p.msn == self.msn && p.part_index == self.part);
            if let Some(i) = listed {
                return NextMedia::Part(i);
            }
            let Some(i) = media.segments.iter().position(|s| s.msn == self.msn) else {
                let first = media.media_sequence.saturating_add(media.skipped_segments);
                return if self.msn < first {
                    NextMedia::Rejoin
                } else {
                    NextMedia::Wait
                };
            };
            if self.part == 0 {
                return NextMedia::Segment(i);
            }
            // The segment is complete and the wanted part is not listed: it had no more
            // parts (or they aged out of the playlist). Continue with the next segment.
            self.advance(self.msn, None);
        }
    }
}

/// Program date-time of the start of `parts[i]`: its segment's date (or, for the segment in
/// progress, the end of the last complete one) plus the parts before it.
pub fn part_program_date_time(media: &MediaPlaylist, i: usize) -> Option<DateTime<Utc>> {
    let p = media.parts.get(i)?;
    let start = match media.segments.iter().find(|s| s.msn == p.msn) {
        Some(s) => s.program_date_time?,
        None => {
            let last = media.segments.last().filter(|s| s.msn + 1 == p.msn)?;
            last.program_date_time? + TimeDelta::from_std(last.duration).ok()?
        }
    };
    let before: Duration = media
        .parts
        .iter()
        .filter(|q| q.msn == p.msn && q.part_index < p.part_index)
        .map(|q| q.duration)
        .sum();
    Some(start + TimeDelta::from_std(before).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn starts_at_threshold_and_stalls_when_empty() {
        let t0 = Instant::now();
        let mut b = Buffer::new(threshold(2 * S), t0);
        assert!(!b.add(S, t0 + S / 2)); // 1 s buffered: below 2 s
        assert!(b.add(S, t0 + S)); // first frame at 1 s
        assert_eq!(b.started, Some(t0 + S));
        // 2 s buffered, nothing arrives for 5 s: stall from 3 s.
        b.add(S, t0 + 6 * S);
        assert_eq!(b.stalls, 1);
        assert!(!b.is_playing());
        b.add(S, t0 + 7 * S); // back at 2 s: resumes, stalled 3 s..7 s
        assert!(b.is_playing());
        assert_eq!(b.stalled, 4 * S);
        assert_eq!(b.played, 2 * S);
        b.finish(t0 + 8 * S);
        assert_eq!(b.played, 3 * S);
        assert_eq!(b.stall_ratio_ppm(), 571_429); // 4 / 7
    }

    #[test]
    fn steady_arrivals_never_stall() {
        let t0 = Instant::now();
        let mut b = Buffer::new(threshold(S), t0);
        for i in 1..=20 {
            b.add(S, t0 + i * S);
        }
        b.finish(t0 + 21 * S);
        assert_eq!((b.stalls, b.stall_ratio_ppm()), (0, 0));
        assert_eq!(b.played, 20 * S);
    }

    #[test]
    fn a_stall_open_at_leave_counts_until_leave() {
        let t0 = Instant::now();
        let mut b = Buffer::new(threshold(S), t0);
        b.add(S, t0);
        b.finish(t0 + 5 * S);
        assert_eq!((b.stalls, b.played, b.stalled), (1, S, 4 * S));
    }

    #[test]
    fn by_bandwidth_keeps_a_safety_margin() {
        let v = |bw| Variant {
            bandwidth: bw,
            ..Variant::default()
        };
        let ladder = [v(3_000_000), v(400_000), v(1_200_000)];
        assert_eq!(choose_by_bandwidth(&ladder, 1_400_000.0), Some(1)); // 1.2M > 0.8 × 1.4M
        assert_eq!(choose_by_bandwidth(&ladder, 1_500_000.0), Some(2));
        assert_eq!(choose_by_bandwidth(&ladder, 100.0e6), Some(0));
        assert_eq!(choose_by_bandwidth(&ladder, 1.0), Some(1)); // nothing fits: lowest
        assert_eq!(choose_by_bandwidth(&[], 1.0), None);
    }

    #[test]
    fn stale_is_reported_once_per_episode() {
        let t0 = Instant::now();
        let mut w = StaleWatch::new(10, t0);
        assert!(!w.observe(10, 2 * S, t0 + 3 * S)); // exactly 1.5 × 2 s: not yet
        assert!(w.observe(10, 2 * S, t0 + 3 * S + S / 10));
        assert!(!w.observe(10, 2 * S, t0 + 10 * S));
        assert!(!w.observe(11, 2 * S, t0 + 11 * S));
        assert!(w.observe(11, 2 * S, t0 + 15 * S));
    }

    fn ll_playlist(elapsed_ms: u64) -> MediaPlaylist {
        // Segments of 2 s with 4 parts; the last two complete segments keep their parts.
        let mut text = String::from(
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5\n\
             #EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:10\n\
             #EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z\n",
        );
        for msn in 10..14 {
            if msn >= 12 {
                for k in 0..4 {
                    text += &format!("#EXT-X-PART:DURATION=0.5,URI=\"s{msn}.{k}\"\n");
                }
            }
            text += &format!("#EXTINF:2,\ns{msn}.ts\n");
        }
        for k in 0..elapsed_ms / 500 {
            text += &format!("#EXT-X-PART:DURATION=0.5,URI=\"s14.{k}\"\n");
        }
        match super::super::playlist::parse(&text) {
            Ok(super::super::playlist::Playlist::Media(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ll_viewers_start_part_hold_back_from_the_end_and_walk_parts() {
        let m = ll_playlist(1000); // parts s14.0, s14.1 listed
        assert!(is_low_latency(&m));
        let mut c = ll_start(&m).expect("start");
        assert_eq!(c, PartCursor { msn: 13, part: 3 }); // 0.5 + 0.5 + 0.5 from the end
        assert_eq!(c.next(&m), NextMedia::Part(7));
        c.advance(13, Some(3));
        // Past the last part of a complete segment: on to 14.0.
        assert_eq!(c.next(&m), NextMedia::Part(8));
        assert_eq!(c, PartCursor { msn: 14, part: 0 });
        c.advance(14, Some(1));
        assert_eq!(c.next(&m), NextMedia::Wait);
        // A viewer behind the parts window fetches whole segments, then rejoins if too old.
        let mut behind = PartCursor { msn: 11, part: 0 };
        assert_eq!(behind.next(&m), NextMedia::Segment(1));
        let mut gone = PartCursor { msn: 9, part: 2 };
        assert_eq!(gone.next(&m), NextMedia::Rejoin);
        let pdt = part_program_date_time(&m, 9).map(|d| d.to_rfc3339());
        assert_eq!(pdt.as_deref(), Some("2024-01-01T00:00:08.500+00:00"));
        let mut classic = m.clone();
        classic.server_control = None;
        assert!(!is_low_latency(&classic));
    }
}
