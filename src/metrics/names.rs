//! The vocabulary shared by the recorder, results.json, SLO keys and charts: metric names, with
//! error classes (`errors.rs`) and statistics (`stat.rs`) beside them. These names are a contract (see design.md): extend, never rename.

use serde::{Deserialize, Serialize};

/// A timing or count metric recorded into HdrHistograms (values in microseconds for `*_ms`,
/// raw counts or per-mille for the others, see [`Metric::unit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    DnsMs,
    ConnectMs,
    TlsMs,
    TtfbMs,
    JoinMs,
    FirstFrameMs,
    SegmentMs,
    PlaylistMs,
    StallCount,
    StallRatio,
    ChatConnectMs,
    ChatDeliveryMs,
    PublishConnectMs,
    /// Actual − intended start of a viewer: the generator's own lateness.
    GeneratorLagMs,
    /// Wall clock − `EXT-X-PROGRAM-DATE-TIME` of the frame playing, sampled at each segment
    /// completion while playing (needs the server's and our clocks in sync; loopback is).
    LiveLatencyMs,
    /// Segment duration ÷ download time, one sample per segment (< 1 means the viewer cannot
    /// keep up with real time and will stall).
    DownloadRatio,
    /// LL-HLS: how long a blocking playlist reload was held by the server.
    PartHoldMs,
    /// LL-HLS: time between consecutive new parts becoming available to the viewer.
    PartIntervalMs,
    /// Per chat session: messages from other viewers received ÷ messages they sent while this
    /// viewer was connected (see `engine::chat`).
    ChatDeliveryRatio,
    /// Per viewer with chat: reconnects after the chat socket was closed or failed.
    ChatReconnects,
    /// Per publisher: the ingest bitrate achieved (kbit/s).
    IngestKbps,
    /// One request's whole response time (`quick`): from its intended send instant to the last
    /// body byte.
    RequestMs,
    /// Segment duration ÷ the time the region's *emulated* network alone needs to deliver that
    /// segment (its bytes at `down_kbps`, plus one round trip), one sample per segment, only in
    /// regions with a network profile. Below 1 the emulated link cannot carry the stream in real
    /// time whatever the target does; at or above 1 with a `download_ratio` below 1, the time
    /// went elsewhere (the target), and stalls are not the link's to explain.
    LinkRatio,
    /// Failed requests ÷ attempted requests: computed from counters, never recorded.
    ErrorRate,
    /// Failed viewers ÷ viewers started (see `metrics::outcome`): computed, never recorded.
    ViewerFailureRate,
    /// `video_start_failed` viewers ÷ viewers started: computed, never recorded.
    VideoStartFailureRate,
}

/// How a metric's recorded integer maps to the unit people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Recorded in µs, reported in ms.
    Millis,
    /// Recorded as a plain count.
    Count,
    /// Recorded in parts per million, reported as a fraction.
    Ratio,
}

impl Unit {
    /// The `unit` written in results.json.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Millis => "ms",
            Unit::Count => "count",
            Unit::Ratio => "ratio",
        }
    }

    /// Recorded integers per reported unit (µs per ms, ppm per 1): the reported value is the
    /// recorded one divided by this. Dividing, not multiplying by 1e-3, keeps a figure what it
    /// means: 2389 µs reads 2.389 ms, not 2.3890000000000002.
    pub fn per_unit(self) -> f64 {
        match self {
            Unit::Millis => 1e3,
            Unit::Count => 1.0,
            Unit::Ratio => 1e6,
        }
    }
}

/// What a metric is to the people reading about it: its label, its unit, where it appears and
/// which part of the platform it measures. [`METRICS`] lists them in table order (a viewer's
/// journey), and every output reads it from there.
#[derive(Debug, Clone, Copy)]
pub struct MetricInfo {
    pub metric: Metric,
    /// Wire name (results.json keys, SLO keys, CSV columns).
    pub name: &'static str,
    pub unit: Unit,
    /// For people: charts, tables, the card.
    pub label: &'static str,
    /// May be gated in `slo:`.
    pub gateable: bool,
    /// Shown in the latency tables (report.md, `compare`, `quick`).
    pub latency_table: bool,
    /// The generator's own reading: says nothing about the target (never compared).
    pub about_generator: bool,
    /// What to scale when a gate on it breaks (the checklist).
    pub component: &'static str,
}

const DNS: &str = "DNS (resolver capacity, TTLs)";
const EDGE: &str = "edges and load balancers";
const API: &str = "API tier (token, room, entitlement)";
const ORIGIN: &str = "origin and CDN (packaging, segment delivery)";
const CHAT: &str = "chat fan-out";
const INGEST: &str = "ingest (RTMP servers)";
const CAPACITY: &str = "capacity (connections, instances, quotas)";
const GENERATOR: &str = "the load generator (cores, shards)";

const fn info(
    metric: Metric,
    name: &'static str,
    unit: Unit,
    label: &'static str,
    flags: (bool, bool, bool),
    component: &'static str,
) -> MetricInfo {
    MetricInfo {
        metric,
        name,
        unit,
        label,
        gateable: flags.0,
        latency_table: flags.1,
        about_generator: flags.2,
        component,
    }
}

