//! Tests of the timed client against hand-written HTTP/1.1 servers on `127.0.0.1:0`, so each
//! test controls exactly what goes on the wire (delays, resets, early closes).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::*;

const OK_HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world";

/// Serves each accepted connection with `handler(stream, connection_index)`; returns the
/// address and the live count of accepted connections.
pub(super) async fn serve<F, Fut>(handler: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handler(stream, n));
        }
    });
    (addr, accepted)
}

/// Reads one request head; `None` on EOF.
pub(super) async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

pub(super) fn origin(addr: SocketAddr) -> Origin {
    let url = url::Url::parse(&format!("http://{addr}/")).expect("url");
    Origin::from_url(&url).expect("origin")
}

pub(super) fn config(timeout: Duration) -> Arc<ClientConfig> {
    let headers = [("X-Api-Key".to_owned(), "s3cret".to_owned())];
    ClientConfig::new(timeout, false, &headers).expect("config")
}

#[tokio::test]
async fn keep_alive_reuses_one_connection_and_times_ttfb() {
    let (heads_tx, mut heads) = mpsc::unbounded_channel();
    let (addr, accepted) = serve(move |mut s, _| {
        let heads_tx = heads_tx.clone();
        async move {
            while let Some(head) = read_head(&mut s).await {
                let _ = heads_tx.send(head);
                tokio::time::sleep(Duration::from_millis(50)).await;
                if s.write_all(OK_HELLO).await.is_err() {
                    return;
                }
            }
        }
    })
    .await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);

    let (timings, first) = session
        .request(Method::GET, "/live/index.m3u8?x=1", None, true)
        .await
        .expect("first request");
    let timings = timings.expect("first request connects");
    assert_eq!(timings.dns, None, "IP literal: no DNS");
    assert_eq!(timings.tls, None);
    assert_eq!(first.status, 200);
    assert_eq!(first.body_len, 11);
    assert_eq!(first.body.as_deref(), Some(&b"hello world"[..]));
    assert!(first.ttfb >= Duration::from_millis(50), "{:?}", first.ttfb);
    assert!(first.total >= first.ttfb);

    let (timings, second) = session
        .request(Method::GET, "/seg1.ts", None, false)
        .await
        .expect("second request");
    assert!(timings.is_none(), "kept alive: no new connection");
    assert_eq!(second.body_len, 11);
    assert_eq!(second.body, None);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let head = heads.recv().await.expect("head");
    assert!(
        head.starts_with("GET /live/index.m3u8?x=1 HTTP/1.1\r\n"),
        "{head}"
    );
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains(&format!("host: {addr}\r\n")), "{head}");
    assert!(lower.contains("user-agent: peakready/"), "{head}");
    assert!(lower.contains("x-api-key: s3cret\r\n"), "{head}");
}

