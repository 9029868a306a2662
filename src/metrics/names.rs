//! The vocabulary shared by the recorder, results.json, SLO keys and charts: metric names and
//! error classes. These names are a contract (see design.md): extend, never rename.

use serde::{Deserialize, Serialize};

/// A timing or count metric recorded into HdrHistograms (values in microseconds for `*_ms`,
/// raw counts or per-mille for the others, see [`Metric::unit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

impl Metric {
    pub const ALL: [Metric; 22] = [
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
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn name(self) -> &'static str {
        match self {
            Metric::DnsMs => "dns_ms",
            Metric::ConnectMs => "connect_ms",
            Metric::TlsMs => "tls_ms",
            Metric::TtfbMs => "ttfb_ms",
            Metric::JoinMs => "join_ms",
            Metric::FirstFrameMs => "first_frame_ms",
            Metric::SegmentMs => "segment_ms",
            Metric::PlaylistMs => "playlist_ms",
            Metric::StallCount => "stall_count",
            Metric::StallRatio => "stall_ratio",
            Metric::ChatConnectMs => "chat_connect_ms",
            Metric::ChatDeliveryMs => "chat_delivery_ms",
            Metric::PublishConnectMs => "publish_connect_ms",
            Metric::GeneratorLagMs => "generator_lag_ms",
            Metric::LiveLatencyMs => "live_latency_ms",
            Metric::DownloadRatio => "download_ratio",
            Metric::PartHoldMs => "part_hold_ms",
            Metric::PartIntervalMs => "part_interval_ms",
            Metric::ChatDeliveryRatio => "chat_delivery_ratio",
            Metric::ChatReconnects => "chat_reconnects",
            Metric::IngestKbps => "ingest_kbps",
            Metric::RequestMs => "request_ms",
        }
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::StallCount | Metric::ChatReconnects | Metric::IngestKbps => Unit::Count,
            Metric::StallRatio | Metric::DownloadRatio | Metric::ChatDeliveryRatio => Unit::Ratio,
            _ => Unit::Millis,
        }
    }
}

