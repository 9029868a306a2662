//! RTMP publishers started with the run (`publishers:`): each opens a publish session, then
//! streams synthetic FLV media in real time at `bitrate_kbps` (25 fps video with a 1 s GOP,
//! AAC audio at 44.1 kHz) until its `duration` or the end of the run.
//!
//! Recorded under the first region and phase (publishers belong to no viewer region):
//! `publish_connect_ms` (TCP connect → `NetStream.Publish.Start`), `ingest_kbps` per session
//! (bytes written × 8 ÷ session time), errors `publish_rejected` (setup refused, or the
//! session dropped within [`REFUSAL_WINDOW`] of starting), `publish_disconnect` (dropped later,
//! before its end; the publisher reconnects after 1 s, as encoders do).
//!
//! Stream keys: the URL's path after the application (`rtmp://host/live/KEY`), or `peakready`;
//! with `streams > 1` each publisher appends `-<index>` (`KEY-0`, `KEY-1`, …).

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::metrics::{ErrorKind, Metric, RecorderHandle};
use crate::protocol::rtmp::{self, Publisher, Target};
use crate::scenario::Publishers;

const FPS: u32 = 25;
/// Keyframe interval: one second, so segmenters that cut on keyframes can cut every second.
const GOP: u32 = FPS;
const AAC_FRAME: Duration = Duration::from_nanos(1024 * 1_000_000_000 / 44_100);
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// A session the server drops within this time of `Publish.Start` was refused, not lost.
const REFUSAL_WINDOW: Duration = Duration::from_secs(1);

/// The publishers' tasks; [`Running::stop`] ends them and waits (bounded).
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Running {
    pub async fn stop(mut self, within: Duration) {
        let _ = self.stop.send(true);
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(within, all).await.is_err() {
            self.tasks.shutdown().await;
        }
    }
}

/// Starts `config.streams` publishers now. `limit` bounds each setup step.
pub fn start(config: &Publishers, rec: RecorderHandle, limit: Duration) -> Result<Running, String> {
    let url = url::Url::parse(&config.url).map_err(|e| format!("publishers.url: {e}"))?;
    let base = Target::parse(&url, "peakready")?;
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    for i in 0..config.streams {
        // A dying publisher's encoder stops at `after`: the connection drops, no reconnect.
        let until = match &config.dying {
            Some(d) if i < d.streams => started + d.after,
            _ => started + config.duration,
        };
        let mut target = base.clone();
        if config.streams > 1 {
            target.key = format!("{}-{i}", base.key);
        }
        let (rec, stop) = (rec.clone(), stop_rx.clone());
        let kbps = config.bitrate_kbps;
        tasks.spawn(async move { run_one(target, kbps, until, limit, rec, stop).await });
    }
    Ok(Running { stop, tasks })
}

async fn run_one(
    target: Target,
    kbps: u32,
    until: Instant,
    limit: Duration,
    rec: RecorderHandle,
    mut stop: watch::Receiver<bool>,
) {
    while Instant::now() < until && !*stop.borrow() {
        let begun = Instant::now();
        match rtmp::publish(&target, limit).await {
            Ok(mut p) => {
                rec.duration(0, 0, Metric::PublishConnectMs, begun.elapsed());
                rec.request(0, 0, None);
                let streaming = Instant::now();
                let before = p.bytes_sent;
                let ended = stream(&mut p, kbps, until, &mut stop).await;
                let secs = streaming.elapsed().as_secs_f64();
                if secs > 0.5 {
                    rec.sample(
                        0,
                        0,
                        Metric::IngestKbps,
                        ((p.bytes_sent - before) as f64 * 8.0 / 1000.0 / secs).round() as u64,
                    );
                }
                if ended.is_err() {
                    // nginx-rtmp answers `Publish.Start` and only then applies `deny publish` /
                    // `on_publish`, closing at once: a drop that quick is a refusal.
                    let kind = if secs < REFUSAL_WINDOW.as_secs_f64() {
                        ErrorKind::PublishRejected
                    } else {
                        ErrorKind::PublishDisconnect
                    };
                    rec.request(0, 0, Some(kind));
                }
            }
            Err(e) => rec.request(0, 0, Some(e.kind)),
        }
        let retry = (Instant::now() + RECONNECT_DELAY).min(until);
        tokio::select! {
            _ = tokio::time::sleep_until(retry) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Streams in real time until `until` or stop. `Err` when the server dropped the session.
async fn stream(
    p: &mut Publisher,
    kbps: u32,
    until: Instant,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), ()> {
    p.send_headers(kbps, FPS).await.map_err(|_| ())?;
    let frame_bytes = (u64::from(kbps) * 1000 / 8 / u64::from(FPS)).max(16) as usize;
    let frame = Duration::from_secs(1) / FPS;
    let start = Instant::now();
    let (mut n, mut audio_ts) = (0u32, Duration::ZERO);
    let mut sink = [0u8; 512];
    loop {
        let video_ts = frame * n;
        let at = start + video_ts;
        if at >= until {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep_until(at) => {}
            _ = stopped(stop) => return Ok(()),
            // The server only sends acks and status here; EOF or an error means it hung up.
            read = p.reader.read(&mut sink) => match read {
                Ok(0) | Err(_) => return Err(()),
                Ok(_) => continue,
            },
        }
        let ms = |d: Duration| d.as_millis().min(u128::from(u32::MAX)) as u32;
        p.send_video(ms(video_ts), frame_bytes, n % GOP == 0)
            .await
            .map_err(|_| ())?;
        while audio_ts <= video_ts {
            p.send_audio(ms(audio_ts)).await.map_err(|_| ())?;
            audio_ts += AAC_FRAME;
        }
        n += 1;
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
