//! Encoding one HTTP/1.1 request (request line, headers, framing, body) into bytes.

use http::{HeaderName, HeaderValue, Method};

use super::RequestError;
use crate::metrics::ErrorKind;

/// The request line and headers, ready to write. Everything in it was validated when the
/// config was built, except the path, which is checked here.
pub(super) struct RequestHead<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub host: Option<&'a HeaderValue>,
    pub user_agent: Option<&'a str>,
    pub headers: &'a [(HeaderName, HeaderValue)],
    /// This request's own headers (a viewer's extracted token …), after the configured ones.
    pub extra: &'a [(HeaderName, HeaderValue)],
    /// Ask the server to close after its response (`Connection: close`).
    pub close: bool,
}

/// Appends the encoded request to `out`. Fails only on a path that would break the request
/// line (whitespace, control bytes): sending it would be a different request.
pub(super) fn encode(
    head: &RequestHead<'_>,
    body: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<(), RequestError> {
    let path = head.path.as_bytes();
    if path.is_empty() || path.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(RequestError::new(
            ErrorKind::Other,
            "invalid request path (empty, or contains whitespace or control characters)",
        ));
    }
    out.extend_from_slice(head.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let Some(host) = head.host {
        put_header(out, b"host", host.as_bytes());
    }
    if let Some(ua) = head.user_agent {
        put_header(out, b"user-agent", ua.as_bytes());
    }
    if head.close {
        put_header(out, b"connection", b"close");
    }
    for (name, value) in head.headers.iter().chain(head.extra) {
        put_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    // A body-carrying method always states its length, even zero: without it a server may
    // wait for a body that never comes.
    let sends_body = body.is_some()
        || matches!(*head.method, Method::POST | Method::PUT)
        || head.method == Method::PATCH;
    if sends_body {
        let len = body.map_or(0, <[u8]>::len).to_string();
        put_header(out, b"content-length", len.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    if let Some(body) = body {
        out.extend_from_slice(body);
    }
    Ok(())
}

fn put_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
