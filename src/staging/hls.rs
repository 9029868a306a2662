//! The synthetic live HLS origin: a multivariant playlist with three renditions, live media
//! playlists that advance with the wall clock, and fixed-size MPEG-TS-looking segments.
//!
//! Timeline: at server start the stream already has a full window of segments (as if it had
//! been live for `playlist_window` segments), so a viewer can join immediately. At elapsed
//! time `e` the media sequence is `floor(e / d)` and the live edge (newest segment) is
//! `floor(e / d) + window - 1`. Segment `n` starts at `start_wall + (n - window) * d`, which
//! makes the live edge's end time the most recent segment boundary, as on a real packager.
//!
//! With `StagingConfig::ll_hls` the media playlists are LL-HLS (version 9): parts of the last
//! few segments and of the one in progress, a preload hint, blocking playlist reload
//! (`?_HLS_msn=M&_HLS_part=P`) and blocking preload-hinted part requests; the part timeline
//! lives in `llhls.rs`. Without it, playlists are classic HLS v3 and query strings are ignored.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use super::capacity::{Admission, Class};
use super::llhls::{
    blocking_request, parse_part, write_parts, Blocked, LowLatency, PARTS_KEPT_SEGMENTS,
};
use super::{Shared, StagingConfig};

/// How far behind the live edge a segment stays downloadable (a DVR-less origin keeps a
/// little more than the playlist so slow viewers don't 404 on a segment they just saw).
const MIN_RETAINED_SEGMENTS: u64 = 30;
const TS_PACKET: usize = 188;
const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const SEGMENT_TYPE: &str = "video/mp2t";

/// One bitrate ladder step, with its segment body built once and shared by clone.
#[derive(Debug)]
struct Rendition {
    name: &'static str,
    bitrate_kbps: u64,
    resolution: &'static str,
    segment: Bytes,
    /// LL-HLS part bodies by part index (empty in classic mode).
    parts: Vec<Bytes>,
}

/// Everything the HLS routes need, built once at server start.
#[derive(Debug)]
pub(crate) struct Hls {
    started: Instant,
    started_wall: DateTime<Utc>,
    segment_duration: Duration,
    window: u64,
    retained: u64,
    renditions: Vec<Rendition>,
    master: Bytes,
    media_cache_control: HeaderValue,
    ll: Option<LowLatency>,
    segment_delay: Duration,
}

impl Hls {
    pub(crate) fn new(config: &StagingConfig) -> Self {
        // A zero duration would make the clock arithmetic divide by zero; 1 ms is already
        // far below anything a player could follow.
        let segment_duration = config.segment_duration.max(Duration::from_millis(1));
        let window = config.playlist_window.max(1) as u64;
        let low = u64::from(config.bitrate_kbps.max(1));
        let started = Instant::now();
        let ll = config
            .ll_hls
            .then(|| LowLatency::new(segment_duration, window, started));
        let ladder = [
            ("low", 1, "640x360"),
            ("mid", 3, "1280x720"),
            ("high", 8, "1920x1080"),
        ];
        let renditions: Vec<Rendition> = ladder
            .iter()
            .map(|&(name, factor, resolution)| {
                let bitrate_kbps = low * factor;
                Rendition {
                    name,
                    bitrate_kbps,
                    resolution,
                    segment: ts_segment(segment_bytes(bitrate_kbps, segment_duration)),
                    parts: ll.as_ref().map_or_else(Vec::new, |ll| {
                        (0..ll.parts)
                            .map(|k| ts_segment(segment_bytes(bitrate_kbps, ll.part_duration(k))))
                            .collect()
                    }),
                }
            })
            .collect();
        let master = Bytes::from(master_playlist(&renditions));
        // LL-HLS playlists change every part: a cached copy would hide the parts.
        let max_age = if ll.is_some() {
            0
        } else {
            segment_duration.as_secs() / 2
        };
        let media_cache_control = HeaderValue::from_str(&format!("public, max-age={max_age}"))
            .unwrap_or_else(|_| HeaderValue::from_static("no-cache"));
        Self {
            started,
            started_wall: Utc::now(),
            segment_duration,
            window,
            retained: window.max(MIN_RETAINED_SEGMENTS),
            renditions,
            master,
            media_cache_control,
            ll,
            segment_delay: config.segment_delay,
        }
    }