/// Why a request, connection or viewer step failed. Counted by variant, never by message.
///
/// Player and session outcomes that are not a single request (a stale playlist, a video start
/// failure, an exit before video start, a duplicate chat message, a dropped publish) are counted
/// in `errors` by class too, but they are not requests: [`ErrorKind::is_outcome`] keeps them out
/// of `error_rate`, which stays "failed requests ÷ attempted requests" (a live-edge 404 is
/// already counted as the `http_4xx` of its request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Name resolution failed.
    Dns,
    /// TCP connection refused (nothing listening, or a full backlog).
    Refused,
    /// No answer within `target.timeout`.
    Timeout,
    /// The peer reset or closed the connection mid-exchange.
    Reset,
    /// TLS handshake or certificate failure.
    Tls,
    /// The server answered 4xx (or a status other than `expect_status`).
    Http4xx,
    /// The server answered 5xx (503 past capacity lands here).
    Http5xx,
    /// The response did not contain what `expect_body` asked for, or was not the format expected
    /// (e.g. a playlist that is not HLS).
    BodyMismatch,
    /// Any other I/O or protocol failure.
    Other,
    /// A playlist that is not HLS (no `#EXTM3U`) or does not parse.
    NotHls,
    /// A segment listed at the live edge answered 404 (published in the playlist before the
    /// origin/CDN could serve it).
    LiveEdge404,
    /// The media sequence did not advance for more than 1.5 × target duration (once per
    /// stale episode, per viewer).
    StalePlaylist,
    /// A viewer gave up before its first frame (fatal playlist error or repeated failures).
    VideoStartFailed,
    /// A viewer's watch time ended before its first frame (no failure; counted per viewer).
    ExitBeforeStart,
    /// The chat WebSocket handshake did not end in `101 Switching Protocols`.
    WsUpgrade,
    /// Chat closed by the server with 1008 (policy violation).
    WsClose1008,
    /// Chat closed by the server with 1011 (internal error).
    WsClose1011,
    /// Chat closed by the server with 1013 (try again later).
    WsClose1013,
    /// Chat closed with any other code, or the socket dropped without a close frame.
    WsClosed,
    /// The same chat message received twice by one viewer.
    ChatDuplicate,
    /// The RTMP server refused `connect`, `createStream` or `publish`, or the handshake.
    PublishRejected,
    /// An RTMP publish session dropped before its duration was over.
    PublishDisconnect,
    /// A request still in flight when the run's deadline (plus its drain) passed, cancelled by
    /// the generator: not the target's failure, so not in `error_rate`.
    Cut,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 23] = [
        ErrorKind::Dns,
        ErrorKind::Refused,
        ErrorKind::Timeout,
        ErrorKind::Reset,
        ErrorKind::Tls,
        ErrorKind::Http4xx,
        ErrorKind::Http5xx,
        ErrorKind::BodyMismatch,
        ErrorKind::Other,
        ErrorKind::NotHls,
        ErrorKind::LiveEdge404,
        ErrorKind::StalePlaylist,
        ErrorKind::VideoStartFailed,
        ErrorKind::ExitBeforeStart,
        ErrorKind::WsUpgrade,
        ErrorKind::WsClose1008,
        ErrorKind::WsClose1011,
        ErrorKind::WsClose1013,
        ErrorKind::WsClosed,
        ErrorKind::ChatDuplicate,
        ErrorKind::PublishRejected,
        ErrorKind::PublishDisconnect,
        ErrorKind::Cut,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Dns => "dns",
            ErrorKind::Refused => "refused",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Tls => "tls",
            ErrorKind::Http4xx => "http_4xx",
            ErrorKind::Http5xx => "http_5xx",
            ErrorKind::BodyMismatch => "body_mismatch",
            ErrorKind::Other => "other",
            ErrorKind::NotHls => "not_hls",
            ErrorKind::LiveEdge404 => "live_edge_404",
            ErrorKind::StalePlaylist => "stale_playlist",
            ErrorKind::VideoStartFailed => "video_start_failed",
            ErrorKind::ExitBeforeStart => "exit_before_start",
            ErrorKind::WsUpgrade => "ws_upgrade",
            ErrorKind::WsClose1008 => "ws_close_1008",
            ErrorKind::WsClose1011 => "ws_close_1011",
            ErrorKind::WsClose1013 => "ws_close_1013",
            ErrorKind::WsClosed => "ws_closed",
            ErrorKind::ChatDuplicate => "chat_duplicate",
            ErrorKind::PublishRejected => "publish_rejected",
            ErrorKind::PublishDisconnect => "publish_disconnect",
            ErrorKind::Cut => "cut",
        }
    }

    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// A viewer or session outcome rather than a failed request: counted by class, never in the
    /// request count nor in `error_rate`.
    pub fn is_outcome(self) -> bool {
        matches!(
            self,
            ErrorKind::LiveEdge404
                | ErrorKind::StalePlaylist
                | ErrorKind::VideoStartFailed
                | ErrorKind::ExitBeforeStart
                | ErrorKind::ChatDuplicate
                | ErrorKind::PublishDisconnect
                | ErrorKind::Cut
        )
    }

    /// The class for an unexpected HTTP status.
    pub fn from_status(status: u16) -> ErrorKind {
        if status >= 500 {
            ErrorKind::Http5xx
        } else {
            ErrorKind::Http4xx
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_match_all_order() {
        for (i, m) in Metric::ALL.iter().enumerate() {
            assert_eq!(m.index(), i);
            assert_eq!(Metric::from_name(m.name()), Some(*m));
        }
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
            assert_eq!(ErrorKind::from_name(k.name()), Some(*k));
        }
    }
}
