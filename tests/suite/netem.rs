//! Network emulation measured end to end: `protocol::http::Session` against the embedded
//! staging server, with per-region profiles from `ClientConfig::with_network`, asserted on the
//! figures a run would report. Where the test runs as root with `ip` and `tc` (and the kernel
//! has `sch_netem`), one profile is also compared against Linux `tc netem` on a veth pair
//! between two namespaces.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http::Method;
use peakready::protocol::http::{ClientConfig, Origin, Session};
use peakready::scenario::{preset, NetworkProfile};
use peakready::staging::{EmbeddedServer, StagingConfig};

/// The live edge at server start (window 6 → segments 0..=5); it stays downloadable for the
/// next 30 segments (60 s), far longer than any test here.
const MID_SEGMENT: &str = "/hls/mid/seg-5.ts";
const LOW_SEGMENT: &str = "/hls/low/seg-5.ts";

fn net(rtt: f64, jitter: f64, loss: f64, down: u64, up: u64) -> Option<NetworkProfile> {
    Some(NetworkProfile {
        preset: None,
        rtt_ms: rtt,
        jitter_ms: jitter,
        loss_pct: loss,
        down_kbps: down,
        up_kbps: up,
        origin_rtt_ms: 0.0,
    })
}

fn base_config() -> Arc<ClientConfig> {
    ClientConfig::new(Duration::from_secs(20), false, &[]).expect("client config")
}

fn origin(base: &str) -> Origin {
    Origin::from_url(&url::Url::parse(base).expect("url")).expect("origin")
}

/// p50 and p99 in ms through an HdrHistogram (µs, 3 digits), as the recorder computes them.
fn quantiles(samples: &[Duration]) -> (f64, f64) {
    let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("histogram");
    for s in samples {
        h.saturating_record(s.as_micros().max(1) as u64);
    }
    let q = |p| h.value_at_quantile(p) as f64 / 1e3;
    (q(0.5), q(0.99))
}

/// Opens `n` fresh connections, `wave` at a time (each a new viewer's first request), and
/// returns their TCP connect times. Waves keep the figures about the path, not about how fast
/// two test CPUs can wake dozens of tasks at once.
async fn connect_times(
    base: &str,
    cfg: &Arc<ClientConfig>,
    n: usize,
    wave: usize,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let k = wave.min(n - out.len());
        out.extend(connect_wave(base, cfg, k).await);
    }
    out
}

async fn connect_wave(base: &str, cfg: &Arc<ClientConfig>, n: usize) -> Vec<Duration> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let mut s = Session::new(origin(base), cfg.clone(), None);
            tokio::spawn(async move {
                let (timings, resp) = s
                    .request(Method::GET, "/healthz", None, false)
                    .await
                    .expect("healthz");
                assert_eq!(resp.status, 200);
                timings.expect("first request connects").connect
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.expect("join"));
    }
    out
}

