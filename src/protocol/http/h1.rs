//! HTTP/1.1 on one connection, driven from the calling task: write the request, parse the head
//! with `httparse`, read the body by its framing (length, chunked, until close).
//!
//! Why not hyper's client: hyper drives each connection from its own spawned task with its own
//! buffers, and a load generator holds one connection per simulated viewer. Doing the exchange
//! in the viewer's task costs no task, no hand-off per request and no buffer while the
//! connection is idle: the read buffer exists only during an exchange. It also lets `ttfb`
//! start at the write itself rather than at a hand-off to another task.

use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::stream::Io;
use super::{RequestError, MAX_COUNTED_BODY, MAX_KEPT_BODY};
use crate::metrics::ErrorKind;

/// Read buffer of an exchange. Responses are read through it; a connection keeps it between
/// exchanges only when its config says so (see `ClientConfig::keeping_read_buffers`).
pub(super) const READ_BUFFER: usize = 8 * 1024;
/// A response head may grow the buffer up to this; beyond it the response is refused.
const MAX_HEAD: usize = 64 * 1024;
/// Headers parsed per response head; more is refused (as hyper's default of 100 would be).
const MAX_HEADERS: usize = 100;

/// Where in an exchange a failure happened; decides whether a retry is safe.
pub(super) enum Stage {
    /// Writing the request failed: it may have been partly sent.
    Write(io::Error),
    /// Sent, but the connection failed or closed before any response byte.
    BeforeHead(RequestError),
    /// Some of the response arrived, then it failed.
    AfterHead(RequestError),
}

/// A response head, reduced to what the exchange needs.
struct Head {
    status: u16,
    /// `Location` of a 3xx (bounded: a header line is at most the 64 KiB head).
    location: Option<String>,
    /// The raw head, kept only with the body (a caller that reads the content may want a
    /// header too: `extract: { header: … }`).
    raw: Option<Bytes>,
    framing: Framing,
    /// The server will close after this response (or HTTP/1.0 without keep-alive).
    close: bool,
}

#[derive(Clone, Copy)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What one exchange returns on success.
pub(super) struct Exchanged {
    pub status: u16,
    pub location: Option<String>,
    pub head_at: tokio::time::Instant,
    pub body_len: u64,
    pub body: Option<Bytes>,
    /// The response head's bytes, when the body was kept.
    pub head: Option<Bytes>,
    /// False when the connection must not carry another request.
    pub reusable: bool,
}

/// One request and its whole response on `io`. `request` is written as is; `buf` is the read
/// buffer (emptied first, grown to [`READ_BUFFER`] if smaller).
pub(super) async fn exchange(
    io: &mut Io,
    request: &[u8],
    is_head: bool,
    keep_body: bool,
    buf: &mut Vec<u8>,
) -> Result<Exchanged, Stage> {
    io.write_all(request).await.map_err(Stage::Write)?;
    // A TLS stream may hold encrypted bytes after `write_all` returned; only a flush sends them.
    io.flush().await.map_err(Stage::Write)?;
    let mut rd = Reader::new(io, buf);
    let head = rd.head(is_head, keep_body).await?;
    let head_at = tokio::time::Instant::now();
    let mut sink = BodySink::new(keep_body, &head.framing);
    if let Framing::Length(n) = head.framing {
        // Refused before a byte of it is read: a server announcing 1 TB is not waited for.
        sink.check(n).map_err(|e| rd.failure(e))?;
    }
    let clean_end = match head.framing {
        Framing::Empty => true,
        Framing::Length(n) => {
            rd.body_exact(n, &mut sink).await?;
            true
        }
        Framing::Chunked => {
            rd.body_chunked(&mut sink).await?;
            true
        }
        Framing::UntilClose => {
            rd.body_until_close(&mut sink).await?;
            false
        }
    };
    // Bytes beyond the framed response mean the server and we disagree on framing: the
    // connection's next response could not be trusted.
    let reusable = clean_end && !head.close && rd.is_drained();
    Ok(Exchanged {
        status: head.status,
        location: head.location,
        head_at,
        body_len: sink.len,
        body: sink.finish(),
        head: head.raw,
        reusable,
    })
}

