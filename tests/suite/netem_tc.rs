//! Where the test runs as root with `ip` and `tc` (and a kernel with `sch_netem`): the same
//! profile in the kernel, `tc netem delay 50ms` on both ends of a veth pair between two
//! namespaces we create (RTT 100 ms), `peakready serve` in one, the client in the other,
//! compared with `rtt_ms: 100` in process. Skips loudly otherwise; always cleans up.

use super::*;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};

const NS_CLIENT: &str = "prnetemA";
const NS_SERVER: &str = "prnetemB";
const SERVER: &str = "10.213.7.2:18487";

/// Deletes both namespaces (which removes the veth pair and its qdiscs) and stops the
/// server we started, however the test ends.
struct Lab {
    server: Option<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(child) = self.server.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [NS_CLIENT, NS_SERVER] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn setup(lab: &mut Lab) -> Result<(), String> {
    for cmd in [
        &["ip", "netns", "add", NS_CLIENT][..],
        &["ip", "netns", "add", NS_SERVER],
        &[
            "ip", "link", "add", "prveA", "netns", NS_CLIENT, "type", "veth", "peer", "name",
            "prveB", "netns", NS_SERVER,
        ],
        &[
            "ip",
            "-n",
            NS_CLIENT,
            "addr",
            "add",
            "10.213.7.1/24",
            "dev",
            "prveA",
        ],
        &[
            "ip",
            "-n",
            NS_SERVER,
            "addr",
            "add",
            "10.213.7.2/24",
            "dev",
            "prveB",
        ],
        &["ip", "-n", NS_CLIENT, "link", "set", "prveA", "up"],
        &["ip", "-n", NS_SERVER, "link", "set", "prveB", "up"],
        &["ip", "-n", NS_CLIENT, "link", "set", "lo", "up"],
        &["ip", "-n", NS_SERVER, "link", "set", "lo", "up"],
        // One-way 50 ms on each egress: RTT 100 ms, as `rtt_ms: 100`.
        &[
            "ip", "netns", "exec", NS_CLIENT, "tc", "qdisc", "add", "dev", "prveA", "root",
            "netem", "delay", "50ms",
        ],
        &[
            "ip", "netns", "exec", NS_SERVER, "tc", "qdisc", "add", "dev", "prveB", "root",
            "netem", "delay", "50ms",
        ],
    ] {
        sh(cmd)?;
    }
    let child = Command::new("ip")
        .args(["netns", "exec", NS_SERVER, env!("CARGO_BIN_EXE_peakready")])
        .args(["serve", "--listen", SERVER])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting peakready serve: {e}"))?;
    lab.server = Some(child);
    Ok(())
}

/// Connect times measured from inside the client namespace: a thread of our own joins it
/// (setns affects only the calling thread) and runs a one-thread runtime there.
fn connect_times_in_client_ns(n: usize) -> Result<Vec<Duration>, String> {
    std::thread::spawn(move || {
        let ns = std::fs::File::open(format!("/run/netns/{NS_CLIENT}"))
            .map_err(|e| format!("opening netns: {e}"))?;
        // SAFETY: plain syscall on a valid fd; changes only this thread's namespace.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns: {}", std::io::Error::last_os_error()));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let base = format!("http://{SERVER}");
            let cfg = base_config();
            // The server needs a moment to bind.
            let ready = Instant::now();
            loop {
                let mut s = Session::new(origin(&base), cfg.clone(), None);
                match s.request(Method::GET, "/healthz", None, false).await {
                    Ok(_) => break,
                    Err(e) if ready.elapsed() > Duration::from_secs(10) => {
                        return Err(format!("server in {NS_SERVER} never answered: {e}"))
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let mut s = Session::new(origin(&base), cfg.clone(), None);
                let (t, _) = s
                    .request(Method::GET, "/healthz", None, false)
                    .await
                    .map_err(|e| e.to_string())?;
                out.push(t.ok_or("no connect timings")?.connect);
            }
            Ok(out)
        })
    })
    .join()
    .map_err(|_| "client thread panicked".to_string())?
}

#[tokio::test(flavor = "multi_thread")]
async fn in_process_emulation_matches_tc_netem_on_a_veth_pair() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED tc netem comparison: not root");
        return;
    }
    for tool in ["ip", "tc"] {
        if Command::new(tool).arg("-V").output().is_err() {
            eprintln!("SKIPPED tc netem comparison: `{tool}` not installed");
            return;
        }
    }
    // Leftovers of a run that was killed before its cleanup.
    drop(Lab { server: None });
    let mut lab = Lab { server: None };
    if let Err(e) = setup(&mut lab) {
        eprintln!("SKIPPED tc netem comparison: setup failed ({e})");
        return;
    }
    let kernel = tokio::task::spawn_blocking(|| connect_times_in_client_ns(20))
        .await
        .expect("join")
        .expect("measure through tc netem");
    drop(lab);

    let server = EmbeddedServer::start(StagingConfig::default())
        .await
        .expect("server");
    let cfg = base_config().with_network(net(100.0, 0.0, 0.0, 0, 0), 9);
    let ours = connect_times(&server.base_url(), &cfg, 20, 5).await;
    let (k50, _) = quantiles(&kernel);
    let (o50, _) = quantiles(&ours);
    eprintln!("connect_ms p50 at RTT 100 ms: tc netem {k50:.2} ms, peakready netem {o50:.2} ms");
    assert_within(k50, 100.0, 0.15, "tc netem connect p50");
    assert_within(o50, 100.0, 0.15, "peakready connect p50");
}
