//! Watching an HLS live stream: multivariant → rendition → media playlist, start three target
//! durations behind the live edge (RFC 8216 §6.3.3), download every segment in order, reload the
//! playlist on the RFC cadence. Whole segments are fetched so load on the origin is real.

use tokio::sync::watch;
use tokio::time::Instant;
use url::Url;

use crate::metrics::{ErrorKind, Metric};
use crate::protocol::playlist::{self, MediaPlaylist, Playlist};
use crate::scenario::Rendition;

use super::viewer::{sleep_or_end, Connections, MIN_RELOAD};

/// Returns false when the stream could not be started (no playlist, not HLS).
pub async fn watch_hls(
    conns: &mut Connections,
    url: &Url,
    rendition: Rendition,
    intended: Instant,
    leave_at: Instant,
    ending: &mut watch::Receiver<bool>,
) -> bool {
    let Some((media_url, mut media)) = open_stream(conns, url, rendition).await else {
        return false;
    };
    let mut next_msn = media
        .segments
        .get(media.live_start_index())
        .map(|s| s.msn)
        .unwrap_or(media.media_sequence);
    let mut first_frame = false;
    loop {
        let mut fetched = false;
        let from_msn = next_msn;
        for segment in media.segments.iter().filter(|s| s.msn >= from_msn) {
            if Instant::now() >= leave_at || *ending.borrow() {
                return true;
            }
            let Ok(seg_url) = playlist::resolve(&media_url, &segment.uri) else {
                conns.judged(Some(ErrorKind::BodyMismatch));
                break;
            };
            next_msn = segment.msn + 1;
            let Ok(response) = conns
                .request(http::Method::GET, &seg_url, None, false)
                .await
            else {
                continue;
            };
            if !(200..300).contains(&response.status) {
                conns.judged(Some(ErrorKind::from_status(response.status)));
                continue;
            }
            conns.judged(None);
            fetched = true;
            conns
                .rec
                .duration(conns.region, conns.phase, Metric::SegmentMs, response.total);
            if !first_frame {
                first_frame = true;
                conns.rec.duration(
                    conns.region,
                    conns.phase,
                    Metric::FirstFrameMs,
                    intended.elapsed(),
                );
            }
        }
        if media.end_list {
            return true;
        }
        // RFC 8216 §6.3.4: reload after one target duration, half of it when unchanged.
        let wait = if fetched {
            media.target_duration
        } else {
            media.target_duration / 2
        };
        let reload_at = (Instant::now() + wait.max(MIN_RELOAD)).min(leave_at);
        if !sleep_or_end(reload_at, ending).await || Instant::now() >= leave_at {
            return true;
        }
        match fetch_playlist(conns, &media_url).await {
            Some(Playlist::Media(m)) => media = m,
            Some(Playlist::Multivariant(_)) => {
                conns.judged(Some(ErrorKind::BodyMismatch));
                return true;
            }
            None => {
                // Keep the old playlist: a player retries on the next reload.
                continue;
            }
        }
    }
}

async fn open_stream(
    conns: &mut Connections,
    url: &Url,
    rendition: Rendition,
) -> Option<(Url, MediaPlaylist)> {
    match fetch_playlist(conns, url).await? {
        Playlist::Media(media) => Some((url.clone(), media)),
        Playlist::Multivariant(multi) => {
            let mut variants: Vec<_> = multi.variants.iter().collect();
            variants.sort_by_key(|v| v.bandwidth);
            let chosen = match rendition {
                Rendition::Highest => variants.last(),
                Rendition::Random => variants.get(conns.rng_index(variants.len())),
                // Without a bandwidth estimate yet, by-bandwidth starts where players start: low.
                Rendition::Lowest | Rendition::ByBandwidth => variants.first(),
            }?;
            let media_url = playlist::resolve(url, &chosen.uri).ok()?;
            match fetch_playlist(conns, &media_url).await? {
                Playlist::Media(media) => Some((media_url, media)),
                Playlist::Multivariant(_) => {
                    conns.judged(Some(ErrorKind::BodyMismatch));
                    None
                }
            }
        }
    }
}

async fn fetch_playlist(conns: &mut Connections, url: &Url) -> Option<Playlist> {
    let response = conns
        .request(http::Method::GET, url, None, true)
        .await
        .ok()?;
    if !(200..300).contains(&response.status) {
        conns.judged(Some(ErrorKind::from_status(response.status)));
        return None;
    }
    conns.rec.duration(
        conns.region,
        conns.phase,
        Metric::PlaylistMs,
        response.total,
    );
    let text = response
        .body
        .as_ref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    match playlist::parse(&text) {
        Ok(p) => {
            conns.judged(None);
            Some(p)
        }
        Err(_) => {
            conns.judged(Some(ErrorKind::BodyMismatch));
            None
        }
    }
}