/// (gateable, latency table, about the generator)
const GATE_TABLE: (bool, bool, bool) = (true, true, false);
const GATE: (bool, bool, bool) = (true, false, false);
const TABLE: (bool, bool, bool) = (false, true, false);
const NONE: (bool, bool, bool) = (false, false, false);

/// Every metric, in table order: the order of a viewer's journey, then chat, ingest, the
/// generator, and the computed rates. The one place a metric's label, unit and use are written.
pub const METRICS: [MetricInfo; Metric::ALL_COUNT] = [
    info(
        Metric::DnsMs,
        "dns_ms",
        Unit::Millis,
        "DNS lookup",
        GATE_TABLE,
        DNS,
    ),
    info(
        Metric::ConnectMs,
        "connect_ms",
        Unit::Millis,
        "TCP connect",
        GATE_TABLE,
        EDGE,
    ),
    info(
        Metric::TlsMs,
        "tls_ms",
        Unit::Millis,
        "TLS handshake",
        GATE_TABLE,
        EDGE,
    ),
    info(
        Metric::TtfbMs,
        "ttfb_ms",
        Unit::Millis,
        "Time to first byte",
        GATE_TABLE,
        API,
    ),
    info(
        Metric::RequestMs,
        "request_ms",
        Unit::Millis,
        "Whole request",
        TABLE,
        CAPACITY,
    ),
    info(
        Metric::JoinMs,
        "join_ms",
        Unit::Millis,
        "Join (all join steps)",
        GATE_TABLE,
        API,
    ),
    info(
        Metric::PlaylistMs,
        "playlist_ms",
        Unit::Millis,
        "Playlist fetch",
        GATE_TABLE,
        ORIGIN,
    ),
    info(
        Metric::FirstFrameMs,
        "first_frame_ms",
        Unit::Millis,
        "First frame",
        GATE_TABLE,
        ORIGIN,
    ),
    info(
        Metric::SegmentMs,
        "segment_ms",
        Unit::Millis,
        "Segment fetch",
        GATE_TABLE,
        ORIGIN,
    ),
    info(
        Metric::PartHoldMs,
        "part_hold_ms",
        Unit::Millis,
        "LL-HLS part hold",
        NONE,
        ORIGIN,
    ),
    info(
        Metric::PartIntervalMs,
        "part_interval_ms",
        Unit::Millis,
        "LL-HLS part interval",
        NONE,
        ORIGIN,
    ),
    info(
        Metric::LiveLatencyMs,
        "live_latency_ms",
        Unit::Millis,
        "Live latency",
        NONE,
        ORIGIN,
    ),
    info(
        Metric::DownloadRatio,
        "download_ratio",
        Unit::Ratio,
        "Download speed ÷ real time",
        NONE,
        ORIGIN,
    ),
    info(
        Metric::LinkRatio,
        "link_ratio",
        Unit::Ratio,
        "Real time ÷ emulated link time",
        NONE,
        ORIGIN,
    ),
    info(
        Metric::StallCount,
        "stall_count",
        Unit::Count,
        "Stalls per viewer",
        GATE,
        ORIGIN,
    ),
    info(
        Metric::StallRatio,
        "stall_ratio",
        Unit::Ratio,
        "Time stalled",
        GATE,
        ORIGIN,
    ),
    info(
        Metric::ChatConnectMs,
        "chat_connect_ms",
        Unit::Millis,
        "Chat connect",
        GATE,
        CHAT,
    ),
    info(
        Metric::ChatDeliveryMs,
        "chat_delivery_ms",
        Unit::Millis,
        "Chat delivery",
        GATE_TABLE,
        CHAT,
    ),
    info(
        Metric::ChatDeliveryRatio,
        "chat_delivery_ratio",
        Unit::Ratio,
        "Chat messages delivered",
        NONE,
        CHAT,
    ),
    info(
        Metric::ChatReconnects,
        "chat_reconnects",
        Unit::Count,
        "Chat reconnects",
        NONE,
        CHAT,
    ),
    info(
        Metric::PublishConnectMs,
        "publish_connect_ms",
        Unit::Millis,
        "Publish connect",
        GATE,
        INGEST,
    ),
    info(
        Metric::IngestKbps,
        "ingest_kbps",
        Unit::Count,
        "Ingest bitrate (kbit/s)",
        NONE,
        INGEST,
    ),
    info(
        Metric::GeneratorLagMs,
        "generator_lag_ms",
        Unit::Millis,
        "Generator start lag",
        (false, true, true),
        GENERATOR,
    ),
    info(
        Metric::ErrorRate,
        "error_rate",
        Unit::Ratio,
        "Request error rate",
        GATE,
        CAPACITY,
    ),
    info(
        Metric::ViewerFailureRate,
        "viewer_failure_rate",
        Unit::Ratio,
        "Viewer failure rate",
        GATE,
        CAPACITY,
    ),
    info(
        Metric::VideoStartFailureRate,
        "video_start_failure_rate",
        Unit::Ratio,
        "Video start failure rate",
        GATE,
        ORIGIN,
    ),
];

