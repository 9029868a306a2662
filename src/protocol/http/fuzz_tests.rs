//! Fuzz target for the HTTP/1.1 response parser ([`super::h1::exchange`]) as a property: any
//! bytes a server sends, split into any reads, end in a response or a classified
//! [`RequestError`] (`protocol`, `reset`, `body_too_large`), never a panic or a hang, with a
//! body no larger than what was sent. Replays `tests/corpus/http/` first, then mutates it (the
//! mutation code is shared with `tests/suite/fuzz.rs`).

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use proptest::prelude::*;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::h1::{exchange, Stage};
use super::stream::Io;
use crate::metrics::ErrorKind;

#[path = "../../../tests/suite/mutate.rs"]
mod mutate;

/// A server that answers with fixed bytes in fixed reads, then closes; it takes any request.
struct Scripted {
    reads: VecDeque<Vec<u8>>,
}

impl AsyncRead for Scripted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(mut chunk) = self.reads.pop_front() {
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..n]);
            if n < chunk.len() {
                self.reads.push_front(chunk.split_off(n));
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Splits `bytes` into reads of the given sizes (cycled; at least 1 byte each).
fn reads(bytes: &[u8], sizes: &[usize]) -> VecDeque<Vec<u8>> {
    let mut out = VecDeque::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(4096)
            .max(1);
        let (a, b) = rest.split_at(n.min(rest.len()));
        out.push_back(a.to_vec());
        rest = b;
        i += 1;
    }
    out
}

/// One exchange against `bytes`; the outcome must be a response or a classified error.
fn check(bytes: &[u8], sizes: &[usize], is_head: bool, keep: bool) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| e.to_string())?;
    let mut io = Io::Wrapped(Box::new(Scripted {
        reads: reads(bytes, sizes),
    }));
    let mut buf = Vec::new();
    // The script ends in EOF, so a parser that waits past it is looping; 10 s is far beyond
    // what a few KiB take even on a loaded machine.
    let outcome = rt.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            exchange(&mut io, b"GET / HTTP/1.1\r\n\r\n", is_head, keep, &mut buf),
        )
        .await
    });
    match outcome {
        Err(_) => Err("no outcome: the exchange did not end at EOF".into()),
        Ok(Ok(r)) => {
            if !(200..=999).contains(&r.status) {
                return Err(format!("status {} returned as final", r.status));
            }
            if r.body_len > bytes.len() as u64 {
                return Err(format!("body {} > {} bytes sent", r.body_len, bytes.len()));
            }
            if let Some(body) = &r.body {
                if body.len() as u64 != r.body_len {
                    return Err("kept body and counted length differ".into());
                }
            }
            Ok(())
        }
        Ok(Err(Stage::Write(e))) => Err(format!("a write to the script failed: {e}")),
        Ok(Err(Stage::BeforeHead(e) | Stage::AfterHead(e))) => {
            let classified = matches!(
                e.kind,
                ErrorKind::Protocol | ErrorKind::Reset | ErrorKind::BodyTooLarge
            );
            if !classified || e.detail.is_empty() || e.detail.len() > 512 {
                return Err(format!("unclassified or unbounded: {e}"));
            }
            Ok(())
        }
    }
}

/// Status lines, framing headers and body pieces, well and badly formed.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.0 ",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\n",
    b"HTTP/1.1 204 No Content\r\n",
    b"HTTP/2 200\r\n",
    b"Content-Length: ",
    b"Content-Length: 18446744073709551616\r\n",
    b"Content-Length: 5, 6\r\n",
    b"Content-Length: -1\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip\r\n",
    b"Connection: close\r\n",
    b"Connection: keep-alive\r\n",
    b"Location: /x\r\n",
    b"0\r\n\r\n",
    b"5\r\nhello\r\n",
    b"ffffffffffffffff\r\n",
    b"1;ext=\"a\"\r\nx\r\n",
    b"X-Trailer: t\r\n",
    b":",
    b" ",
    b"\t",
    b"\x00",
    b"\xff",
    b"<html>",
    b"\x16\x03\x01",
    b"999",
    b"000",
];

fn corpus() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| mutate::corpus("http").into_iter().map(|(_, b)| b).collect())
}

#[test]
fn http_corpus_ends_in_a_classified_outcome() {
    for (path, bytes) in mutate::corpus("http") {
        for sizes in [&[usize::MAX][..], &[1], &[3, 7, 1]] {
            for (is_head, keep) in [(false, true), (false, false), (true, false)] {
                if let Err(e) = check(&bytes, sizes, is_head, keep) {
                    panic!("{} (reads {sizes:?}, head {is_head}): {e}", path.display());
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(mutate::config())]

    #[test]
    fn http_response_parser_never_panics_and_classifies(
        seed in any::<prop::sample::Index>(),
        edits in mutate::edits(6),
        sizes in proptest::collection::vec(1usize..64, 1..4),
        is_head in any::<bool>(),
        keep in any::<bool>(),
    ) {
        let seed: &Vec<u8> = seed.get(corpus());
        let bytes = mutate::apply(seed, &edits, TOKENS);
        check(&bytes, &sizes, is_head, keep).map_err(TestCaseError::fail)?;
    }
}
