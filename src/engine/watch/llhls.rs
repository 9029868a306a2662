//! The LL-HLS half of the player: part-by-part playback with blocking playlist reload
//! (`_HLS_msn`/`_HLS_part`), recording `part_hold_ms` and `part_interval_ms`. Classic HLS lives
//! in the parent module; this is the same `Player`, split along the protocol seam.

use super::*;

impl Player {
    /// LL-HLS: fetch what is listed from the cursor on, then block-reload for the next part.
    pub(super) async fn run_ll(
        &mut self,
        conns: &mut Connections,
        intended: Instant,
        leave_at: Instant,
        ending: &mut watch::Receiver<bool>,
    ) -> Result<(), Fatal> {
        loop {
            if !self
                .download_parts(conns, intended, leave_at, ending)
                .await?
            {
                return Ok(());
            }
            let media = &self.stream.media;
            let Some(cursor) = self.ll.filter(|_| !media.end_list) else {
                let play_out = Instant::now() + self.buffer.level();
                sleep_or_end(play_out.min(leave_at), ending).await;
                return Ok(());
            };
            let part = media.part_target.unwrap_or(media.target_duration / 4);
            if !self.fetch_preload_hint(conns, intended, part).await? {
                return Ok(());
            }
            let cursor = self.ll.unwrap_or(cursor);
            let mut url = self.stream.url.clone();
            url.query_pairs_mut()
                .append_pair("_HLS_msn", &cursor.msn.to_string())
                .append_pair("_HLS_part", &cursor.part.to_string());
            self.reload_from(conns, &url, Metric::PartHoldMs).await?;
            let now = Instant::now();
            let mut probe = cursor;
            if probe.next(&self.stream.media) == NextMedia::Wait {
                // The server answered without the part (it ignores blocking, or failed):
                // pace the next attempt instead of spinning.
                let at = (now + (part / 2).max(MIN_RELOAD)).min(leave_at);
                if !sleep_or_end(at, ending).await {
                    return Ok(());
                }
            } else {
                if let Some(prev) = self.last_part_at {
                    let (r, p) = (conns.region, conns.phase);
                    conns.rec.duration(r, p, Metric::PartIntervalMs, now - prev);
                }
                self.last_part_at = Some(now);
            }
            if Instant::now() >= leave_at || *ending.borrow() {
                return Ok(());
            }
        }
    }

    /// LL-HLS: fetches every listed part (or whole segment, when behind) from the cursor on.
    pub(super) async fn download_parts(
        &mut self,
        conns: &mut Connections,
        intended: Instant,
        leave_at: Instant,
        ending: &watch::Receiver<bool>,
    ) -> Result<bool, Fatal> {
        loop {
            if Instant::now() >= leave_at || *ending.borrow() {
                return Ok(false);
            }
            let Some(mut cursor) = self.ll else {
                return Ok(true);
            };
            let media = &self.stream.media;
            let (uri, duration, pdt, msn, part, at_edge) = match cursor.next(media) {
                NextMedia::Wait => {
                    self.ll = Some(cursor);
                    return Ok(true);
                }
                NextMedia::Rejoin => {
                    // Fell out of the window (long stall): rejoin where a new viewer would.
                    match ll_start(media) {
                        Some(start) if start != cursor => self.ll = Some(start),
                        _ => return Ok(true),
                    }
                    continue;
                }
                NextMedia::Part(i) if self.fetched_hint.as_deref() == Some(&media.parts[i].uri) => {
                    // Already fetched through its preload hint: now listed, move past it.
                    let p = &media.parts[i];
                    cursor.advance(p.msn, Some(p.part_index));
                    self.ll = Some(cursor);
                    continue;
                }
                NextMedia::Part(i) => {
                    let p = &media.parts[i];
                    let pdt = part_program_date_time(media, i);
                    let edge = i + 1 == media.parts.len();
                    (
                        p.uri.clone(),
                        p.duration,
                        pdt,
                        p.msn,
                        Some(p.part_index),
                        edge,
                    )
                }
                NextMedia::Segment(i) => {
                    let s = &media.segments[i];
                    (
                        s.uri.clone(),
                        s.duration,
                        s.program_date_time,
                        s.msn,
                        None,
                        false,
                    )
                }
            };
            match self.get_media(conns, &uri, at_edge).await? {
                Got::Retry => {
                    self.ll = Some(cursor);
                    return Ok(true);
                }
                Got::Skip => cursor.advance(msn, part),
                Got::Media(response) => {
                    cursor.advance(msn, part);
                    self.played(conns, &response, duration, pdt, intended, false)
                        .await;
                }
            }
            self.ll = Some(cursor);
        }
    }

    /// LL-HLS: request the `EXT-X-PRELOAD-HINT` part right away, as players do: the server
    /// holds the request until the part exists, so it arrives the moment it is produced.
    /// False when the viewer must stop.
    async fn fetch_preload_hint(
        &mut self,
        conns: &mut Connections,
        intended: Instant,
        part: Duration,
    ) -> Result<bool, Fatal> {
        let media = &self.stream.media;
        let Some(uri) = media.preload_hint.clone() else {
            return Ok(true);
        };
        if self.fetched_hint.as_deref() == Some(uri.as_str()) {
            return Ok(true);
        }
        // The hinted part follows the last listed one; its date-time follows from it.
        let pdt = media.parts.len().checked_sub(1).and_then(|last| {
            let start = part_program_date_time(media, last)?;
            Some(start + TimeDelta::from_std(media.parts[last].duration).ok()?)
        });
        match self.get_media(conns, &uri, true).await? {
            Got::Media(response) => {
                self.fetched_hint = Some(uri);
                self.played(conns, &response, part, pdt, intended, true)
                    .await;
            }
            Got::Retry | Got::Skip => {}
        }
        Ok(true)
    }
}