/// Counts body bytes and keeps them when asked. A kept body beyond [`MAX_KEPT_BODY`] or a
/// counted one beyond [`MAX_COUNTED_BODY`] is `body_too_large`: memory stays bounded whatever
/// the server sends, and an endless body ends the request instead of running to the timeout.
struct BodySink {
    len: u64,
    kept: Option<BytesMut>,
}

fn body_cap(keep: bool) -> u64 {
    if keep {
        MAX_KEPT_BODY
    } else {
        MAX_COUNTED_BODY
    }
}

impl BodySink {
    fn new(keep: bool, framing: &Framing) -> BodySink {
        // Pre-allocate from Content-Length only for a body that will be kept: the header is
        // server-controlled, and a body beyond MAX_KEPT_BODY is dropped anyway.
        let hint = match framing {
            Framing::Length(n) if *n <= MAX_KEPT_BODY => usize::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        BodySink {
            len: 0,
            kept: keep.then(|| BytesMut::with_capacity(hint)),
        }
    }

    /// `len` bytes would be over the cap for this body.
    fn check(&self, len: u64) -> Result<(), RequestError> {
        let cap = body_cap(self.kept.is_some());
        if len <= cap {
            return Ok(());
        }
        Err(RequestError::new(
            ErrorKind::BodyTooLarge,
            format!(
                "reading body: {} exceeds the {} MiB cap for a {} body",
                if self.len == 0 {
                    format!("Content-Length {len} bytes")
                } else {
                    format!("more than {cap} bytes")
                },
                cap >> 20,
                if self.kept.is_some() {
                    "kept (playlist, expect_body)"
                } else {
                    "counted"
                }
            ),
        ))
    }

    fn push(&mut self, data: &[u8]) -> Result<(), RequestError> {
        let len = self.len + data.len() as u64;
        self.check(len)?;
        self.len = len;
        if let Some(k) = self.kept.as_mut() {
            k.extend_from_slice(data);
        }
        Ok(())
    }

    fn finish(self) -> Option<Bytes> {
        self.kept.map(BytesMut::freeze)
    }
}

/// A window `buf[start..]` of bytes read but not yet consumed. Bytes are read into the
/// vector's spare capacity, so the buffer is never zero-filled.
struct Reader<'a> {
    io: &'a mut Io,
    buf: &'a mut Vec<u8>,
    start: usize,
    /// Any response byte seen: decides "closed before the head" vs "closed mid-response".
    got_any: bool,
}