#[tokio::test]
async fn closing_connections_opens_one_connection_per_request_even_if_the_server_keeps_it() {
    // The server ignores `Connection: close` and would keep serving: the client alone must
    // close, or a "new connection per request" benchmark would silently measure keep-alive.
    let (heads_tx, mut heads) = mpsc::unbounded_channel();
    let (addr, accepted) = serve(move |mut s, _| {
        let heads_tx = heads_tx.clone();
        async move {
            while let Some(head) = read_head(&mut s).await {
                let _ = heads_tx.send(head);
                if s.write_all(OK_HELLO).await.is_err() {
                    return;
                }
            }
        }
    })
    .await;
    let cfg = config(Duration::from_secs(5)).closing_connections();
    let mut session = Session::new(origin(addr), cfg, None);
    for i in 1..=3 {
        let (timings, resp) = session
            .request(Method::GET, "/small.txt", None, false)
            .await
            .expect("request");
        assert!(timings.is_some(), "request {i} opened its own connection");
        assert_eq!(resp.body_len, 11);
        assert!(!session.is_connected(), "closed after the response");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    let head = heads.recv().await.expect("head").to_ascii_lowercase();
    assert!(head.contains("connection: close\r\n"), "{head}");

    // A Connection header the user set is sent as given, never doubled.
    let headers = [("Connection".to_owned(), "close".to_owned())];
    let cfg = ClientConfig::new(Duration::from_secs(5), false, &headers)
        .expect("config")
        .closing_connections();
    let mut session = Session::new(origin(addr), cfg, None);
    session
        .request(Method::GET, "/small.txt", None, false)
        .await
        .expect("request");
    let head = heads.recv().await.expect("head").to_ascii_lowercase();
    assert_eq!(head.matches("connection:").count(), 1, "{head}");
}

#[tokio::test]
async fn chunked_body_in_several_frames_is_reassembled() {
    let (addr, _) = serve(|mut s, _| async move {
        if read_head(&mut s).await.is_none() {
            return;
        }
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            .await;
        let _ = s.flush().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = s.write_all(b"6\r\n world\r\n0\r\n\r\n").await;
        // Stay open: the connection must still be usable once the body is read.
        tokio::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    let cfg = config(Duration::from_secs(5));
    let (mut conn, _) = HttpConnection::open(&origin(addr), &cfg, None)
        .await
        .expect("open");
    let resp = conn
        .request(Method::GET, "/", None, true)
        .await
        .expect("request");
    assert_eq!(resp.body.as_deref(), Some(&b"hello world"[..]));
    assert_eq!(resp.body_len, 11);
    assert!(conn.is_usable());
}

#[tokio::test]
async fn dropping_a_connection_closes_its_socket() {
    let (eof_tx, mut eof) = mpsc::unbounded_channel();
    let (addr, _) = serve(move |mut s, _| {
        let eof_tx = eof_tx.clone();
        async move {
            while read_head(&mut s).await.is_some() {
                let _ = s.write_all(OK_HELLO).await;
            }
            let _ = eof_tx.send(());
        }
    })
    .await;
    let cfg = config(Duration::from_secs(5));
    let (mut conn, _) = HttpConnection::open(&origin(addr), &cfg, None)
        .await
        .expect("open");
    conn.request(Method::GET, "/", None, false)
        .await
        .expect("request");
    drop(conn);
    // Idle keep-alive sockets must not outlive their viewer: a long run would leak ports.
    tokio::time::timeout(Duration::from_secs(2), eof.recv())
        .await
        .expect("server saw EOF after drop");
}

#[tokio::test]
async fn refused_when_nothing_listens() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = HttpConnection::open(&origin(addr), &config(Duration::from_secs(2)), None)
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind, ErrorKind::Refused, "{err}");
}

#[tokio::test]
async fn silent_server_times_out() {
    let (addr, _) = serve(|mut s, _| async move {
        let _ = read_head(&mut s).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let mut session = Session::new(origin(addr), config(Duration::from_millis(200)), None);
    let start = Instant::now();
    let err = session
        .request(Method::GET, "/", None, false)
        .await
        .expect_err("no answer");
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(
        !session.is_connected(),
        "a timed-out connection is not reused"
    );
}

#[tokio::test]
async fn stalled_body_times_out() {
    let (addr, _) = serve(|mut s, _| async move {
        let _ = read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            .await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let cfg = config(Duration::from_millis(200));
    let (mut conn, _) = HttpConnection::open(&origin(addr), &cfg, None)
        .await
        .expect("open");
    let err = conn
        .request(Method::GET, "/", None, false)
        .await
        .expect_err("stalled");
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert!(!conn.is_usable());
}

#[tokio::test]
async fn close_mid_body_is_reset() {
    let (addr, _) = serve(|mut s, _| async move {
        let _ = read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly ten b")
            .await;
        // Dropping the stream closes it 990 bytes short.
    })
    .await;
    let cfg = config(Duration::from_secs(5));
    let (mut conn, _) = HttpConnection::open(&origin(addr), &cfg, None)
        .await
        .expect("open");
    let err = conn
        .request(Method::GET, "/", None, true)
        .await
        .expect_err("short body");
    assert_eq!(err.kind, ErrorKind::Reset, "{err}");
    assert!(!conn.is_usable());
}

#[tokio::test]
async fn session_reconnects_after_server_closes() {
    let (addr, accepted) = serve(|mut s, _| async move {
        if read_head(&mut s).await.is_some() {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
                .await;
        }
    })
    .await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
    for _ in 0..2 {
        let (timings, resp) = session
            .request(Method::GET, "/", None, false)
            .await
            .expect("request");
        assert!(timings.is_some(), "every request needed a new connection");
        assert_eq!(resp.body_len, 2);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

/// The stale keep-alive race made deterministic: the first connection reads the second
/// request and hangs up without a response byte.
async fn serve_then_drop_second_request() -> (SocketAddr, Arc<AtomicUsize>) {
    serve(|mut s, n| async move {
        let answers = if n == 0 { 1 } else { usize::MAX };
        let mut answered = 0;
        while let Some(_head) = read_head(&mut s).await {
            if answered == answers {
                return;
            }
            if s.write_all(OK_HELLO).await.is_err() {
                return;
            }
            answered += 1;
        }
    })
    .await
}

#[tokio::test]
async fn idempotent_request_is_retried_once_on_a_fresh_connection() {
    let (addr, accepted) = serve_then_drop_second_request().await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
    let (t1, _) = session
        .request(Method::GET, "/a", None, false)
        .await
        .expect("first");
    assert!(t1.is_some());
    let (t2, resp) = session
        .request(Method::GET, "/b", None, false)
        .await
        .expect("retried on a new connection");
    assert!(t2.is_some(), "the retry reports its connect timings");
    assert_eq!(resp.status, 200);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn non_idempotent_request_is_not_retried() {
    let (addr, _) = serve_then_drop_second_request().await;
    let mut session = Session::new(origin(addr), config(Duration::from_secs(5)), None);
    session
        .request(
            Method::POST,
            "/chat",
            Some(Bytes::from_static(b"hi")),
            false,
        )
        .await
        .expect("first");
    let err = session
        .request(
            Method::POST,
            "/chat",
            Some(Bytes::from_static(b"hi")),
            false,
        )
        .await
        .expect_err("POST is not replayed");
    assert_eq!(err.kind, ErrorKind::Reset, "{err}");
}

#[tokio::test]
async fn tls_to_a_plaintext_server_is_a_tls_error() {
    let (addr, _) = serve(|mut s, _| async move {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    })
    .await;
    let url = url::Url::parse(&format!("https://{addr}/")).expect("url");
    let origin = Origin::from_url(&url).expect("origin");
    let cfg = ClientConfig::new(Duration::from_secs(2), true, &[]).expect("cfg");
    let err = HttpConnection::open(&origin, &cfg, None)
        .await
        .expect_err("not TLS");
    assert_eq!(err.kind, ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn hostname_is_resolved_and_source_address_bound() {
    let (addr, _) = serve(|mut s, _| async move {
        if read_head(&mut s).await.is_some() {
            let _ = s.write_all(OK_HELLO).await;
        }
    })
    .await;
    let url = url::Url::parse(&format!("http://localhost:{}/", addr.port())).expect("url");
    let origin = Origin::from_url(&url).expect("origin");
    let source = Some(IpAddr::from([127, 0, 0, 1]));
    let cfg = config(Duration::from_secs(5));
    let (mut conn, timings) = HttpConnection::open(&origin, &cfg, source)
        .await
        .expect("open via localhost");
    assert!(timings.dns.is_some());
    let resp = conn
        .request(Method::GET, "/", None, false)
        .await
        .expect("request");
    assert_eq!(resp.body_len, 11);
}

#[test]
fn invalid_headers_are_named_without_their_values() {
    let bad_value = [("Authorization".to_owned(), "Bearer s3cret\n".to_owned())];
    let err = ClientConfig::new(Duration::from_secs(1), false, &bad_value).expect_err("newline");
    assert!(err.contains("authorization"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");

    let pasted = [("Authorization: Bearer s3cret".to_owned(), "x".to_owned())];
    let err = ClientConfig::new(Duration::from_secs(1), false, &pasted).expect_err("colon");
    assert!(!err.contains("s3cret"), "{err}");

    let framing = [("Content-Length".to_owned(), "3".to_owned())];
    assert!(ClientConfig::new(Duration::from_secs(1), false, &framing).is_err());

    let ok = [("Authorization".to_owned(), "Bearer s3cret".to_owned())];
    let cfg = ClientConfig::new(Duration::from_secs(1), false, &ok).expect("valid");
    assert!(
        !format!("{cfg:?}").contains("s3cret"),
        "Debug must not print values"
    );
}

#[test]
fn origin_from_url() {
    let o = |s: &str| Origin::from_url(&url::Url::parse(s).expect("url"));
    let plain = o("http://example.com/x").expect("http");
    assert_eq!(
        (plain.port, plain.host_header().as_bytes()),
        (80, &b"example.com"[..])
    );
    let tls = o("https://example.com:8443/").expect("https");
    assert_eq!(tls.scheme, Scheme::Https);
    assert_eq!(tls.host_header().as_bytes(), b"example.com:8443");
    let v6 = o("http://[::1]:8080/").expect("v6");
    assert_eq!(&*v6.host, "::1");
    assert_eq!(v6.host_header().as_bytes(), b"[::1]:8080");
    assert!(o("ftp://example.com/").is_err());
    assert!(o("https://user:pw@example.com/").is_err());
}

/// `serves` answers exactly what comparing `from_url`'s origin would, without parsing.
#[test]
fn an_origin_serves_exactly_the_urls_that_parse_to_it() {
    let urls = [
        "http://example.com/a",
        "http://example.com:80/a",
        "http://EXAMPLE.com/b?q=1",
        "http://example.com:8080/",
        "https://example.com/",
        "https://example.com:443/x",
        "http://example.org/",
        "http://127.0.0.1:8080/ok",
        "http://127.0.0.2:8080/ok",
        "http://[::1]:8080/",
        "http://[::1]:8081/",
        "http://user@example.com/",
        "https://user:pw@example.com/",
        "ftp://example.com/",
    ];
    let parsed: Vec<url::Url> = urls
        .iter()
        .map(|u| url::Url::parse(u).expect("url"))
        .collect();
    for a in &parsed {
        let Ok(origin) = Origin::from_url(a) else {
            continue;
        };
        for b in &parsed {
            let same = Origin::from_url(b).ok().as_ref() == Some(&origin);
            assert_eq!(origin.serves(b), same, "origin of {a} serving {b}");
        }
    }
}
