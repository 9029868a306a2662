//! Integration tests of the embedded staging server through its public API only, with a raw
//! hyper HTTP/1.1 client (one keep-alive connection per simulated viewer, as the engine
//! does) and tokio-tungstenite for chat.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use peakready::staging::{serve, EmbeddedServer, StagingConfig};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// One viewer's keep-alive HTTP/1.1 connection.
struct Viewer {
    addr: SocketAddr,
    tx: SendRequest<Full<Bytes>>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Viewer {
    async fn connect(addr: SocketAddr) -> Viewer {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        Viewer { addr, tx }
    }

    async fn send(&mut self, method: Method, path: &str, body: &'static str) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string())
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .expect("request");
        self.tx.ready().await.expect("connection ready");
        let resp = self.tx.send_request(req).await.expect("response");
        let (parts, body) = resp.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.expect("body").to_bytes(),
        }
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, "").await
    }
}

fn config(segment_ms: u64) -> StagingConfig {
    StagingConfig {
        segment_duration: Duration::from_millis(segment_ms),
        ..StagingConfig::default()
    }
}

async fn wait_open(server: &EmbeddedServer, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.stats().open_connections != n {
        assert!(
            Instant::now() < deadline,
            "open connections never reached {n}: {:?}",
            server.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn media_sequence(playlist: &str) -> u64 {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|n| n.parse().ok())
        .expect("media sequence")
}

#[tokio::test]
async fn token_room_and_health_json() {
    let server = EmbeddedServer::start(config(200)).await.expect("start");
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    let mut v = Viewer::connect(server.addr).await;

    for body in ["", r#"{"uid":"viewer-7"}"#] {
        let r = v.send(Method::POST, "/api/v1/token", body).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), "application/json");
        let json: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        let token = json["token"].as_str().expect("token");
        assert!(token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(json["expires_in"], 3600);
    }
    let bad = v.send(Method::POST, "/api/v1/token", "{not json").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let r = v.get("/api/v1/rooms/gala-42").await;
    assert_eq!(r.status, StatusCode::OK);
    let room: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(room["id"], "gala-42");
    assert_eq!(room["live"], true);
    assert_eq!(room["viewers"], 1);
    assert_eq!(room["hls"], "/hls/stream.m3u8");
    assert_eq!(room["chat"], "/chat?room=gala-42");
    assert!(room["title"].as_str().is_some_and(|t| !t.is_empty()));

    let health = v.get("/healthz").await;
    assert_eq!((health.status, health.text()), (StatusCode::OK, "ok"));
    assert_eq!(v.get("/nope").await.status, StatusCode::NOT_FOUND);

    // Everything above went over one keep-alive connection.
    let stats = server.stats();
    assert_eq!(stats.accepted_connections_total, 1);
    assert_eq!(stats.requests_total, 6);
    server.shutdown().await;
}

#[tokio::test]
async fn master_playlist_lists_three_renditions_that_resolve() {
    let server = EmbeddedServer::start(config(200)).await.expect("start");
    let mut v = Viewer::connect(server.addr).await;
    let master = v.get("/hls/stream.m3u8").await;
    assert_eq!(master.status, StatusCode::OK);
    assert_eq!(
        master.header("content-type"),
        "application/vnd.apple.mpegurl"
    );
    assert!(!master.header("cache-control").is_empty());
    let text = master.text().to_owned();
    assert!(text.starts_with("#EXTM3U\n"));
    assert_eq!(text.matches("#EXT-X-STREAM-INF:").count(), 3);
    let uris: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        uris,
        ["low/index.m3u8", "mid/index.m3u8", "high/index.m3u8"],
        "relative, so a signed /live/{{grant}}/hls/ master keeps its grant"
    );
    assert!(text.contains("BANDWIDTH=400000,") && text.contains("RESOLUTION=1920x1080"));
    for uri in uris {
        let media = v.get(&format!("/hls/{uri}")).await;
        assert_eq!(media.status, StatusCode::OK, "{uri}");
        assert!(media.text().contains("#EXT-X-TARGETDURATION:1"));
        assert_eq!(media.text().matches("seg-").count(), 6);
    }
    assert_eq!(
        v.get("/hls/ultra/index.m3u8").await.status,
        StatusCode::NOT_FOUND
    );
    server.shutdown().await;
}

#[tokio::test]
async fn media_sequence_advances_with_the_clock() {
    let server = EmbeddedServer::start(config(200)).await.expect("start");
    let mut v = Viewer::connect(server.addr).await;
    let first = media_sequence(v.get("/hls/low/index.m3u8").await.text());
    tokio::time::sleep(Duration::from_millis(450)).await;
    let later = v.get("/hls/low/index.m3u8").await;
    let second = media_sequence(later.text());
    assert!(second >= first + 2, "{first} -> {second}");
    assert!(later.text().contains(&format!("seg-{}.ts", second + 5)));
    assert!(later.text().contains("#EXTINF:0.200,"));
    server.shutdown().await;
}