    /// Starts the LL-HLS part ticker (no-op in classic mode); needs a Tokio runtime.
    pub(crate) fn spawn_ticker(&self) {
        if let Some(ll) = &self.ll {
            ll.spawn_ticker();
        }
    }

    /// Blocking-request bound: three target durations (RFC 8216bis §6.2.5.2).
    fn block_limit(&self) -> Duration {
        Duration::from_secs(self.target_secs() * 3)
    }

    fn target_secs(&self) -> u64 {
        (self.segment_duration.as_secs_f64().ceil() as u64).max(1)
    }

    fn rendition(&self, name: &str) -> Option<&Rendition> {
        self.renditions.iter().find(|r| r.name == name)
    }

    /// Media sequence number (first segment in the live window) at `elapsed`.
    fn media_sequence(&self, elapsed: Duration) -> u64 {
        // u128 → u64: overflows only after ~585 years of uptime at 1 ms segments.
        (elapsed.as_nanos() / self.segment_duration.as_nanos()) as u64
    }

    fn live_edge(&self, elapsed: Duration) -> u64 {
        self.media_sequence(elapsed) + self.window - 1
    }

    fn segment_available(&self, msn: u64, elapsed: Duration) -> bool {
        let edge = self.live_edge(elapsed);
        msn <= edge && edge - msn <= self.retained
    }

    fn program_date_time(&self, msn: u64) -> String {
        let offset =
            (i128::from(msn) - i128::from(self.window)) * self.segment_duration.as_nanos() as i128;
        let offset = TimeDelta::nanoseconds(offset.clamp(i64::MIN.into(), i64::MAX.into()) as i64);
        (self.started_wall + offset).to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    fn media_playlist(&self, elapsed: Duration) -> String {
        let seq = self.media_sequence(elapsed);
        let secs = self.segment_duration.as_secs_f64();
        let target = self.target_secs();
        let mut out = String::with_capacity(256 + 96 * self.window as usize);
        let version = if self.ll.is_some() { 9 } else { 3 };
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{target}\n"
        );
        if let Some(ll) = &self.ll {
            let part = ll.part_target().as_secs_f64();
            let _ = write!(
                out,
                "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={:.3}\n\
                 #EXT-X-PART-INF:PART-TARGET={part:.3}\n",
                part * 3.0
            );
        }
        let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{seq}");
        let edge = seq + self.window - 1;
        for msn in seq..=edge {
            let _ = writeln!(
                out,
                "#EXT-X-PROGRAM-DATE-TIME:{}",
                self.program_date_time(msn)
            );
            if let Some(ll) = &self.ll {
                if msn + PARTS_KEPT_SEGMENTS > edge {
                    write_parts(&mut out, ll, msn, ll.parts);
                }
            }
            let _ = write!(out, "#EXTINF:{secs:.3},\nseg-{msn}.ts\n");
        }
        if let Some(ll) = &self.ll {
            // The segment in progress: its finished parts, then a hint for the next one.
            let next = edge + 1;
            let done = ll.parts_done(next, elapsed);
            write_parts(&mut out, ll, next, done);
            let _ = writeln!(
                out,
                "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"",
                super::llhls::part_uri(next, done)
            );
        }
        out
    }
}

fn status(code: StatusCode, text: &'static str) -> Response {
    (
        code,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        text,
    )
        .into_response()
}

/// Bytes in one segment: bitrate × duration / 8, exactly (floored to a whole byte).
pub(crate) fn segment_bytes(bitrate_kbps: u64, duration: Duration) -> usize {
    (u128::from(bitrate_kbps) * 1000 * duration.as_nanos() / 8 / 1_000_000_000) as usize
}

/// A body made of MPEG-TS null packets (PID 0x1FFF), so anything sniffing for the 0x47
/// sync byte every 188 bytes sees a plausible transport stream.
fn ts_segment(len: usize) -> Bytes {
    let mut packet = [0xFFu8; TS_PACKET];
    packet[..4].copy_from_slice(&[0x47, 0x1F, 0xFF, 0x10]);
    let mut buf = BytesMut::with_capacity(len);
    while buf.len() < len {
        let take = (len - buf.len()).min(TS_PACKET);
        buf.extend_from_slice(&packet[..take]);
    }
    buf.freeze()
}

fn master_playlist(renditions: &[Rendition]) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for r in renditions {
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={bw},AVERAGE-BANDWIDTH={bw},RESOLUTION={res},\
             CODECS=\"avc1.4d401f,mp4a.40.2\",FRAME-RATE=30.000\n{name}/index.m3u8\n",
            bw = r.bitrate_kbps * 1000,
            res = r.resolution,
            name = r.name,
        );
    }
    out
}

