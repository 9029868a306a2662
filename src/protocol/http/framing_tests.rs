//! Response framing and persistence of the in-task HTTP/1.1 client ([`super::h1`]): each test
//! answers with exact bytes and checks the body that was read and whether the connection was
//! kept for the next request.

use std::sync::atomic::Ordering;

use tokio::io::AsyncWriteExt;

use super::tests::{config, origin, read_head, serve};
use super::*;

/// Answers every request on every connection with `response`, then waits for the next one.
async fn answer_with(
    response: &'static [u8],
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    serve(move |mut s, _| async move {
        while read_head(&mut s).await.is_some() {
            if s.write_all(response).await.is_err() {
                return;
            }
        }
    })
    .await
}

/// Two GETs through one session: the bodies, and how many connections they needed.
async fn two_gets(response: &'static [u8], method: Method) -> (Vec<Response>, usize) {
    let (addr, accepted) = answer_with(response).await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
    let mut out = Vec::new();
    for _ in 0..2 {
        let (_, resp) = session
            .request(method.clone(), "/x", None, true)
            .await
            .expect("request");
        out.push(resp);
    }
    (out, accepted.load(Ordering::SeqCst))
}

#[tokio::test]
async fn chunked_with_extensions_and_trailers_keeps_the_connection() {
    let (resps, conns) = two_gets(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n",
        Method::GET,
    )
    .await;
    assert_eq!(resps[1].body.as_deref(), Some(&b"abc"[..]));
    assert_eq!(
        conns, 1,
        "a cleanly ended chunked body leaves the connection reusable"
    );
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let (resps, conns) = two_gets(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        Method::GET,
    )
    .await;
    assert_eq!(resps[0].status, 201);
    assert_eq!(resps[0].body.as_deref(), Some(&b"ok"[..]));
    assert_eq!(conns, 1);
}

#[tokio::test]
async fn head_and_no_content_responses_have_no_body() {
    let (resps, conns) = two_gets(
        b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n",
        Method::HEAD,
    )
    .await;
    assert_eq!(resps[0].body_len, 0);
    assert_eq!(
        conns, 1,
        "HEAD's Content-Length describes a body that is not sent"
    );
    let (resps, conns) = two_gets(b"HTTP/1.1 204 No Content\r\n\r\n", Method::GET).await;
    assert_eq!((resps[1].status, resps[1].body_len), (204, 0));
    assert_eq!(conns, 1);
}

