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
    pub const ALL: [Metric; 15] = [
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
            Metric::StallCount => Unit::Count,
            Metric::StallRatio => Unit::Ratio,
            _ => Unit::Millis,
        }
    }
}

/// Why a request, connection or viewer step failed. Counted by variant, never by message.
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
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::Dns,
        ErrorKind::Refused,
        ErrorKind::Timeout,
        ErrorKind::Reset,
        ErrorKind::Tls,
        ErrorKind::Http4xx,
        ErrorKind::Http5xx,
        ErrorKind::BodyMismatch,
        ErrorKind::Other,
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
        }
    }

    pub fn index(self) -> usize {
        self as usize
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
        }
    }
}
