//! Watching an HLS live stream the way a player does: multivariant → rendition → media
//! playlist, start three target durations behind the live edge (RFC 8216 §6.3.3), download
//! every segment in order, reload the playlist on the RFC cadence (§6.3.4), and run the
//! buffer model of [`crate::protocol::hls`] on the download completion instants.
//!
//! Recorded: `playlist_ms`, `segment_ms`, `download_ratio`, `first_frame_ms` (from the
//! *intended* arrival), `live_latency_ms`, and per viewer at the end `stall_count` and
//! `stall_ratio`; error kinds `not_hls`, `live_edge_404`, `stale_playlist`; and the viewer's
//! outcome (`played`, `video_start_failed`, `exit_before_start`, `playback_failed`, …). Whole segments are fetched (so load on the
//! origin is real) but only counted, never kept: per-viewer state is the current parsed
//! playlist and a few words of player state.
//!
//! LL-HLS: when the media playlist lists parts and says `CAN-BLOCK-RELOAD=YES`, the viewer
//! starts `PART-HOLD-BACK` from the end, fetches parts (not whole segments) and, once at the
//! edge, asks for the next part with a blocking reload (`_HLS_msn`/`_HLS_part`). Its response
//! time is `part_hold_ms`; the spacing of the reloads that delivered a new part is
//! `part_interval_ms`. Part downloads are `segment_ms` / `download_ratio` samples. Preload
//! hints are not fetched (the blocking reload already wakes the viewer at each new part).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;
use tokio::time::Instant;
use url::Url;

use crate::metrics::outcome::FAILED_STALL_RATIO;
use crate::metrics::{ErrorKind, Metric, ViewerOutcome};
use crate::protocol::hls::{
    choose_by_bandwidth, is_low_latency, ll_start, part_hold_back, part_program_date_time,
    threshold, Buffer, NextMedia, PartCursor, StaleWatch,
};
use crate::protocol::http::Response;
use crate::protocol::playlist::{self, MediaPlaylist, Playlist, Variant};
use crate::scenario::Rendition;

use super::connections::{sleep_or_end, Connections, MIN_RELOAD};

/// Failed requests in a row after which the viewer gives up (a player shows an error).
mod llhls;
mod open;
#[cfg(test)]
mod tests;

pub use open::fetch_playlist;
use open::{fetch_playlist_as, open_stream};

const MAX_CONSECUTIVE_FAILURES: u32 = 5;
/// Retries of a segment that 404s at the live edge before skipping it: the origin may
/// simply not have it yet, so a player asks again after the next reload.
const LIVE_EDGE_RETRIES: u8 = 2;

/// What the viewer chose to watch.
struct Stream {
    url: Url,
    media: MediaPlaylist,
    /// When by-bandwidth still has to pick: the multivariant URL and its variants.
    pending_choice: Option<(Url, Vec<Variant>)>,
}

/// Outcome of one media request (the failure has been recorded already).
enum Got {
    Media(Response),
    /// Give up on this segment or part and move on.
    Skip,
    /// A 404 at the live edge: ask again after the next reload.
    Retry,
}

/// Why a viewer stopped before it could play.
enum Fatal {
    /// A fatal error has been recorded as a request failure already.
    Failed,
}

/// Watches until `leave_at`, `ending`, the end of a VOD/ended stream, or a fatal failure, and
/// settles the viewer's outcome (see [`ViewerOutcome`]).
pub async fn watch_hls(
    conns: &mut Connections,
    url: &Url,
    rendition: Rendition,
    intended: Instant,
    leave_at: Instant,
    ending: &mut watch::Receiver<bool>,
) {
    let started_at = Instant::now();
    let opened = open_stream(conns, url, rendition).await;
    let stream = match opened {
        Ok(s) => s,
        Err(Fatal::Failed) => {
            conns.trace.settle(ViewerOutcome::VideoStartFailed);
            return;
        }
    };
    let mut player = Player::new(stream, started_at);
    let failed = player.run(conns, intended, leave_at, ending).await.is_err();
    let now = Instant::now();
    player.buffer.finish(now);
    let (r, p) = (conns.region, conns.phase);
    if player.buffer.started.is_some() {
        conns
            .rec
            .sample(r, p, Metric::StallCount, u64::from(player.buffer.stalls));
        let stall_ppm = player.buffer.stall_ratio_ppm();
        conns.rec.sample(r, p, Metric::StallRatio, stall_ppm);
        let stalled_out = stall_ppm as f64 > FAILED_STALL_RATIO * 1e6;
        let ended_early = player.ended_at.is_some_and(|at| at < leave_at) && !*ending.borrow();
        if failed || stalled_out || ended_early {
            conns.trace.playback_failed = true;
        }
        let outcome = match conns.trace.playback_failed {
            true => ViewerOutcome::PlaybackFailed,
            false => ViewerOutcome::Played,
        };
        conns.trace.settle(outcome);
    } else {
        let failed = failed || conns.trace.troubled();
        let outcome = no_start_outcome(failed, *ending.borrow(), conns.started_after_leave);
        conns.trace.settle(outcome);
    }
}