impl<'a> Reader<'a> {
    fn new(io: &'a mut Io, buf: &'a mut Vec<u8>) -> Reader<'a> {
        buf.clear();
        buf.reserve(READ_BUFFER);
        Reader {
            io,
            buf,
            start: 0,
            got_any: false,
        }
    }

    fn window(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.start = 0;
            self.buf.clear();
        }
    }

    fn is_drained(&self) -> bool {
        self.start == self.buf.len()
    }

    fn failure(&self, err: RequestError) -> Stage {
        if self.got_any {
            Stage::AfterHead(err)
        } else {
            Stage::BeforeHead(err)
        }
    }

    /// Reads more bytes after the window, making room first; `Ok(0)` is EOF. `limit` caps how
    /// far the buffer may grow to hold one unfinished item (a head, a chunk-size line).
    async fn fill(&mut self, limit: usize, what: &str) -> Result<usize, Stage> {
        if self.buf.len() == self.buf.capacity() {
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            } else if self.buf.capacity() < limit {
                let grow_by = self.buf.capacity().min(limit - self.buf.capacity());
                self.buf.reserve_exact(grow_by);
            } else {
                return Err(self.failure(RequestError::new(
                    ErrorKind::Protocol,
                    format!(
                        "{what}: longer than {} KiB; it began \"{}\"",
                        limit / 1024,
                        escaped_start(self.window())
                    ),
                )));
            }
        }
        let n = self
            .io
            .read_buf(&mut *self.buf)
            .await
            .map_err(|e| self.failure(RequestError::from_io(&e, what)))?;
        self.got_any |= n > 0;
        Ok(n)
    }

    async fn fill_or_eof_error(&mut self, limit: usize, what: &str) -> Result<(), Stage> {
        if self.fill(limit, what).await? == 0 {
            return Err(self.failure(RequestError::new(
                ErrorKind::Reset,
                format!("{what}: connection closed by the server"),
            )));
        }
        Ok(())
    }

    /// Parses the final response head, skipping interim (1xx) ones.
    ///
    /// A head is parsed again only when the window has doubled since the last try or now holds
    /// an empty line: re-parsing on every read made a head dribbled a byte at a time cost its
    /// length squared (a 64 KiB head in 1-byte reads: ~2·10⁹ byte steps, minutes of CPU per
    /// connection). The first bytes are still parsed at once, so garbage fails on arrival.
    async fn head(&mut self, is_head_request: bool, keep: bool) -> Result<Head, Stage> {
        // Window lengths at the last parse and at the last look for an empty line.
        let (mut parsed_len, mut scanned) = (0, 0);
        loop {
            let window = self.window();
            let worth_parsing = window.len() >= parsed_len * 2 || ends_head(window, scanned);
            scanned = window.len();
            if !self.is_drained() && worth_parsing {
                parsed_len = self.window().len();
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut resp = httparse::Response::new(&mut headers);
                match resp.parse(self.window()) {
                    Ok(httparse::Status::Complete(len)) => {
                        let status = resp.code.unwrap_or(0);
                        let mut head =
                            interpret(&resp, is_head_request).map_err(|e| self.failure(e))?;
                        if keep {
                            head.raw = Some(Bytes::copy_from_slice(&self.window()[..len]));
                        }
                        self.consume(len);
                        if (100..200).contains(&status) {
                            (parsed_len, scanned) = (0, 0);
                            continue;
                        }
                        return Ok(head);
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(e) => {
                        return Err(self.failure(RequestError::new(
                            ErrorKind::Protocol,
                            format!(
                            "awaiting response: not an HTTP/1.x response ({e}); it began \"{}\"",
                            escaped_start(self.window())
                        ),
                        )))
                    }
                }
            }
            self.fill_or_eof_error(MAX_HEAD, "awaiting response")
                .await?;
        }
    }

    async fn body_exact(&mut self, mut remaining: u64, sink: &mut BodySink) -> Result<(), Stage> {
        while remaining > 0 {
            if self.is_drained() {
                self.fill_or_eof_error(READ_BUFFER, "reading body").await?;
            }
            let take = self
                .window()
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX));
            sink.push(&self.buf[self.start..self.start + take])
                .map_err(|e| self.failure(e))?;
            self.consume(take);
            remaining -= take as u64;
        }
        Ok(())
    }

    async fn body_chunked(&mut self, sink: &mut BodySink) -> Result<(), Stage> {
        loop {
            let size = loop {
                // httparse reads an empty size line as 0, which would end the body early.
                if self
                    .window()
                    .first()
                    .is_some_and(|b| !b.is_ascii_hexdigit())
                {
                    return Err(self.failure(RequestError::new(
                        ErrorKind::Protocol,
                        "reading body: invalid chunk size line",
                    )));
                }
                match httparse::parse_chunk_size(self.window()) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.consume(used);
                        break size;
                    }
                    Ok(httparse::Status::Partial) => {
                        self.fill_or_eof_error(MAX_HEAD, "reading chunked body")
                            .await?
                    }
                    Err(_) => {
                        return Err(self.failure(RequestError::new(
                            ErrorKind::Protocol,
                            "reading body: invalid chunk size line",
                        )))
                    }
                }
            };
            if size == 0 {
                return self.trailers().await;
            }
            self.body_exact(size, sink).await?;
            self.expect_crlf().await?;
        }
    }

    async fn expect_crlf(&mut self) -> Result<(), Stage> {
        while self.window().len() < 2 {
            self.fill_or_eof_error(MAX_HEAD, "reading chunked body")
                .await?;
        }
        if &self.window()[..2] != b"\r\n" {
            return Err(self.failure(RequestError::new(
                ErrorKind::Protocol,
                "reading body: chunk not followed by CRLF",
            )));
        }
        self.consume(2);
        Ok(())
    }

    /// Skips trailer fields up to the empty line that ends a chunked body.
    async fn trailers(&mut self) -> Result<(), Stage> {
        loop {
            match self.window().windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.consume(2);
                    return Ok(());
                }
                Some(pos) if self.window()[..pos].contains(&b':') => self.consume(pos + 2),
                Some(_) => {
                    return Err(self.failure(RequestError::new(
                        ErrorKind::Protocol,
                        "reading body: malformed chunked trailer",
                    )))
                }
                None => {
                    self.fill_or_eof_error(MAX_HEAD, "reading chunked trailers")
                        .await?
                }
            }
        }
    }

    async fn body_until_close(&mut self, sink: &mut BodySink) -> Result<(), Stage> {
        loop {
            if !self.is_drained() {
                sink.push(self.window()).map_err(|e| self.failure(e))?;
                self.consume(self.buf.len() - self.start);
            }
            if self.fill(READ_BUFFER, "reading body").await? == 0 {
                return Ok(());
            }
        }
    }
}

