//! One simulated viewer's journey: join steps over a keep-alive connection, then watching,
//! then leaving. Every latency clock starts at the viewer's *intended* arrival instant.

use std::sync::Arc;

use tokio::time::Instant;

use crate::metrics::{Event, Metric, RecorderHandle, ViewerOutcome};
use crate::plan::Arrival;
use crate::scenario::WatchProtocol;

use super::chat::{run_chat, ChatViewer};
use super::connections::{sleep_or_end, Connections};
use super::join::join;
use super::spec::ViewerSpec;
use super::watch::watch_hls;

/// Run one viewer to the end of its watch time or until `ending` fires.
pub async fn run_viewer(
    spec: Arc<ViewerSpec>,
    arrival: Arrival,
    intended: Instant,
    rec: RecorderHandle,
    ending: tokio::sync::watch::Receiver<bool>,
) {
    let (region, phase) = (arrival.region, arrival.phase);
    let lag = Instant::now().saturating_duration_since(intended);
    rec.duration(region, phase, Metric::GeneratorLagMs, lag);
    rec.send(Event::Arrival { region, phase });
    // Late by generator standards, not merely by a timer tick: a 1 ms visit is still the
    // viewer's own to miss.
    let started_after_leave = lag >= arrival.watch_for && lag > super::LATE_START;
    let mut conns = Connections::new(
        spec.clone(),
        rec.clone(),
        (region, phase),
        arrival.viewer_id,
        started_after_leave,
    );

    let joined = Box::pin(join(&spec, &mut conns, arrival.viewer_id)).await;
    let (watch_url, chat_url) = match &joined {
        Ok(j) => (j.watch_url.clone(), j.chat_url.clone()),
        Err(()) => (None, None),
    };
    rec.send(Event::Joined {
        region,
        phase,
        ok: joined.is_ok(),
    });
    if joined.is_err() {
        conns.trace.settle(ViewerOutcome::JoinFailed);
        return;
    }
    conns.trace.watching();
    // With no join steps there is nothing to time: the figure would be the generator's own lag.
    if !spec.join.is_empty() {
        rec.duration(region, phase, Metric::JoinMs, intended.elapsed());
    }
    let leave_at = intended + arrival.watch_for;
    // Watching and chatting run side by side, as in an app, until the same leave instant.
    let spread = conns.rng_index(1000) as f64 / 1000.0;
    // Chat takes the same network path and source address as the viewer's HTTP connections.
    let (chat_client, chat_source) = (conns.client(), conns.source_addr());
    let chat = async {
        if let Some(chat) = &spec.chat {
            let offset = chat.interval.mul_f64(spread);
            let who = ChatViewer {
                rec: rec.clone(),
                client: chat_client,
                source_addr: chat_source,
                region,
                phase,
                viewer_id: arrival.viewer_id,
                offset,
                url: chat_url,
            };
            Box::pin(run_chat(chat, who, leave_at, ending.clone())).await;
        }
    };
    let mut watch_ending = ending.clone();
    let watch = async {
        match spec.watch_protocol {
            WatchProtocol::Hls => {
                let url = watch_url
                    .as_ref()
                    .unwrap_or(&spec.watch_url[region as usize]);
                watch_hls(
                    &mut conns,
                    url,
                    spec.rendition,
                    intended,
                    leave_at,
                    &mut watch_ending,
                )
                .await;
            }
            WatchProtocol::None => {
                sleep_or_end(leave_at, &mut watch_ending).await;
                conns.trace.settle(ViewerOutcome::Joined);
            }
        }
    };
    tokio::join!(watch, chat);
    // The outcome is sent when `conns` (and its trace) is dropped, here or on cancellation.
}