/// Why a viewer that never started playing did not: a media failure (`failed`: fatal, or any
/// failed request or frozen playlist so far), or its own watch time running out
/// (`exit_before_start`). A viewer the end of the run cut off while all was going well did not
/// choose to leave, and one the generator started after its leave time never had the chance:
/// neither is judged (the latter shows in the generator's lag instead).
fn no_start_outcome(failed: bool, run_ending: bool, started_after_leave: bool) -> ViewerOutcome {
    if failed {
        ViewerOutcome::VideoStartFailed
    } else if started_after_leave {
        ViewerOutcome::StartedLate
    } else if run_ending {
        ViewerOutcome::CutBeforeStart
    } else {
        ViewerOutcome::ExitBeforeStart
    }
}

struct Player {
    stream: Stream,
    buffer: Buffer,
    stale: StaleWatch,
    next_msn: u64,
    failures: u32,
    edge_retries: u8,
    /// When the last playlist load began: the reload cadence counts from there.
    loaded_at: Instant,
    changed: bool,
    /// LL-HLS: the next part wanted; `None` plays classic HLS.
    ll: Option<PartCursor>,
    /// When the last blocking reload that delivered a new part returned.
    last_part_at: Option<Instant>,
    /// LL-HLS: the URI of the preload-hinted part already fetched, so it is not fetched again
    /// once the playlist lists it.
    fetched_hint: Option<String>,
    /// When an ended stream (`EXT-X-ENDLIST`) had been played out.
    ended_at: Option<Instant>,
}

impl Player {
    fn new(stream: Stream, loaded_at: Instant) -> Player {
        let media = &stream.media;
        let next_msn = media
            .segments
            .get(media.live_start_index())
            .map(|s| s.msn)
            .unwrap_or(media.media_sequence);
        let ll = is_low_latency(media).then(|| ll_start(media)).flatten();
        // An LL-HLS start holds back only PART-HOLD-BACK, so waiting for more than that
        // before the first frame would add latency a real low-latency player does not.
        let startup = match (ll, part_hold_back(media)) {
            (Some(_), Some(hold)) => media.target_duration.min(hold),
            _ => media.target_duration,
        };
        let buffer = Buffer::new(threshold(startup), loaded_at);
        let stale = StaleWatch::new(media.next_msn(), loaded_at);
        Player {
            stream,
            buffer,
            stale,
            next_msn,
            failures: 0,
            edge_retries: 0,
            loaded_at,
            changed: true,
            ll,
            last_part_at: None,
            fetched_hint: None,
            ended_at: None,
        }
    }

    async fn run(
        &mut self,
        conns: &mut Connections,
        intended: Instant,
        leave_at: Instant,
        ending: &mut watch::Receiver<bool>,
    ) -> Result<(), Fatal> {
        if self.ll.is_some() {
            return self.run_ll(conns, intended, leave_at, ending).await;
        }
        loop {
            if !self.download_new(conns, intended, leave_at, ending).await? {
                return Ok(());
            }
            let media = &self.stream.media;
            if media.end_list && self.next_msn >= media.next_msn() {
                // A stream that ended: play out what is buffered, then leave.
                let play_out = Instant::now() + self.buffer.level();
                sleep_or_end(play_out.min(leave_at), ending).await;
                self.ended_at = Some(play_out);
                return Ok(());
            }
            // RFC 8216 §6.3.4: one target duration after the last load began, half of it
            // when the playlist had not changed.
            let td = media.target_duration;
            let wait = if self.changed { td } else { td / 2 };
            let reload_at = (self.loaded_at + wait.max(MIN_RELOAD)).min(leave_at);
            if !sleep_or_end(reload_at, ending).await || Instant::now() >= leave_at {
                return Ok(());
            }
            self.reload(conns).await?;
        }
    }

