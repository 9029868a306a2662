//! A sharded run's meeting point: `peakready collect` (the server side, `server.rs`) and what
//! `run --collector URL` does in each shard (`client.rs`).
//!
//! The protocol is JSON over HTTP/1.1 (`proto.rs`). A shard registers and polls until the
//! collector releases every shard at one wall-clock instant (the start barrier); from then on it
//! sends, once a second, the bytes its recorder appended to `timeseries.csv` and
//! `histograms.hlog` (HdrHistogram V2 interval entries and the per-second counters), and at the
//! end its `results.json`. The collector appends those bytes to a copy of each shard's files, so
//! at the end it holds the shard directories exactly as the shards wrote them and merges them
//! with the same code as `peakready merge`. While the run goes, it keeps a merged view of the
//! closed seconds (`live.rs`) for one progress line, the SLO gates so far and `abort_when` on
//! the whole fleet's numbers, and answers a shard's next message with "stop" when the fleet
//! must stop.

pub mod client;
pub mod live;
pub mod proto;
pub mod server;

use chrono::{DateTime, Utc};
use url::Url;

/// How `run` decides its time zero.
#[derive(Debug, Clone)]
pub enum StartGate {
    /// At once (a single run).
    Now,
    /// `--start-at`: at this wall-clock instant, shared by processes started apart.
    At(DateTime<Utc>),
    /// `--collector URL`: when the collector's start barrier releases.
    Collector(Url),
}

impl StartGate {
    pub fn of(collector: Option<Url>, at: Option<DateTime<Utc>>) -> StartGate {
        match (collector, at) {
            (Some(url), _) => StartGate::Collector(url),
            (None, Some(at)) => StartGate::At(at),
            (None, None) => StartGate::Now,
        }
    }
}