/// Status, framing and persistence from a parsed head (RFC 9112 §6.3).
fn interpret(
    resp: &httparse::Response<'_, '_>,
    is_head_request: bool,
) -> Result<Head, RequestError> {
    let status = resp.code.unwrap_or(0);
    let http10 = resp.version == Some(0);
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoded = false;
    let mut says_close = false;
    let mut says_keep_alive = false;
    let mut location = None;
    for h in resp.headers.iter() {
        if (300..400).contains(&status) && h.name.eq_ignore_ascii_case("location") {
            location = std::str::from_utf8(h.value)
                .ok()
                .map(|v| v.trim().to_string());
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let digits = h.value.trim_ascii();
            let n = (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit))
                .then(|| std::str::from_utf8(digits).ok()?.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| malformed("invalid Content-Length"))?;
            if length.is_some_and(|prev| prev != n) {
                return Err(malformed("conflicting Content-Length headers"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoded = true;
            // Only the last coding decides: "gzip, chunked" is chunked framing.
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                says_close |= token.eq_ignore_ascii_case(b"close");
                says_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    if status < 100 {
        // httparse takes any three digits; RFC 9110 §15 has no class below 1xx, so "000" is
        // not a response to pass on as a status, final or interim.
        return Err(malformed(&format!("invalid status code {status:03}")));
    }
    if status == 101 {
        // We never ask to upgrade; after a 101 the connection no longer speaks HTTP.
        return Err(malformed("unexpected 101 Switching Protocols"));
    }
    // RFC 9112 §6.1, §6.3: Transfer-Encoding in HTTP/1.0, or beside Content-Length, is framing
    // we cannot trust for a following response, so such a connection is not reused.
    let close = says_close
        || (http10 && !says_keep_alive)
        || (transfer_encoded && (http10 || length.is_some()));
    let framing =
        if is_head_request || (100..200).contains(&status) || status == 204 || status == 304 {
            Framing::Empty
        } else if transfer_encoded {
            if chunked {
                Framing::Chunked
            } else {
                Framing::UntilClose
            }
        } else if let Some(n) = length {
            if n == 0 {
                Framing::Empty
            } else {
                Framing::Length(n)
            }
        } else {
            Framing::UntilClose
        };
    Ok(Head {
        status,
        location,
        raw: None,
        framing,
        close,
    })
}

/// Whether `window` has an empty line (`\n\n` or `\n\r\n`, as httparse accepts both) that
/// ends at or after byte `from`: a head may be complete only then.
fn ends_head(window: &[u8], from: usize) -> bool {
    let tail = &window[from.saturating_sub(2).min(window.len())..];
    tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n")
}

/// The first bytes of what the server sent, printable and bounded (for a `protocol` detail).
pub(crate) fn escaped_start(bytes: &[u8]) -> String {
    let shown: String = bytes
        .iter()
        .take(48)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > 48 {
        format!("{shown}…")
    } else {
        shown
    }
}

fn malformed(what: &str) -> RequestError {
    RequestError::new(
        ErrorKind::Protocol,
        format!("awaiting response: malformed response head ({what})"),
    )
}
