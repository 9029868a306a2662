//! [`RequestError`] and the mapping from I/O and TLS failures to [`ErrorKind`]. Errors
//! are counted by kind, so the mapping is the part that matters; `detail` is for humans and
//! never carries header values.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use crate::metrics::ErrorKind;

/// Why opening a connection or exchanging a request failed. An HTTP status is never an error at
/// this layer: callers compare it with `expect_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// The class counted in results (`refused`, `timeout`, `reset`, …).
    pub kind: ErrorKind,
    /// A short human explanation (phase + cause). Never contains header values.
    pub detail: String,
}

impl RequestError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> RequestError {
        RequestError {
            kind,
            detail: detail.into(),
        }
    }

    pub(crate) fn timed_out(phase: &str) -> RequestError {
        RequestError::new(ErrorKind::Timeout, format!("{phase}: timed out"))
    }

    pub(crate) fn from_io(err: &io::Error, phase: &str) -> RequestError {
        RequestError::new(io_kind(err), format!("{phase}: {err}"))
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.detail, self.kind.name())
    }
}

impl StdError for RequestError {}

/// Classifies an I/O error. TLS failures arrive from tokio-rustls as `InvalidData` wrapping a
/// `rustls::Error`, so that is checked before the kind.
pub(crate) fn io_kind(err: &io::Error) -> ErrorKind {
    if err
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>())
    {
        return ErrorKind::Tls;
    }
    match err.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => ErrorKind::Reset,
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds_map_to_error_classes() {
        let cases = [
            (io::ErrorKind::ConnectionRefused, ErrorKind::Refused),
            (io::ErrorKind::ConnectionReset, ErrorKind::Reset),
            (io::ErrorKind::BrokenPipe, ErrorKind::Reset),
            (io::ErrorKind::UnexpectedEof, ErrorKind::Reset),
            (io::ErrorKind::TimedOut, ErrorKind::Timeout),
            (io::ErrorKind::PermissionDenied, ErrorKind::Other),
        ];
        for (io_kind_in, want) in cases {
            assert_eq!(
                io_kind(&io::Error::from(io_kind_in)),
                want,
                "{io_kind_in:?}"
            );
        }
        let tls = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::General("bad".into()),
        );
        assert_eq!(io_kind(&tls), ErrorKind::Tls);
    }
}