fn playlist_response(body: impl Into<axum::body::Body>, cache: HeaderValue) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(PLAYLIST_TYPE),
            ),
            (header::CACHE_CONTROL, cache),
        ],
        body.into(),
    )
        .into_response()
}

fn not_found() -> Response {
    // Short negative caching like a CDN in front of a live origin: a future segment will
    // exist a moment later, so it must not be cached as missing.
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        "not found\n",
    )
        .into_response()
}

/// `GET /hls/stream.m3u8`
pub(crate) async fn master(
    State(shared): State<Shared>,
    admission: Option<Extension<Admission>>,
) -> Response {
    if let Err(rejected) = shared
        .gate
        .admit(Class::Playlist, admission.map(|e| e.0))
        .await
    {
        return rejected.into_response();
    }
    playlist_response(
        shared.hls.master.clone(),
        HeaderValue::from_static("public, max-age=60"),
    )
}

/// `GET /hls/{rendition}/{file}`: `index.m3u8`, `seg-{msn}.ts`, and in LL-HLS mode
/// `seg-{msn}.p-{k}.ts` and `index.m3u8?_HLS_msn=M&_HLS_part=P`.
pub(crate) async fn rendition_file(
    State(shared): State<Shared>,
    Path((rendition, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    admission: Option<Extension<Admission>>,
) -> Response {
    let hls = &shared.hls;
    let Some(rendition) = hls.rendition(&rendition) else {
        return not_found();
    };
    let admission = admission.map(|e| e.0);
    if file == "index.m3u8" {
        if let Err(rejected) = shared.gate.admit(Class::Playlist, admission).await {
            return rejected.into_response();
        }
        if let Some(ll) = &hls.ll {
            let blocking = match blocking_request(query.as_deref()) {
                Ok(b) => b,
                Err(()) => return status(StatusCode::BAD_REQUEST, "bad _HLS_msn/_HLS_part\n"),
            };
            if let Some((msn, part)) = blocking {
                // Without `_HLS_part` the whole segment is awaited, i.e. its last part.
                let k = part.unwrap_or(ll.parts - 1);
                let edge = hls.live_edge(hls.started.elapsed());
                match ll.wait_part(msn, k, edge, hls.block_limit()).await {
                    Blocked::Ready => {}
                    Blocked::TooFar => {
                        return status(StatusCode::BAD_REQUEST, "_HLS_msn too far ahead\n")
                    }
                    Blocked::TimedOut => {
                        return status(StatusCode::SERVICE_UNAVAILABLE, "part not produced\n")
                    }
                }
            }
        }
        // Elapsed is read after the service delay, like an origin rendering on response.
        let body = hls.media_playlist(hls.started.elapsed());
        return playlist_response(body, hls.media_cache_control.clone());
    }
    if let Some((msn, k)) = parse_part(&file) {
        return part_file(&shared, rendition, msn, k, admission).await;
    }
    let Some(msn) = file
        .strip_prefix("seg-")
        .and_then(|f| f.strip_suffix(".ts"))
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return not_found();
    };
    if !hls.segment_available(msn, hls.started.elapsed()) {
        return not_found();
    }
    if let Err(rejected) = shared.gate.admit(Class::Segment, admission).await {
        return rejected.into_response();
    }
    if !hls.segment_delay.is_zero() {
        tokio::time::sleep(hls.segment_delay).await;
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(SEGMENT_TYPE)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        rendition.segment.clone(),
    )
        .into_response()
}

/// An LL-HLS part: served when it exists, awaited when it is the preload-hinted next part.
async fn part_file(
    shared: &Shared,
    rendition: &Rendition,
    msn: u64,
    k: u32,
    admission: Option<Admission>,
) -> Response {
    let hls = &shared.hls;
    let (Some(ll), Some(body)) = (&hls.ll, rendition.parts.get(k as usize)) else {
        return not_found();
    };
    let elapsed = hls.started.elapsed();
    let edge = hls.live_edge(elapsed);
    if !ll.part_available(msn, k, elapsed) {
        let hinted = (edge + 1, ll.parts_done(edge + 1, elapsed));
        if (msn, k) != hinted {
            return not_found();
        }
        if ll.wait_part(msn, k, edge, hls.block_limit()).await != Blocked::Ready {
            return status(StatusCode::SERVICE_UNAVAILABLE, "part not produced\n");
        }
    } else if edge.saturating_sub(msn) > hls.retained {
        return not_found();
    }
    if let Err(rejected) = shared.gate.admit(Class::Segment, admission).await {
        return rejected.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(SEGMENT_TYPE)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hls(segment_ms: u64, window: usize) -> Hls {
        Hls::new(&StagingConfig {
            segment_duration: Duration::from_millis(segment_ms),
            playlist_window: window,
            ..StagingConfig::default()
        })
    }

    #[test]
    fn segment_sizes_follow_the_ladder() {
        let h = hls(2000, 6);
        let sizes: Vec<usize> = h.renditions.iter().map(|r| r.segment.len()).collect();
        assert_eq!(sizes, vec![100_000, 300_000, 800_000]);
        let seg = &h.renditions[0].segment;
        assert!(seg.chunks(TS_PACKET).all(|p| p[0] == 0x47));
    }

    #[test]
    fn window_slides_with_elapsed_time() {
        let h = hls(2000, 6);
        let p0 = h.media_playlist(Duration::from_millis(1999));
        assert!(p0.contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
        assert!(p0.contains("seg-0.ts") && p0.contains("seg-5.ts") && !p0.contains("seg-6.ts"));
        assert_eq!(p0.matches("#EXTINF:2.000,").count(), 6);
        assert_eq!(p0.matches("#EXT-X-PROGRAM-DATE-TIME:").count(), 6);
        assert!(p0.contains("#EXT-X-TARGETDURATION:2\n"));
        let p1 = h.media_playlist(Duration::from_millis(4000));
        assert!(p1.contains("#EXT-X-MEDIA-SEQUENCE:2\n") && p1.contains("seg-7.ts"));
    }

    #[test]
    fn availability_window() {
        let h = hls(1000, 6);
        let at = Duration::from_secs(100); // live edge = 105
        assert!(h.segment_available(105, at));
        assert!(!h.segment_available(106, at));
        assert!(h.segment_available(75, at));
        assert!(!h.segment_available(74, at));
    }

    #[test]
    fn program_date_time_ends_at_now_for_the_live_edge() {
        let h = hls(2000, 6);
        let edge_start = h.program_date_time(h.live_edge(Duration::ZERO));
        let expected =
            (h.started_wall - TimeDelta::seconds(2)).to_rfc3339_opts(SecondsFormat::Millis, true);
        assert_eq!(edge_start, expected);
        assert!(edge_start.ends_with('Z') && edge_start.len() == 24);
    }

    #[test]
    fn short_segments_render_fractional_extinf() {
        let h = hls(200, 3);
        let p = h.media_playlist(Duration::ZERO);
        assert!(p.contains("#EXTINF:0.200,") && p.contains("#EXT-X-TARGETDURATION:1\n"));
    }

    #[test]
    fn ll_hls_playlist_lists_parts_and_a_preload_hint() {
        let h = Hls::new(&StagingConfig {
            ll_hls: true,
            ..StagingConfig::default()
        });
        // 1.2 s into segment 6 (edge 5): parts 0 and 1 of segment 6 exist.
        let p = h.media_playlist(Duration::from_millis(1200));
        assert!(p.contains("#EXT-X-VERSION:9\n"), "{p}");
        assert!(p.contains("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500\n"));
        assert!(p.contains("#EXT-X-PART-INF:PART-TARGET=0.500\n"));
        // Parts of segments 4 and 5 (kept) and 0..2 of segment 6; none of older segments.
        assert_eq!(p.matches("#EXT-X-PART:").count(), 4 + 4 + 2);
        assert!(p.contains("#EXT-X-PART:DURATION=0.500,URI=\"seg-4.p-0.ts\",INDEPENDENT=YES\n"));
        assert!(!p.contains("seg-3.p-"));
        assert!(
            p.contains("URI=\"seg-6.p-1.ts\"\n")
                && !p.contains("PART:DURATION=0.500,URI=\"seg-6.p-2")
        );
        assert!(p.ends_with("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-6.p-2.ts\"\n"));
        let bodies: Vec<usize> = h.renditions[0].parts.iter().map(Bytes::len).collect();
        assert_eq!(bodies, vec![25_000; 4], "400 kbit/s × 0.5 s");
    }
}