    /// Downloads every listed segment from `next_msn` on. False when the viewer must stop.
    async fn download_new(
        &mut self,
        conns: &mut Connections,
        intended: Instant,
        leave_at: Instant,
        ending: &watch::Receiver<bool>,
    ) -> Result<bool, Fatal> {
        let media = &self.stream.media;
        if self.next_msn < media.media_sequence + media.skipped_segments {
            // Fell out of the window (long stall, slow downloads): rejoin where a new viewer
            // would, as players do.
            self.next_msn = media
                .segments
                .get(media.live_start_index())
                .map(|s| s.msn)
                .unwrap_or(self.next_msn);
        }
        loop {
            if Instant::now() >= leave_at || *ending.borrow() {
                return Ok(false);
            }
            let media = &self.stream.media;
            let Some(segment) = media.segments.iter().find(|s| s.msn >= self.next_msn) else {
                return Ok(true);
            };
            let at_edge = segment.msn + 1 == media.next_msn();
            let (msn, duration, pdt) = (segment.msn, segment.duration, segment.program_date_time);
            let uri = segment.uri.clone();
            match self.get_media(conns, &uri, at_edge).await? {
                Got::Retry => return Ok(true),
                // Recorded by `get_media`; a player skips the segment and moves on.
                Got::Skip => self.next_msn = msn + 1,
                Got::Media(response) => {
                    self.next_msn = msn + 1;
                    self.played(conns, &response, duration, pdt, intended, false)
                        .await;
                }
            }
        }
    }

    /// One segment or part request, with the classification every media request gets.
    async fn get_media(
        &mut self,
        conns: &mut Connections,
        uri: &str,
        at_edge: bool,
    ) -> Result<Got, Fatal> {
        let Ok(url) = playlist::resolve(&self.stream.url, uri) else {
            conns.judged(Some(ErrorKind::NotHls));
            self.fail()?;
            return Ok(Got::Skip);
        };
        let response = match conns.request(http::Method::GET, &url, None, false).await {
            Ok(r) => r,
            Err(_) => {
                self.fail()?;
                return Ok(Got::Skip);
            }
        };
        if response.status == 404 && at_edge {
            conns.judged(Some(ErrorKind::LiveEdge404));
            self.edge_retries += 1;
            self.fail()?;
            if self.edge_retries <= LIVE_EDGE_RETRIES {
                return Ok(Got::Retry);
            }
            self.edge_retries = 0;
            return Ok(Got::Skip);
        }
        if !(200..300).contains(&response.status) {
            conns.judged(Some(ErrorKind::from_status(response.status)));
            self.fail()?;
            return Ok(Got::Skip);
        }
        conns.judged(None);
        self.failures = 0;
        self.edge_retries = 0;
        Ok(Got::Media(response))
    }