impl Metric {
    /// Metrics recorded into histograms, in recorder (index) order.
    pub const RECORDED: [Metric; 23] = [
        Metric::DnsMs,
        Metric::ConnectMs,
        Metric::TlsMs,
        Metric::TtfbMs,
        Metric::JoinMs,
        Metric::FirstFrameMs,
        Metric::SegmentMs,
        Metric::PlaylistMs,
        Metric::StallCount,
        Metric::StallRatio,
        Metric::ChatConnectMs,
        Metric::ChatDeliveryMs,
        Metric::PublishConnectMs,
        Metric::GeneratorLagMs,
        Metric::LiveLatencyMs,
        Metric::DownloadRatio,
        Metric::PartHoldMs,
        Metric::PartIntervalMs,
        Metric::ChatDeliveryRatio,
        Metric::ChatReconnects,
        Metric::IngestKbps,
        Metric::RequestMs,
        Metric::LinkRatio,
    ];
    /// Histograms per cell: the recorded metrics.
    pub const COUNT: usize = Self::RECORDED.len();
    /// Recorded plus computed (`error_rate`, `viewer_failure_rate`, `video_start_failure_rate`).
    pub const ALL_COUNT: usize = Self::COUNT + 3;

    pub fn info(self) -> &'static MetricInfo {
        // METRICS holds every variant (checked by a test), so the search always finds one.
        METRICS
            .iter()
            .find(|i| i.metric == self)
            .unwrap_or(&METRICS[METRICS.len() - 1])
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn label(self) -> &'static str {
        self.info().label
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        METRICS.iter().find(|i| i.name == name).map(|i| i.metric)
    }

    /// Index into a cell's histograms; only meaningful for [`Metric::RECORDED`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn unit(self) -> Unit {
        self.info().unit
    }

    /// Measured by publishers, which belong to no viewer region: reported overall only.
    pub fn is_publisher(self) -> bool {
        matches!(self, Metric::PublishConnectMs | Metric::IngestKbps)
    }

    /// Computed from counters, never recorded into a histogram.
    pub fn is_computed(self) -> bool {
        self.index() >= Self::COUNT
    }

    /// Place in tables (journey order).
    pub fn order(self) -> usize {
        METRICS
            .iter()
            .position(|i| i.metric == self)
            .unwrap_or(usize::MAX)
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

pub use super::errors::ErrorKind;
pub use super::stat::Stat;

/// On the wire (results.json keys, SLO keys) a metric or error class is its [`name`]: one
/// spelling, so serde's case conversion can never drift from the CSV columns and docs.
///
/// [`name`]: Metric::name
macro_rules! serde_by_name {
    ($ty:ty, $what:literal, $all:expr) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        /// In the published schema (`docs/results.schema.json`): one of the names.
        #[cfg(test)]
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let names: Vec<&str> = $all.iter().map(|x| x.name()).collect();
                schemars::json_schema!({ "type": "string", "enum": names })
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
                <$ty>::from_name(&name).ok_or_else(|| {
                    let known: Vec<&str> = $all.iter().map(|x| x.name()).collect();
                    serde::de::Error::custom(format!(
                        "unknown {} `{name}` (written by another peakready version?); known: {}",
                        $what,
                        known.join(", ")
                    ))
                })
            }
        }
    };
}

serde_by_name!(Metric, "metric", METRICS.map(|i| i.metric));
serde_by_name!(ErrorKind, "error class", ErrorKind::ALL);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fall_in_their_own_family() {
        assert_eq!(ErrorKind::from_status(302), ErrorKind::Http3xx);
        assert_eq!(ErrorKind::from_status(204), ErrorKind::UnexpectedStatus);
        assert_eq!(ErrorKind::from_status(404), ErrorKind::Http4xx);
        assert_eq!(ErrorKind::from_status(503), ErrorKind::Http5xx);
    }

    #[test]
    fn indexes_match_all_order() {
        for (i, m) in Metric::RECORDED.iter().enumerate() {
            assert_eq!(m.index(), i);
            assert!(!m.is_computed());
        }
        for info in METRICS {
            assert_eq!(Metric::from_name(info.name), Some(info.metric));
            assert_eq!(info.metric.info().name, info.name, "{info:?} listed once");
            let wire = serde_json::to_string(&info.metric).expect("serializes");
            assert_eq!(wire, format!("\"{}\"", info.name));
        }
        assert!(Metric::ErrorRate.is_computed());
        for s in Stat::ALL {
            assert_eq!(Stat::from_name(s.name()), Some(s));
            let wire = serde_json::to_string(&s).expect("serializes");
            assert_eq!(wire, format!("\"{}\"", s.name()));
        }
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
            assert_eq!(ErrorKind::from_name(k.name()), Some(*k));
            let wire = serde_json::to_string(k).expect("serializes");
            assert_eq!(wire, format!("\"{}\"", k.name()));
            let back: ErrorKind = serde_json::from_str(&wire).expect("parses");
            assert_eq!(back, *k);
        }
        for (i, info) in METRICS.iter().enumerate() {
            assert_eq!(info.metric.order(), i, "{} listed once", info.name);
        }
    }
}