#[tokio::test]
async fn segments_have_exact_size_and_future_ones_404() {
    let server = EmbeddedServer::start(config(200)).await.expect("start");
    let mut v = Viewer::connect(server.addr).await;
    let playlist = v.get("/hls/mid/index.m3u8").await;
    let newest = playlist
        .text()
        .lines()
        .rev()
        .find(|l| l.starts_with("seg-"))
        .expect("segment uri")
        .to_owned();
    let seg = v.get(&format!("/hls/mid/{newest}")).await;
    assert_eq!(seg.status, StatusCode::OK);
    assert_eq!(seg.header("content-type"), "video/mp2t");
    // 400 kbps × 3 (mid) × 0.2 s / 8 = 30 000 bytes.
    assert_eq!(seg.body.len(), 400 * 3 * 1000 * 200 / 1000 / 8);
    assert!(seg.body.chunks(188).all(|packet| packet[0] == 0x47));

    let msn: u64 = newest
        .trim_start_matches("seg-")
        .trim_end_matches(".ts")
        .parse()
        .expect("msn");
    let future = v.get(&format!("/hls/mid/seg-{}.ts", msn + 10)).await;
    assert_eq!(future.status, StatusCode::NOT_FOUND);
    assert_eq!(future.header("cache-control"), "no-cache");
    for bad in [
        "/hls/mid/seg-x.ts",
        "/hls/mid/seg-99999999999999999999999.ts",
        "/hls/mid/foo",
    ] {
        assert_eq!(v.get(bad).await.status, StatusCode::NOT_FOUND, "{bad}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn past_capacity_api_and_playlists_get_503() {
    let server = EmbeddedServer::start(StagingConfig {
        capacity: Some(3),
        ..config(200)
    })
    .await
    .expect("start");
    let mut viewers = Vec::new();
    for _ in 0..4 {
        viewers.push(Viewer::connect(server.addr).await);
    }
    wait_open(&server, 4).await;

    let over = viewers[0].get("/api/v1/rooms/r").await;
    assert_eq!(over.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(over.header("retry-after"), "1");
    assert_eq!(
        viewers[3].get("/hls/stream.m3u8").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Viewers admitted before the overload keep their segments; the newcomer doesn't.
    assert_eq!(
        viewers[0].get("/hls/low/seg-0.ts").await.status,
        StatusCode::OK
    );
    assert_eq!(
        viewers[3].get("/hls/low/seg-0.ts").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(viewers[3].get("/healthz").await.status, StatusCode::OK);
    assert_eq!(server.stats().rejected_503, 3);

    viewers.truncate(2);
    wait_open(&server, 2).await;
    assert_eq!(
        viewers[0].get("/api/v1/rooms/r").await.status,
        StatusCode::OK
    );
    assert_eq!(server.stats().peak_connections, 4);
    server.shutdown().await;
}

#[tokio::test]
async fn api_latency_grows_with_utilisation() {
    let server = EmbeddedServer::start(StagingConfig {
        capacity: Some(10),
        base_service_time: Duration::from_millis(5),
        ..config(200)
    })
    .await
    .expect("start");
    async fn median_ms(v: &mut Viewer) -> f64 {
        let mut samples = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            assert_eq!(v.get("/api/v1/rooms/r").await.status, StatusCode::OK);
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        samples.sort_by(f64::total_cmp);
        samples[2]
    }
    let mut probe = Viewer::connect(server.addr).await;
    wait_open(&server, 1).await;
    let low = median_ms(&mut probe).await; // u = 0.1 → ~5.6 ms
    let mut crowd = Vec::new();
    for _ in 0..9 {
        crowd.push(Viewer::connect(server.addr).await);
    }
    wait_open(&server, 10).await;
    let high = median_ms(&mut probe).await; // u clamps at 0.95 → ~100 ms
    assert!(high > 4.0 * low, "low {low:.1} ms, high {high:.1} ms");
    assert!(high >= 90.0, "high {high:.1} ms");
    server.shutdown().await;
}

#[tokio::test]
async fn chat_fans_out_within_a_room_only() {
    let server = EmbeddedServer::start(config(200)).await.expect("start");
    let ws = |room: &str| format!("ws://{}/chat?room={room}", server.addr);
    let (mut a, _) = tokio_tungstenite::connect_async(ws("gala"))
        .await
        .expect("a");
    let (mut b, _) = tokio_tungstenite::connect_async(ws("gala"))
        .await
        .expect("b");
    let (mut c, _) = tokio_tungstenite::connect_async(ws("other"))
        .await
        .expect("c");
    wait_open(&server, 3).await;

    a.send(Message::text("hello gala")).await.expect("send");
    for client in [&mut a, &mut b] {
        let got = tokio::time::timeout(Duration::from_secs(2), client.next())
            .await
            .expect("fan-out in time")
            .expect("open")
            .expect("message");
        assert_eq!(got, Message::text("hello gala"));
    }
    let stray = tokio::time::timeout(Duration::from_millis(300), c.next()).await;
    assert!(stray.is_err(), "other room received {stray:?}");

    let missing_room = Viewer::connect(server.addr).await.get("/chat").await;
    assert_eq!(missing_room.status, StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_is_prompt_and_closes_chat() {
    let server = EmbeddedServer::start(config(200)).await.expect("start");
    let addr = server.addr;
    let mut idle = Viewer::connect(addr).await;
    assert_eq!(idle.get("/healthz").await.status, StatusCode::OK);
    let (mut chat, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/chat?room=x"))
        .await
        .expect("ws");

    let t = Instant::now();
    server.shutdown().await;
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );

    match tokio::time::timeout(Duration::from_secs(1), chat.next()).await {
        Ok(Some(Ok(Message::Close(Some(frame))))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

#[tokio::test]
async fn serve_stops_on_its_shutdown_future() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, config(200), async move {
        let _ = stopped.await;
    }));
    let mut v = Viewer::connect(addr).await;
    assert_eq!(v.get("/hls/stream.m3u8").await.status, StatusCode::OK);
    let t = Instant::now();
    let _ = stop.send(());
    let result = tokio::time::timeout(Duration::from_millis(1500), task)
        .await
        .expect("serve returned in time")
        .expect("no panic");
    assert!(result.is_ok());
    assert!(t.elapsed() < Duration::from_millis(1500));
}