    /// Books a downloaded segment or part: timings, buffer, first frame, live latency, and
    /// the pending by-bandwidth choice.
    async fn played(
        &mut self,
        conns: &mut Connections,
        response: &Response,
        duration: Duration,
        pdt: Option<DateTime<Utc>>,
        intended: Instant,
        held: bool,
    ) {
        let now = Instant::now();
        let (r, p) = (conns.region, conns.phase);
        if held {
            // A preload-hinted part: the server held the request until the part existed, so its
            // time is a hold, not a download; as a download it would fake a slow network.
            conns.rec.duration(r, p, Metric::PartHoldMs, response.total);
        } else {
            conns.rec.duration(r, p, Metric::SegmentMs, response.total);
            let ratio = duration.as_secs_f64() / response.total.as_secs_f64().max(1e-6);
            conns
                .rec
                .sample(r, p, Metric::DownloadRatio, (ratio * 1e6).round() as u64);
            // What the emulated link alone allowed for this segment, so that the analysis can
            // tell a link too thin for the stream from a target slow behind a link that was not.
            let client = conns.client();
            let floor = client
                .network()
                .and_then(|n| crate::protocol::netem::delivery_floor(n, response.body_len));
            if let Some(floor) = floor {
                let link = duration.as_secs_f64() / floor.as_secs_f64().max(1e-6);
                conns
                    .rec
                    .sample(r, p, Metric::LinkRatio, (link * 1e6).round() as u64);
            }
        }
        if self.buffer.add(duration, now) {
            conns.rec.duration(
                r,
                p,
                Metric::FirstFrameMs,
                now.saturating_duration_since(intended),
            );
        }
        if self.buffer.is_playing() {
            if let Some(latency) = live_latency(pdt, duration, self.buffer.level()) {
                conns.rec.duration(r, p, Metric::LiveLatencyMs, latency);
            }
        }
        // By-bandwidth needs a real download to estimate from; a held part is not one.
        let choice = if held {
            None
        } else {
            self.stream.pending_choice.take()
        };
        if let Some((master, variants)) = choice {
            let bps = response.body_len as f64 * 8.0 / response.total.as_secs_f64().max(1e-6);
            self.switch_rendition(conns, &master, &variants, bps).await;
        }
    }

    /// by-bandwidth: after the first segment, move to the highest sustainable variant.
    async fn switch_rendition(
        &mut self,
        conns: &mut Connections,
        master: &Url,
        variants: &[Variant],
        bps: f64,
    ) {
        let Some(chosen) = choose_by_bandwidth(variants, bps) else {
            return;
        };
        let Ok(url) = playlist::resolve(master, &variants[chosen].uri) else {
            return;
        };
        if url == self.stream.url {
            return;
        }
        // If the new rendition fails to load, keep playing the current one.
        if let Ok(Playlist::Media(media)) = fetch_playlist(conns, &url).await {
            self.stream.url = url;
            self.stream.media = media;
        }
    }

    async fn reload(&mut self, conns: &mut Connections) -> Result<(), Fatal> {
        let url = self.stream.url.clone();
        self.reload_from(conns, &url, Metric::PlaylistMs).await
    }

    /// Loads the media playlist from `url` (the stream's, or a blocking reload of it) and
    /// times the response as `metric`.
    async fn reload_from(
        &mut self,
        conns: &mut Connections,
        url: &Url,
        metric: Metric,
    ) -> Result<(), Fatal> {
        self.loaded_at = Instant::now();
        match fetch_playlist_as(conns, url, metric).await {
            Ok(Playlist::Media(media)) => {
                // A playlist that loads does not reset `failures`: only media does, so a
                // stream whose segments all fail still ends in a start failure.
                self.changed = media.next_msn() != self.stream.media.next_msn()
                    || media.end_list != self.stream.media.end_list;
                let stale = !media.end_list
                    && self
                        .stale
                        .observe(media.next_msn(), media.target_duration, Instant::now());
                if stale {
                    conns.judged(Some(ErrorKind::StalePlaylist));
                    // A frozen live stream: whoever was watching it could not go on.
                    conns.trace.playback_failed = true;
                }
                self.stream.media = media;
                Ok(())
            }
            Ok(Playlist::Multivariant(_)) => {
                conns.judged(Some(ErrorKind::NotHls));
                self.fail()
            }
            // Keep the old playlist: a player retries on the next reload.
            Err(()) => {
                self.changed = false;
                self.fail()
            }
        }
    }

    fn fail(&mut self) -> Result<(), Fatal> {
        self.failures += 1;
        if self.failures >= MAX_CONSECUTIVE_FAILURES {
            return Err(Fatal::Failed);
        }
        Ok(())
    }
}

/// Wall clock − program date-time of the frame playing now: the segment just buffered ends at
/// `pdt + duration`, and the playhead is `buffered` behind that.
fn live_latency(
    pdt: Option<DateTime<Utc>>,
    duration: Duration,
    buffered: Duration,
) -> Option<Duration> {
    let end = pdt? + TimeDelta::from_std(duration).ok()?;
    let playhead = end - TimeDelta::from_std(buffered).ok()?;
    (Utc::now() - playhead).to_std().ok()
}
