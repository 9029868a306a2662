//! Opening a stream (multivariant → chosen rendition → media playlist) and fetching playlists,
//! each failure recorded before it is returned.

use url::Url;

use super::{Fatal, Stream};
use crate::engine::connections::Connections;
use crate::metrics::{ErrorKind, Metric};
use crate::protocol::playlist::{self, Playlist};
use crate::scenario::Rendition;

pub(super) async fn open_stream(
    conns: &mut Connections,
    url: &Url,
    rendition: Rendition,
) -> Result<Stream, Fatal> {
    let fetched = fetch_playlist(conns, url).await;
    // What a playlist lists resolves against where it was finally served from.
    let url = &conns.redirected_to.take().unwrap_or_else(|| url.clone());
    let multi = match fetched {
        Ok(Playlist::Media(media)) => {
            return Ok(Stream {
                url: url.clone(),
                media,
                pending_choice: None,
            })
        }
        Ok(Playlist::Multivariant(multi)) => multi,
        Err(()) => return Err(Fatal::Failed),
    };
    let mut variants = multi.variants;
    variants.sort_by_key(|v| v.bandwidth);
    let index = match rendition {
        Rendition::Highest => variants.len().checked_sub(1),
        Rendition::Random => (!variants.is_empty()).then(|| conns.rng_index(variants.len())),
        // by-bandwidth starts where players start, low, and measures the first segment.
        Rendition::Lowest | Rendition::ByBandwidth => (!variants.is_empty()).then_some(0),
    };
    let Some(chosen) = index.and_then(|i| variants.get(i)) else {
        conns.judged(Some(ErrorKind::NotHls));
        return Err(Fatal::Failed);
    };
    let Ok(media_url) = playlist::resolve(url, &chosen.uri) else {
        conns.judged(Some(ErrorKind::NotHls));
        return Err(Fatal::Failed);
    };
    let fetched = fetch_playlist(conns, &media_url).await;
    let media_url = conns.redirected_to.take().unwrap_or(media_url);
    match fetched {
        Ok(Playlist::Media(media)) => {
            let pending_choice = (rendition == Rendition::ByBandwidth && variants.len() > 1)
                .then(|| (url.clone(), variants));
            Ok(Stream {
                url: media_url,
                media,
                pending_choice,
            })
        }
        Ok(Playlist::Multivariant(_)) => {
            conns.judged(Some(ErrorKind::NotHls));
            Err(Fatal::Failed)
        }
        Err(()) => Err(Fatal::Failed),
    }
}

/// Largest playlist parsed (bytes); a larger one is `playlist_too_large`, with its size.
pub const MAX_PLAYLIST_BYTES: usize = 1 << 20;

/// Segments of a live media playlist a viewer keeps (the live edge and some way back).
pub const PLAYLIST_WINDOW: usize = 32;

/// Fetches and parses a playlist; every failure is recorded before returning `Err`.
pub async fn fetch_playlist(conns: &mut Connections, url: &Url) -> Result<Playlist, ()> {
    fetch_playlist_as(conns, url, Metric::PlaylistMs).await
}

/// [`fetch_playlist`], timing the response as `metric` (`part_hold_ms` for blocking reloads,
/// whose response time is mostly the server's hold, not playlist delivery).
pub(super) async fn fetch_playlist_as(
    conns: &mut Connections,
    url: &Url,
    metric: Metric,
) -> Result<Playlist, ()> {
    let response = conns
        .request(http::Method::GET, url, None, true)
        .await
        .map_err(|_| ())?;
    if !(200..300).contains(&response.status) {
        conns.judged(Some(ErrorKind::from_status(response.status)));
        return Err(());
    }
    conns
        .rec
        .duration(conns.region, conns.phase, metric, response.total);
    let size = response.body.as_ref().map_or(0, |b| b.len());
    if size > MAX_PLAYLIST_BYTES {
        let detail = format!(
            "{url}: a playlist of {size} bytes, over the {} KiB cap (a live playlist that large \
             is itself a problem: every viewer downloads it every target duration)",
            MAX_PLAYLIST_BYTES >> 10
        );
        crate::metrics::details::note(ErrorKind::PlaylistTooLarge, &detail);
        conns.judged(Some(ErrorKind::PlaylistTooLarge));
        return Err(());
    }
    let text = response
        .body
        .as_ref()
        .map(|b| String::from_utf8_lossy(b))
        .unwrap_or_default();
    match playlist::parse(&text) {
        Ok(mut p) => {
            if let Playlist::Media(media) = &mut p {
                if !media.end_list {
                    media.keep_last(PLAYLIST_WINDOW);
                }
            }
            conns.judged(None);
            Ok(p)
        }
        Err(_) => {
            conns.judged(Some(ErrorKind::NotHls));
            Err(())
        }
    }
}
