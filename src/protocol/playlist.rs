//! HLS playlist parsing (RFC 8216, plus the LL-HLS tags of RFC 8216bis): text in, typed
//! [`Playlist`] out. Pure and I/O-free so the HLS viewer can parse on its hot path and tests need
//! no server. Owns the playlist model; it does not decide what a viewer fetches next.
//!
//! Leniency follows the RFC's client rules: unknown tags and comments are ignored; a missing or
//! malformed *required* value (`EXTINF` duration, `BANDWIDTH`, `EXT-X-TARGETDURATION`, a part's
//! `URI`/`DURATION`) is an error, since a load test should count a broken playlist. Purely
//! informational values that fail to parse (`EXT-X-PROGRAM-DATE-TIME`, `RESOLUTION`,
//! `FRAME-RATE`, `EXT-X-VERSION`) are dropped rather than failing the whole playlist, as
//! players do. Not modelled: `EXT-X-BYTERANGE`, `EXT-X-KEY`, `EXT-X-DATERANGE`,
//! `EXT-X-I-FRAME-STREAM-INF`, `EXT-X-RENDITION-REPORT`, `EXT-X-GAP`.

mod attrs;
#[cfg(test)]
mod tests;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use attrs::{attrs, resolution, seconds, yes, Value};

/// A parsed playlist: either the list of variant streams or one rendition's segments.
#[derive(Debug, Clone, PartialEq)]
pub enum Playlist {
    Multivariant(MultivariantPlaylist),
    Media(MediaPlaylist),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MultivariantPlaylist {
    pub version: Option<u32>,
    pub independent_segments: bool,
    /// `EXT-X-STREAM-INF` entries, in playlist order.
    pub variants: Vec<Variant>,
    /// `EXT-X-MEDIA` alternative renditions (separate audio, subtitles).
    pub renditions: Vec<Rendition>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Variant {
    /// Peak bits per second.
    pub bandwidth: u64,
    pub average_bandwidth: Option<u64>,
    /// Width × height.
    pub resolution: Option<(u32, u32)>,
    pub codecs: Option<String>,
    pub frame_rate: Option<f64>,
    /// `AUDIO` group id, naming renditions in [`MultivariantPlaylist::renditions`].
    pub audio: Option<String>,
    /// As written (possibly relative); see [`resolve`].
    pub uri: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendition {
    /// `AUDIO`, `VIDEO`, `SUBTITLES` or `CLOSED-CAPTIONS`, as written.
    pub media_type: String,
    pub group_id: String,
    pub name: String,
    pub language: Option<String>,
    pub default: bool,
    /// `None` when the rendition is muxed into the variant stream.
    pub uri: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistType {
    Event,
    Vod,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MediaPlaylist {
    pub version: Option<u32>,
    pub target_duration: Duration,
    /// `EXT-X-MEDIA-SEQUENCE`: the media sequence number of the first segment (including any
    /// skipped by a delta update).
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    pub playlist_type: Option<PlaylistType>,
    pub end_list: bool,
    pub independent_segments: bool,
    /// Segments listed (after any skipped ones), oldest first.
    pub segments: Vec<Segment>,
    /// `EXT-X-SKIP:SKIPPED-SEGMENTS` of a delta update; those segments are not in `segments`.
    pub skipped_segments: u64,
    /// `EXT-X-PART-INF:PART-TARGET` (LL-HLS).
    pub part_target: Option<Duration>,
    pub server_control: Option<ServerControl>,
    /// Every `EXT-X-PART`: those of recent segments and those of the segment still being built
    /// (whose `msn` is [`MediaPlaylist::next_msn`]), in playlist order.
    pub parts: Vec<Part>,
    /// `URI` of an `EXT-X-PRELOAD-HINT` with `TYPE=PART`: the part the server will publish next.
    pub preload_hint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Segment {
    pub uri: String,
    pub duration: Duration,
    /// Media sequence number.
    pub msn: u64,
    /// Explicit `EXT-X-PROGRAM-DATE-TIME`, or extrapolated from the previous segment's
    /// (its date + its duration), never across a discontinuity.
    pub program_date_time: Option<DateTime<Utc>>,
    /// The `EXTINF` title, when not empty.
    pub title: Option<String>,
    /// Preceded by `EXT-X-DISCONTINUITY`.
    pub discontinuity: bool,
    /// The `EXT-X-MAP` `URI` (fMP4 initialization section) in effect for this segment.
    pub map_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Part {
    pub uri: String,
    pub duration: Duration,
    pub independent: bool,
    /// Media sequence number of the segment this part belongs to.
    pub msn: u64,
    /// Position of this part within its segment, from 0.
    pub part_index: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerControl {
    pub can_block_reload: bool,
    pub part_hold_back: Option<Duration>,
    pub hold_back: Option<Duration>,
    pub can_skip_until: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaylistError {
    #[error("not an HLS playlist: the first line is not #EXTM3U")]
    NotHls,
    #[error("line {line}: {reason}")]
    Invalid { line: usize, reason: &'static str },
    #[error("media playlist without the required {0} tag")]
    MissingTag(&'static str),
    #[error("playlist mixes variant streams (EXT-X-STREAM-INF) and media segments")]
    Mixed,
}

/// Parses a playlist. Never panics, whatever the input.
pub fn parse(text: &str) -> Result<Playlist, PlaylistError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    match lines.next() {
        Some((_, "#EXTM3U")) => {}
        _ => return Err(PlaylistError::NotHls),
    }
    let mut p = Parser::default();
    for (line, text) in lines {
        p.line(line, text)
            .map_err(|reason| PlaylistError::Invalid { line, reason })?;
    }
    p.finish()
}

/// Resolves a playlist URI against the URL the playlist was fetched from.
pub fn resolve(base: &url::Url, uri: &str) -> Result<url::Url, url::ParseError> {
    base.join(uri)
}

impl MediaPlaylist {
    /// Keeps only the last `n` segments (and their parts) of a live playlist: a player needs
    /// the live edge, not hours of DVR window, and a viewer's memory must not grow with what
    /// the server lists. Media sequence numbers stay absolute (`next_msn` is unchanged); a
    /// viewer further behind than the window re-enters at the live edge, as a player does.
    pub fn keep_last(&mut self, n: usize) {
        let drop = self.segments.len().saturating_sub(n);
        if drop == 0 {
            return;
        }
        // split_off: the kept tail gets an allocation of its own size, the long one is freed.
        self.segments = self.segments.split_off(drop);
        self.media_sequence = self.media_sequence.saturating_add(drop as u64);
        if let Some(first) = self.segments.first().map(|s| s.msn) {
            self.parts.retain(|p| p.msn >= first);
            self.parts.shrink_to_fit();
        }
    }

    /// The media sequence number of the segment after the last listed one: the segment that
    /// trailing parts belong to, and what an LL-HLS blocking reload asks for (`_HLS_msn`).
    pub fn next_msn(&self) -> u64 {
        self.media_sequence
            .saturating_add(self.skipped_segments)
            .saturating_add(self.segments.len() as u64)
    }

    /// Index into `segments` where a live viewer should start (RFC 8216 §6.3.3): the latest
    /// segment that starts at least three target durations from the end of the playlist (or
    /// `HOLD-BACK` from it, when the server sets one, per RFC 8216bis). 0 for a playlist with
    /// `EXT-X-ENDLIST` or one too short to hold back that far.
    pub fn live_start_index(&self) -> usize {
        if self.end_list {
            return 0;
        }
        let hold_back = self
            .server_control
            .and_then(|sc| sc.hold_back)
            .unwrap_or_else(|| self.target_duration.saturating_mul(3));
        let mut from_end = Duration::ZERO;
        for (i, seg) in self.segments.iter().enumerate().rev() {
            from_end = from_end.saturating_add(seg.duration);
            if from_end >= hold_back {
                return i;
            }
        }
        0
    }
}

/// Line-by-line state. Segment and part `msn`s are stored as indexes while parsing and offset
/// by the media sequence in `finish`, because `EXT-X-MEDIA-SEQUENCE` may legally appear after
/// other tags and out-of-order servers exist.
#[derive(Default)]
struct Parser {
    multi: MultivariantPlaylist,
    media: MediaPlaylist,
    target_duration: Option<Duration>,
    saw_media_tag: bool,
    pending_variant: Option<Variant>,
    /// Line of the pending `EXT-X-STREAM-INF` or `EXTINF`, for the error if its URI never comes.
    pending_line: usize,
    /// `EXTINF` awaiting its URI line.
    pending_inf: Option<(Duration, Option<String>)>,
    pending_pdt: Option<DateTime<Utc>>,
    pending_discontinuity: bool,
    current_map: Option<String>,
    /// End of the previous segment, for extrapolating dates.
    last_end: Option<DateTime<Utc>>,
    next_part_index: u32,
}

type LineResult = Result<(), &'static str>;

impl Parser {
    fn line(&mut self, line: usize, text: &str) -> LineResult {
        if text.is_empty() {
            return Ok(());
        }
        if !text.starts_with('#') {
            return self.uri(text);
        }
        let (tag, value) = text.split_once(':').unwrap_or((text, ""));
        match tag {
            "#EXTINF" => {
                let (dur, title) = value.split_once(',').unwrap_or((value, ""));
                let dur = seconds(dur).ok_or("#EXTINF: invalid duration")?;
                let title = Some(title.trim())
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned);
                self.pending_inf = Some((dur, title));
                self.pending_line = line;
                self.saw_media_tag = true;
            }
            "#EXT-X-TARGETDURATION" => {
                self.target_duration =
                    Some(seconds(value).ok_or("#EXT-X-TARGETDURATION: invalid duration")?);
                self.saw_media_tag = true;
            }
            "#EXT-X-MEDIA-SEQUENCE" => {
                self.media.media_sequence = integer(value, "#EXT-X-MEDIA-SEQUENCE: not a number")?;
            }
            "#EXT-X-DISCONTINUITY-SEQUENCE" => {
                self.media.discontinuity_sequence =
                    integer(value, "#EXT-X-DISCONTINUITY-SEQUENCE: not a number")?;
            }
            "#EXT-X-DISCONTINUITY" => self.pending_discontinuity = true,
            "#EXT-X-PROGRAM-DATE-TIME" => self.pending_pdt = date_time(value),
            "#EXT-X-ENDLIST" => self.media.end_list = true,
            "#EXT-X-PLAYLIST-TYPE" => {
                self.media.playlist_type = Some(match value.trim() {
                    "EVENT" => PlaylistType::Event,
                    "VOD" => PlaylistType::Vod,
                    _ => return Err("#EXT-X-PLAYLIST-TYPE: expected EVENT or VOD"),
                });
            }
            "#EXT-X-MAP" => self.current_map = Some(required_uri(value, "#EXT-X-MAP: no URI")?),
            "#EXT-X-PART-INF" => {
                for a in attrs(value) {
                    if let ("PART-TARGET", v) = a? {
                        self.media.part_target = seconds(v.raw);
                    }
                }
            }
            "#EXT-X-SERVER-CONTROL" => self.server_control(value)?,
            "#EXT-X-PART" => self.part(value)?,
            "#EXT-X-PRELOAD-HINT" => self.preload_hint(value)?,
            "#EXT-X-SKIP" => {
                for a in attrs(value) {
                    if let ("SKIPPED-SEGMENTS", v) = a? {
                        self.media.skipped_segments =
                            integer(v.raw, "#EXT-X-SKIP: invalid SKIPPED-SEGMENTS")?;
                    }
                }
            }
            "#EXT-X-STREAM-INF" => {
                self.pending_variant = Some(stream_inf(value)?);
                self.pending_line = line;
            }
            "#EXT-X-MEDIA" => self.multi.renditions.push(rendition(value)?),
            "#EXT-X-VERSION" => {
                let v = value.trim().parse().ok();
                self.multi.version = v;
                self.media.version = v;
            }
            "#EXT-X-INDEPENDENT-SEGMENTS" => {
                self.multi.independent_segments = true;
                self.media.independent_segments = true;
            }
            // Unknown tags and comments: RFC 8216 §6.3.1 says ignore them.
            _ => {}
        }
        Ok(())
    }

    fn uri(&mut self, uri: &str) -> LineResult {
        if let Some(mut variant) = self.pending_variant.take() {
            variant.uri = uri.to_owned();
            self.multi.variants.push(variant);
            return Ok(());
        }
        let (duration, title) = self
            .pending_inf
            .take()
            .ok_or("URI line without a preceding #EXTINF or #EXT-X-STREAM-INF")?;
        let discontinuity = std::mem::take(&mut self.pending_discontinuity);
        let program_date_time =
            self.pending_pdt
                .take()
                .or(if discontinuity { None } else { self.last_end });
        self.last_end = program_date_time.and_then(|t| {
            TimeDelta::from_std(duration)
                .ok()
                .and_then(|d| t.checked_add_signed(d))
        });
        self.media.segments.push(Segment {
            uri: uri.to_owned(),
            duration,
            msn: self.media.segments.len() as u64,
            program_date_time,
            title,
            discontinuity,
            map_uri: self.current_map.clone(),
        });
        self.next_part_index = 0;
        Ok(())
    }

    fn server_control(&mut self, value: &str) -> LineResult {
        let mut sc = ServerControl::default();
        for a in attrs(value) {
            match a? {
                ("CAN-BLOCK-RELOAD", v) => sc.can_block_reload = yes(v),
                ("PART-HOLD-BACK", v) => sc.part_hold_back = seconds(v.raw),
                ("HOLD-BACK", v) => sc.hold_back = seconds(v.raw),
                ("CAN-SKIP-UNTIL", v) => sc.can_skip_until = seconds(v.raw),
                _ => {}
            }
        }
        self.media.server_control = Some(sc);
        Ok(())
    }

    fn part(&mut self, value: &str) -> LineResult {
        let (mut uri, mut duration, mut independent) = (None, None, false);
        for a in attrs(value) {
            match a? {
                ("URI", v) => uri = Some(v.raw.to_owned()),
                ("DURATION", v) => {
                    duration = Some(seconds(v.raw).ok_or("#EXT-X-PART: bad DURATION")?)
                }
                ("INDEPENDENT", v) => independent = yes(v),
                _ => {}
            }
        }
        self.media.parts.push(Part {
            uri: uri.ok_or("#EXT-X-PART: no URI")?,
            duration: duration.ok_or("#EXT-X-PART: no DURATION")?,
            independent,
            msn: self.media.segments.len() as u64,
            part_index: self.next_part_index,
        });
        self.next_part_index = self.next_part_index.saturating_add(1);
        Ok(())
    }

    fn preload_hint(&mut self, value: &str) -> LineResult {
        let (mut is_part, mut uri) = (false, None);
        for a in attrs(value) {
            match a? {
                ("TYPE", v) => is_part = v.raw == "PART",
                ("URI", v) => uri = Some(v.raw),
                _ => {}
            }
        }
        // MAP hints exist too; only the next part is useful to a viewer.
        if is_part {
            self.media.preload_hint = Some(uri.ok_or("#EXT-X-PRELOAD-HINT: no URI")?.to_owned());
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Playlist, PlaylistError> {
        let is_multi = !self.multi.variants.is_empty() || self.pending_variant.is_some();
        if is_multi && self.saw_media_tag {
            return Err(PlaylistError::Mixed);
        }
        if is_multi {
            if self.pending_variant.is_some() {
                return Err(PlaylistError::Invalid {
                    line: self.pending_line,
                    reason: "#EXT-X-STREAM-INF without a URI line after it",
                });
            }
            return Ok(Playlist::Multivariant(self.multi));
        }
        if self.pending_inf.is_some() {
            return Err(PlaylistError::Invalid {
                line: self.pending_line,
                reason: "#EXTINF without a URI line after it",
            });
        }
        self.media.target_duration = self
            .target_duration
            .ok_or(PlaylistError::MissingTag("#EXT-X-TARGETDURATION"))?;
        let base = self
            .media
            .media_sequence
            .saturating_add(self.media.skipped_segments);
        for seg in &mut self.media.segments {
            seg.msn = seg.msn.saturating_add(base);
        }
        for part in &mut self.media.parts {
            part.msn = part.msn.saturating_add(base);
        }
        Ok(Playlist::Media(self.media))
    }
}

fn integer(s: &str, reason: &'static str) -> Result<u64, &'static str> {
    s.trim().parse().map_err(|_| reason)
}

/// ISO 8601 as servers actually write it: RFC 3339, or with a `+hhmm` offset.
fn date_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn required_uri(list: &str, missing: &'static str) -> Result<String, &'static str> {
    for a in attrs(list) {
        if let ("URI", v) = a? {
            return Ok(v.raw.to_owned());
        }
    }
    Err(missing)
}

fn owned(v: Value<'_>) -> Option<String> {
    Some(v.raw.to_owned())
}

fn stream_inf(list: &str) -> Result<Variant, &'static str> {
    let mut v = Variant::default();
    let mut bandwidth = None;
    for a in attrs(list) {
        match a? {
            ("BANDWIDTH", x) => bandwidth = x.raw.parse().ok(),
            ("AVERAGE-BANDWIDTH", x) => v.average_bandwidth = x.raw.parse().ok(),
            ("RESOLUTION", x) => v.resolution = resolution(x.raw),
            ("CODECS", x) => v.codecs = owned(x),
            ("FRAME-RATE", x) => v.frame_rate = x.raw.parse().ok().filter(|f: &f64| f.is_finite()),
            ("AUDIO", x) => v.audio = owned(x),
            _ => {}
        }
    }
    v.bandwidth = bandwidth.ok_or("#EXT-X-STREAM-INF: missing or invalid BANDWIDTH")?;
    Ok(v)
}

fn rendition(list: &str) -> Result<Rendition, &'static str> {
    let mut r = Rendition::default();
    for a in attrs(list) {
        match a? {
            ("TYPE", x) => r.media_type = x.raw.to_owned(),
            ("GROUP-ID", x) => r.group_id = x.raw.to_owned(),
            ("NAME", x) => r.name = x.raw.to_owned(),
            ("LANGUAGE", x) => r.language = owned(x),
            ("DEFAULT", x) => r.default = yes(x),
            ("URI", x) => r.uri = owned(x),
            _ => {}
        }
    }
    if r.media_type.is_empty() || r.group_id.is_empty() {
        return Err("#EXT-X-MEDIA: missing TYPE or GROUP-ID");
    }
    Ok(r)
}