/// `sessions` viewers each download `path` `per_session` times in a row on their keep-alive
/// connection; returns (bytes, total time) of every download.
async fn downloads(
    base: &str,
    cfg: &Arc<ClientConfig>,
    path: &'static str,
    sessions: usize,
    per_session: usize,
) -> Vec<(u64, Duration)> {
    let tasks: Vec<_> = (0..sessions)
        .map(|_| {
            let mut s = Session::new(origin(base), cfg.clone(), None);
            tokio::spawn(async move {
                let mut out = Vec::with_capacity(per_session);
                for _ in 0..per_session {
                    let (_, resp) = s
                        .request(Method::GET, path, None, false)
                        .await
                        .expect("segment");
                    assert_eq!(resp.status, 200, "{path}");
                    out.push((resp.body_len, resp.total));
                }
                out
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.extend(t.await.expect("join"));
    }
    out
}

fn assert_within(measured: f64, want: f64, tolerance: f64, what: &str) {
    let (lo, hi) = (want * (1.0 - tolerance), want * (1.0 + tolerance));
    assert!(
        (lo..=hi).contains(&measured),
        "{what}: measured {measured:.1}, want {want} ± {:.0}%",
        tolerance * 100.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_ms_tracks_the_region_rtt_and_stays_fast_without_a_profile() {
    let server = EmbeddedServer::start(StagingConfig::default())
        .await
        .expect("server");
    let base = server.base_url();
    let bare = base_config();
    let emulated = bare.with_network(net(100.0, 0.0, 0.0, 0, 0), 1);
    assert!(bare.network().is_none() && emulated.network().is_some());

    let (p50_rtt, _) = quantiles(&connect_times(&base, &emulated, 30, 10).await);
    let (p50_bare, p99_bare) = quantiles(&connect_times(&base, &bare, 30, 1).await);
    eprintln!("connect_ms p50: rtt_ms 100 → {p50_rtt:.2} ms; no profile → {p50_bare:.3} ms (p99 {p99_bare:.3})");
    assert_within(p50_rtt, 100.0, 0.15, "connect_ms p50 at rtt_ms 100");
    assert!(p50_bare < 5.0, "no profile: connect p50 {p50_bare} ms");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_2000_kbps_region_downloads_segments_at_2000_kbps() {
    let server = EmbeddedServer::start(StagingConfig::default())
        .await
        .expect("server");
    let cfg = base_config().with_network(net(0.0, 0.0, 0.0, 2000, 0), 2);
    let got = downloads(&server.base_url(), &cfg, MID_SEGMENT, 2, 2).await;
    let bytes: u64 = got.iter().map(|(b, _)| b).sum();
    let secs: f64 = got.iter().map(|(_, t)| t.as_secs_f64()).sum();
    let kbps = bytes as f64 * 8.0 / secs / 1e3;
    eprintln!(
        "down_kbps 2000: {} segments of {} B, {kbps:.0} kbit/s",
        got.len(),
        got[0].0
    );
    // 1200 kbit/s × 2 s ÷ 8 = 300 000 B per `mid` segment.
    assert!(got.iter().all(|(b, _)| *b == 300_000), "{got:?}");
    assert_within(kbps, 2000.0, 0.15, "segment download rate (kbit/s)");
}

#[tokio::test(flavor = "multi_thread")]
async fn loss_gives_a_heavier_segment_tail_than_the_same_profile_without() {
    let server = EmbeddedServer::start(StagingConfig::default())
        .await
        .expect("server");
    let base = server.base_url();
    let clean = base_config().with_network(net(40.0, 0.0, 0.0, 8000, 4000), 3);
    let lossy = base_config().with_network(net(40.0, 0.0, 5.0, 8000, 4000), 3);
    // 8 viewers × 5 segments = 40 downloads per profile, both profiles at once.
    let (a, b) = tokio::join!(
        downloads(&base, &clean, LOW_SEGMENT, 8, 5),
        downloads(&base, &lossy, LOW_SEGMENT, 8, 5),
    );
    let times = |v: &[(u64, Duration)]| v.iter().map(|(_, t)| *t).collect::<Vec<_>>();
    let (c50, c99) = quantiles(&times(&a));
    let (l50, l99) = quantiles(&times(&b));
    eprintln!(
        "segment_ms (100 kB, 8000 kbit/s, rtt 40): no loss p50 {c50:.1} p99 {c99:.1} (tail {:.1}); \
         5% loss p50 {l50:.1} p99 {l99:.1} (tail {:.1})",
        c99 - c50,
        l99 - l50
    );
    assert_eq!((a.len(), b.len()), (40, 40));
    // Without loss every download is the same ~120 ms; a retransmission costs RTT + 200 ms.
    assert!(
        l99 - l50 > (c99 - c50) + 50.0,
        "loss tail {:.1} ms vs clean tail {:.1} ms",
        l99 - l50,
        c99 - c50
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_regions_with_different_profiles_are_measured_separately() {
    let server = EmbeddedServer::start(StagingConfig::default())
        .await
        .expect("server");
    let base = server.base_url();
    // Europe on good LTE (70 ms, 12 Mbit/s); Jakarta on slow 4G to a us-east origin.
    let europe = base_config().with_network(preset("lte-good"), 4);
    let mut jakarta = preset("4g-slow").expect("preset");
    jakarta.origin_rtt_ms = 217.0;
    let jakarta = base_config().with_network(Some(jakarta), 5);
    let (eu_c, jk_c, eu_s, jk_s) = tokio::join!(
        connect_times(&base, &europe, 20, 5),
        connect_times(&base, &jakarta, 20, 10),
        downloads(&base, &europe, LOW_SEGMENT, 2, 2),
        downloads(&base, &jakarta, LOW_SEGMENT, 2, 1),
    );
    let (eu50, _) = quantiles(&eu_c);
    let (jk50, _) = quantiles(&jk_c);
    let seg = |v: &[(u64, Duration)]| quantiles(&v.iter().map(|(_, t)| *t).collect::<Vec<_>>()).0;
    let (eu_seg, jk_seg) = (seg(&eu_s), seg(&jk_s));
    eprintln!(
        "two regions: connect p50 eu {eu50:.1} ms, jakarta {jk50:.1} ms; \
         100 kB segment p50 eu {eu_seg:.1} ms, jakarta {jk_seg:.1} ms"
    );
    assert_within(eu50, 70.0, 0.15, "eu connect p50");
    assert_within(jk50, 367.0, 0.15, "jakarta connect p50 (150 + 217 origin)");
    // eu: 1 RTT (70 ms) + 102 760 B × 8 ÷ 12 000 kbit/s (69 ms) ≈ 139 ms.
    assert_within(eu_seg, 139.0, 0.15, "eu segment p50");
    // jakarta: 1 RTT (367 ms) + 102 760 B × 8 ÷ 1600 kbit/s (514 ms) ≈ 881 ms.
    assert_within(jk_seg, 881.0, 0.15, "jakarta segment p50");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_profile_costs_nothing_measurable() {
    let server = EmbeddedServer::start(StagingConfig::default())
        .await
        .expect("server");
    let base = server.base_url();
    let bare = base_config();
    let none = bare.with_network(None, 0);
    // 10 Gbit/s and nothing else: the wrapper is on the path but shapes nothing measurable, so
    // this prices the wrapper itself.
    let wrapper_only = bare.with_network(net(0.0, 0.0, 0.0, 10_000_000, 10_000_000), 0);
    let mut medians = Vec::new();
    for cfg in [&bare, &none, &wrapper_only, &bare, &none] {
        let got = downloads(&base, cfg, "/healthz", 1, 300).await;
        medians.push(quantiles(&got.iter().map(|(_, t)| *t).collect::<Vec<_>>()).0);
    }
    eprintln!(
        "request p50 over 300 keep-alive /healthz (µs): bare {:.0}/{:.0}, with_network(None) {:.0}/{:.0}, \
         wrapper at 10 Gbit/s {:.0}",
        medians[0] * 1e3,
        medians[3] * 1e3,
        medians[1] * 1e3,
        medians[4] * 1e3,
        medians[2] * 1e3
    );
    // with_network(None) is the same code as no config at all; allow for scheduling noise.
    let bare_best = medians[0].min(medians[3]);
    let none_best = medians[1].min(medians[4]);
    assert!(
        none_best < bare_best * 1.5 + 0.05,
        "no profile {none_best:.3} ms vs bare {bare_best:.3} ms"
    );
}

/// A throwaway self-signed P-256 certificate for `localhost` / 127.0.0.1 (test only).
const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUeZ8st7bFTnjKQcEJGMNun+IflDIwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzExMzA0OFoYDzIxMjYxMDMw
MTEzMDQ4WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASVlOkk1RSh8/j6nKOuJUybz8iQ5f+p34upIw0EzTrdSgM9F+lgLYwF
A+ikYL6WgHtc8bY+XMpLkYaPSARZHIqwo28wbTAdBgNVHQ4EFgQUBSI+7xDrAtQB
PWdLdY+6PA33AWYwHwYDVR0jBBgwFoAUBSI+7xDrAtQBPWdLdY+6PA33AWYwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIgOw3vJmgwZ3Gcp9MIljQd5ntNYcNtinJgiU1hBjLfEiYCIQCn
iCpxRAqplJ6Zx5mRNpxYLNy/pOM1frXdE4qza/7Myw==
-----END CERTIFICATE-----
";
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIrEkhuDlMCe0Y+su
7vvC38xQgooQByk1I4lSrg2npo2hRANCAASVlOkk1RSh8/j6nKOuJUybz8iQ5f+p
34upIw0EzTrdSgM9F+lgLYwFA+ikYL6WgHtc8bY+XMpLkYaPSARZHIqw
-----END PRIVATE KEY-----
";

/// An HTTPS server answering every request with the length of its body (the embedded server speaks plain HTTP).
async fn tls_server() -> std::net::SocketAddr {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(TEST_CERT.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("cert");
    let key = PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // Answers with the number of request-body bytes it received, after reading
                // them all: a request whose tail never left the client never gets an answer.
                let service = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        use http_body_util::BodyExt;
                        let len = match req.into_body().collect().await {
                            Ok(body) => body.to_bytes().len(),
                            Err(_) => 0,
                        };
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from(len.to_string())),
                        ))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_pays_its_round_trip_through_the_emulated_path() {
    let addr = tls_server().await;
    let base = format!("https://{addr}");
    let cfg = ClientConfig::new(Duration::from_secs(20), true, &[])
        .expect("config")
        .with_network(net(100.0, 0.0, 0.0, 0, 0), 6);
    let (mut connect, mut tls, mut ttfb, mut reused) = (vec![], vec![], vec![], vec![]);
    for _ in 0..5 {
        let mut s = Session::new(origin(&base), cfg.clone(), None);
        let (t, first) = s
            .request(Method::GET, "/", None, false)
            .await
            .expect("https");
        let t = t.expect("connected");
        connect.push(t.connect);
        tls.push(t.tls.expect("tls timed"));
        ttfb.push(first.ttfb);
        let (again, second) = s
            .request(Method::GET, "/", None, false)
            .await
            .expect("reuse");
        assert!(again.is_none(), "keep-alive reused");
        reused.push(second.ttfb);
    }
    let p50 = |v: &[Duration]| quantiles(v).0;
    eprintln!(
        "https at rtt 100: connect p50 {:.1} ms, tls p50 {:.1} ms, ttfb p50 {:.1} ms (reused {:.1})",
        p50(&connect),
        p50(&tls),
        p50(&ttfb),
        p50(&reused)
    );
    assert_within(p50(&connect), 100.0, 0.15, "connect p50");
    // TLS 1.3: ClientHello → ServerHello…Finished is one round trip.
    assert_within(p50(&tls), 100.0, 0.15, "tls p50");
    assert_within(p50(&ttfb), 100.0, 0.15, "ttfb p50");
    assert_within(p50(&reused), 100.0, 0.15, "reused ttfb p50");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_https_upload_is_sent_whole() {
    // rustls may still hold encrypted bytes when `write_all` returns; only a flush sends them.
    // A 4 MiB body is far beyond the socket buffers, so an unflushed tail would hang here.
    let addr = tls_server().await;
    let base = format!("https://{addr}");
    let cfg = ClientConfig::new(Duration::from_secs(20), true, &[]).expect("config");
    let mut s = Session::new(origin(&base), cfg, None);
    let body = bytes::Bytes::from(vec![b'x'; 4 << 20]);
    for _ in 0..2 {
        let (_, resp) = s
            .request(Method::POST, "/upload", Some(body.clone()), true)
            .await
            .expect("https upload");
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.body.as_deref(),
            Some((4u32 << 20).to_string().as_bytes())
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_sessions_are_resumed_only_when_asked() {
    // A join storm of new devices makes full handshakes; `target.tls.resume` models returning
    // apps. rustls' own default (a shared session cache) would resume silently: it must not.
    let addr = tls_server().await;
    let base = format!("https://{addr}");
    let new_config = || {
        ClientConfig::new(Duration::from_secs(20), true, &[])
            .expect("config")
            .closing_connections()
    };
    let fresh = new_config();
    let resuming = new_config()
        .resuming_tls_sessions()
        .expect("resuming config");
    for (cfg, resume) in [(fresh, false), (resuming, true)] {
        let mut s = Session::new(origin(&base), cfg.clone(), None);
        for _ in 0..6 {
            let (t, resp) = s
                .request(Method::GET, "/", None, false)
                .await
                .expect("https");
            assert!(t.and_then(|t| t.tls).is_some(), "a new TLS connection each");
            assert_eq!(resp.status, 200);
        }
        let (full, resumed) = cfg.handshakes().get();
        assert_eq!(full + resumed, 6);
        if resume {
            assert!(resumed >= 4, "resume: {full} full, {resumed} resumed");
        } else {
            assert_eq!(resumed, 0, "no resumption unless asked: {full} full");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_says_how_many_tls_handshakes_resumed() {
    let addr = tls_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    for resume in [false, true] {
        let yaml = format!(
            "name: tls-resume\ntarget:\n  base_url: https://{addr}\n  allow_hosts: [127.0.0.1]\n  \
             insecure_tls: true\n  tls: {{ resume: {resume} }}\n  timeout: 5s\nregions:\n  - {{ name: lo, weight: 1 }}\n\
             load:\n  max_viewers: 100\n  max_joins_per_sec: 50\n  phases:\n    - {{ name: joins, duration: 1s, joins_per_sec: 20 }}\n\
             viewer:\n  join:\n    - {{ name: ok, method: GET, path: /ok }}\n  watch:\n    protocol: none\n    duration: 100ms\n"
        );
        let path = dir.path().join(format!("tls-{resume}.yaml"));
        std::fs::write(&path, yaml).expect("scenario");
        let out_dir = dir.path().join(format!("out-{resume}"));
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_peakready"))
            .env("CI", "1")
            .arg("run")
            .arg(&path)
            .arg("--quiet")
            .arg("--out")
            .arg(&out_dir)
            .output()
            .await
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(out_dir.join("results.json")).expect("results.json");
        let r: serde_json::Value = serde_json::from_str(&text).expect("json");
        let tls_count = r["overall"]["metrics"]["tls_ms"]["count"]
            .as_u64()
            .expect("tls_ms");
        assert_eq!(tls_count, 20, "every join timed its handshake");
        let notice = r["notices"]
            .as_array()
            .and_then(|n| {
                n.iter()
                    .filter_map(|n| n.as_str())
                    .find(|n| n.starts_with("TLS:"))
            })
            .unwrap_or_else(|| panic!("no TLS notice: {}", r["notices"]))
            .to_string();
        if resume {
            let resumed: u64 = notice
                .split("quick --tls-resume): ")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{notice}"));
            assert!(resumed >= 15, "{notice}");
        } else {
            assert!(
                notice.contains("20 full handshakes, none resumed"),
                "{notice}"
            );
        }
    }
}

#[path = "netem_tc.rs"]
mod tc;
