//! Throughput smoke check of the embedded staging server (ignored by default; the client
//! shares the process and cores, so the numbers are a lower bound):
//! `cargo test --release --test staging_throughput -- --ignored --nocapture`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use peakready::staging::{EmbeddedServer, StagingConfig};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 64;
const RUN_FOR: Duration = Duration::from_secs(2);

async fn hammer(server: &EmbeddedServer, path: &'static str) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + RUN_FOR;
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let addr = server.addr;
        let done = Arc::clone(&done);
        tasks.push(tokio::spawn(async move {
            let tcp = TcpStream::connect(addr).await.expect("connect");
            let _ = tcp.set_nodelay(true);
            let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            while Instant::now() < deadline {
                let req = Request::get(path)
                    .header("host", addr.to_string())
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let resp = tx.send_request(req).await.expect("response");
                assert!(resp.status().is_success(), "{path}: {}", resp.status());
                resp.into_body().collect().await.expect("body");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    for t in tasks {
        t.await.expect("client task");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly in release mode"]
async fn requests_per_second() {
    let server = EmbeddedServer::start(StagingConfig::default())
        .await
        .expect("start");
    for path in [
        "/healthz",
        "/hls/low/index.m3u8",
        "/hls/low/seg-0.ts",
        "/api/v1/rooms/r",
    ] {
        let rps = hammer(&server, path).await;
        println!("{path:<24} {rps:>10.0} req/s over {CONNECTIONS} keep-alive connections");
    }
    println!("{:?}", server.stats());
    server.shutdown().await;
}
