//! Error classes: why a request, connection or viewer step failed. Their names are a contract
//! (see design.md) like the metric names beside them in `names.rs`: extend, never rename.

/// Why a request, connection or viewer step failed. Counted by variant, never by message.
///
/// Player and session events that are not a single request (a stale playlist, a duplicate chat
/// message, a dropped publish) are counted in `errors` by class too, but they are not requests:
/// [`ErrorKind::is_outcome`] keeps them out of `error_rate`, which stays "failed requests ÷
/// attempted requests". How a *viewer* ended is not an error class at all: see
/// [`super::outcome::ViewerOutcome`], counted once per viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// Refused before sending: the URL's host is not in `target.allow_hosts`.
    HostNotAllowed,
    /// Refused before sending: the URL cannot be used (no host, a scheme other than http(s),
    /// a path that does not resolve against `base_url`).
    UnusableUrl,
    /// The answer was not HTTP (garbage, another protocol, a malformed head); the first bytes
    /// are kept, escaped, as the class's detail.
    Protocol,
    /// A 3xx that was not followed (`Location` missing or unusable).
    Http3xx,
    /// A status other than `expect_status` that is neither 3xx, 4xx nor 5xx (e.g. 204 where
    /// 200 was expected).
    UnexpectedStatus,
    /// Redirects that went on too long (a loop), or to a host outside `target.allow_hosts`.
    Redirect,
    /// A response body beyond the cap for what it is (kept bodies 4 MiB, counted ones 1 GiB),
    /// or a `Content-Length` announcing one: the connection is dropped, not read forever.
    BodyTooLarge,
    /// A playlist beyond the playlist cap (1 MiB): refused with its size rather than parsed.
    PlaylistTooLarge,
    /// A join step's `extract:` found nothing (or an empty value, or one that makes no URL or
    /// header): the viewer does not go on. Which step is named in the run's notices.
    ExtractFailed,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 30] = [
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
        ErrorKind::WsUpgrade,
        ErrorKind::WsClose1008,
        ErrorKind::WsClose1011,
        ErrorKind::WsClose1013,
        ErrorKind::WsClosed,
        ErrorKind::ChatDuplicate,
        ErrorKind::PublishRejected,
        ErrorKind::PublishDisconnect,
        ErrorKind::Cut,
        ErrorKind::HostNotAllowed,
        ErrorKind::UnusableUrl,
        ErrorKind::Protocol,
        ErrorKind::Http3xx,
        ErrorKind::UnexpectedStatus,
        ErrorKind::Redirect,
        ErrorKind::BodyTooLarge,
        ErrorKind::PlaylistTooLarge,
        ErrorKind::ExtractFailed,
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
            ErrorKind::WsUpgrade => "ws_upgrade",
            ErrorKind::WsClose1008 => "ws_close_1008",
            ErrorKind::WsClose1011 => "ws_close_1011",
            ErrorKind::WsClose1013 => "ws_close_1013",
            ErrorKind::WsClosed => "ws_closed",
            ErrorKind::ChatDuplicate => "chat_duplicate",
            ErrorKind::PublishRejected => "publish_rejected",
            ErrorKind::PublishDisconnect => "publish_disconnect",
            ErrorKind::Cut => "cut",
            ErrorKind::HostNotAllowed => "host_not_allowed",
            ErrorKind::UnusableUrl => "unusable_url",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Http3xx => "http_3xx",
            ErrorKind::UnexpectedStatus => "unexpected_status",
            ErrorKind::Redirect => "redirect",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::PlaylistTooLarge => "playlist_too_large",

            ErrorKind::ExtractFailed => "extract_failed",
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
            ErrorKind::StalePlaylist
                | ErrorKind::ChatDuplicate
                | ErrorKind::PublishDisconnect
                | ErrorKind::Cut
        )
    }

    /// Counted as failed requests (in `error_rate`), as opposed to viewer outcomes.
    pub fn is_request(self) -> bool {
        !self.is_outcome()
    }

    /// The class for an unexpected HTTP status: a 302 is not a 4xx, a 204 is not an error
    /// class of its own family.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            500.. => ErrorKind::Http5xx,
            400..=499 => ErrorKind::Http4xx,
            300..=399 => ErrorKind::Http3xx,
            _ => ErrorKind::UnexpectedStatus,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