#[tokio::test]
async fn close_delimited_and_http10_bodies_are_read_to_the_end_and_not_reused() {
    let (addr, accepted) = serve(|mut s, _| async move {
        if read_head(&mut s).await.is_some() {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nuntil the end").await;
        }
    })
    .await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
    for _ in 0..2 {
        let (timings, resp) = session
            .request(Method::GET, "/", None, true)
            .await
            .expect("request");
        assert!(
            timings.is_some(),
            "a close-delimited body ends the connection"
        );
        assert_eq!(resp.body.as_deref(), Some(&b"until the end"[..]));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    let (_, conns) = two_gets(
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        Method::GET,
    )
    .await;
    assert_eq!(conns, 2, "HTTP/1.0 without keep-alive closes");
    let (_, conns) = two_gets(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
        Method::GET,
    )
    .await;
    assert_eq!(conns, 1, "HTTP/1.0 with keep-alive persists");
}

#[tokio::test]
async fn bytes_beyond_the_framed_body_retire_the_connection() {
    let (resps, conns) = two_gets(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
        Method::GET,
    )
    .await;
    assert_eq!(resps[0].body.as_deref(), Some(&b"ok"[..]));
    assert_eq!(
        conns, 2,
        "the next response on that connection could not be trusted"
    );
}

#[tokio::test]
async fn malformed_heads_are_errors_not_panics() {
    let cases: [&'static [u8]; 11] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        // Three digits, but no status class (the HTTP fuzz target found "000" passed on).
        b"HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 099 Below\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
        // An empty size line must not read as the last chunk (it would truncate the body).
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n\r\n3\r\ndef\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nnot a trailer\r\n\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
    ];
    for case in cases {
        let (addr, _) = answer_with(case).await;
        let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
        let err = session
            .request(Method::GET, "/", None, true)
            .await
            .expect_err("malformed response");
        assert_eq!(err.kind, ErrorKind::Protocol, "{err}");
        assert!(!session.is_connected(), "{err}");
    }
}

#[tokio::test]
async fn an_endless_head_is_refused_at_64_kib() {
    let (addr, _) = serve(|mut s, _| async move {
        if read_head(&mut s).await.is_some() {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
            let line = format!("X-Filler: {}\r\n", "a".repeat(1000));
            for _ in 0..100 {
                if s.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    })
    .await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
    let err = session
        .request(Method::GET, "/", None, true)
        .await
        .expect_err("head too large");
    assert!(err.detail.contains("64 KiB"), "{err}");
}

#[tokio::test]
async fn a_path_that_would_split_the_request_line_is_refused_unsent() {
    let (addr, accepted) = answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
    for path in ["/a b", "/a\r\nX-Evil: 1", ""] {
        let err = session
            .request(Method::GET, path, None, false)
            .await
            .expect_err("bad path");
        assert!(err.detail.contains("invalid request path"), "{err}");
    }
    // Connecting happens before encoding, but nothing was written on that connection.
    assert!(accepted.load(Ordering::SeqCst) <= 1);
}

#[tokio::test]
async fn a_keep_alive_closed_while_idle_is_replaced_before_sending_even_for_post() {
    // The server answers one request per connection and closes without saying so.
    let (addr, accepted) = serve(|mut s, _| async move {
        if read_head(&mut s).await.is_some() {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
        }
    })
    .await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
    for _ in 0..2 {
        session
            .request(
                Method::POST,
                "/chat",
                Some(Bytes::from_static(b"hi")),
                false,
            )
            .await
            .expect("POST on a fresh connection");
        // Let the FIN arrive, as it would between a viewer's polls.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn doubtful_framing_is_read_but_the_connection_is_not_reused() {
    for response in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"[..],
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nConnection: close, keep-alive\r\nContent-Length: 2\r\n\r\nok",
    ] {
        let (addr, accepted) = answer_with(response).await;
        let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
        for _ in 0..2 {
            let (_, resp) = session
                .request(Method::GET, "/", None, true)
                .await
                .expect("request");
            assert_eq!(resp.body.as_deref(), Some(&b"ok"[..]));
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "{}",
            String::from_utf8_lossy(response)
        );
    }
}

/// Writes `response` one byte at a time, flushing each: every partial-read path of the parser
/// (head, size line, chunk data, CRLF, trailers) is taken.
async fn dribble(response: Vec<u8>) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let response = Arc::new(response);
    serve(move |mut s, _| {
        let response = response.clone();
        async move {
            while read_head(&mut s).await.is_some() {
                for byte in response.iter() {
                    if s.write_all(std::slice::from_ref(byte)).await.is_err() {
                        return;
                    }
                    let _ = s.flush().await;
                    tokio::task::yield_now().await;
                }
            }
        }
    })
    .await
}

#[tokio::test]
async fn responses_arriving_byte_by_byte_are_parsed_whole() {
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n".to_vec();
    let sized = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world".to_vec();
    for response in [chunked, sized] {
        let (addr, accepted) = dribble(response).await;
        let mut session = Session::new(origin(addr), config(Duration::from_secs(10)), None);
        for _ in 0..2 {
            let (_, resp) = session
                .request(Method::GET, "/", None, true)
                .await
                .expect("request");
            assert_eq!(resp.body.as_deref(), Some(&b"hello world"[..]));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test]
async fn a_head_near_the_buffer_size_then_a_chunked_body_across_its_edge() {
    // A head of ~8,190 bytes leaves the chunked body straddling the 8 KiB read buffer, and a
    // 20 KiB chunk then needs the window moved and refilled several times.
    let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n".to_vec();
    let filler = 8190 - response.len() - b"X-Pad: \r\n\r\n".len();
    response.extend_from_slice(format!("X-Pad: {}\r\n\r\n", "p".repeat(filler)).as_bytes());
    let body: Vec<u8> = (0..20_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    response.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
    response.extend_from_slice(&body);
    response.extend_from_slice(b"\r\n3\r\nend\r\n0\r\n\r\n");
    let response: &'static [u8] = Box::leak(response.into_boxed_slice());
    let (resps, conns) = two_gets(response, Method::GET).await;
    let mut want = body.clone();
    want.extend_from_slice(b"end");
    for resp in &resps {
        assert_eq!(resp.body.as_deref(), Some(&want[..]));
    }
    assert_eq!(conns, 1);
}

/// Answers with 7 of the 100 body bytes it announces.
async fn write_half_a_body(s: &mut tokio::net::TcpStream) {
    let _ = s
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        .await;
}

#[tokio::test]
async fn abandoning_a_request_midway_retires_its_connection() {
    let (addr, _) = serve(|mut s, _| async move {
        if read_head(&mut s).await.is_some() {
            write_half_a_body(&mut s).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
    .await;
    let cfg = config(Duration::from_secs(10));
    let (mut conn, _) = HttpConnection::open(&origin(addr), &cfg, None)
        .await
        .expect("open");
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        conn.request(Method::GET, "/", None, false),
    )
    .await;
    assert!(abandoned.is_err(), "the body never completes");
    assert!(
        !conn.is_usable(),
        "a half-read response must not be followed by another request"
    );
}

#[tokio::test]
async fn a_session_never_reuses_the_connection_of_an_abandoned_request() {
    // The session keeps its connection in place while a request runs: one abandoned midway
    // must still leave it retired, and the next request must go to a new connection. The
    // first connection counts any request that comes after its half-sent answer (a retry on
    // a fresh connection would hide such a reuse from everything but the server).
    let reused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = reused.clone();
    let (addr, accepted) = serve(move |mut s, n| {
        let seen = seen.clone();
        async move {
            if n == 0 {
                if read_head(&mut s).await.is_some() {
                    write_half_a_body(&mut s).await;
                    if read_head(&mut s).await.is_some() {
                        seen.fetch_add(1, Ordering::SeqCst);
                    }
                }
                return;
            }
            while read_head(&mut s).await.is_some() {
                if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    })
    .await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(10)), None);
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        session.request(Method::GET, "/", None, false),
    )
    .await;
    assert!(abandoned.is_err(), "the first body never completes");
    assert!(
        !session.is_connected(),
        "an abandoned exchange retires its connection"
    );
    let (timings, resp) = session
        .request(Method::GET, "/", None, true)
        .await
        .expect("the next request opens a new connection");
    assert!(timings.is_some(), "a new connection was opened and timed");
    assert_eq!(resp.body.as_deref(), Some(&b"ok"[..]));
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert_eq!(
        reused.load(Ordering::SeqCst),
        0,
        "no request after a half-read answer"
    );
}

#[tokio::test]
async fn bodies_over_their_cap_are_body_too_large_before_they_are_read() {
    // 5 MiB announced for a kept body (cap 4 MiB): refused at the head, no byte of it waited for.
    let (addr, _) = answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 5242880\r\n\r\n").await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
    let err = session
        .request(Method::GET, "/", None, true)
        .await
        .expect_err("over the kept-body cap");
    assert_eq!(err.kind, ErrorKind::BodyTooLarge, "{err}");
    assert!(err.detail.contains("Content-Length 5242880"), "{err}");
    assert!(!session.is_connected());
}

#[tokio::test]
async fn a_non_http_answer_is_protocol_with_its_first_bytes_escaped() {
    let (addr, _) = answer_with(b"\x16\x03\x01\x02\x00hello\r\n\r\n").await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
    let err = session
        .request(Method::GET, "/", None, false)
        .await
        .expect_err("not HTTP");
    assert_eq!(err.kind, ErrorKind::Protocol);
    assert!(
        err.detail.contains("\\x16\\x03\\x01\\x02\\x00hello\\r\\n"),
        "{err}"
    );
}
