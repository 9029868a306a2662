//! A server that misbehaves on purpose, in the test process: each [`Behaviour`] is one way a
//! failing target treats a client. Threads per connection, every loop ends when the client
//! goes away or the server is dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Accept and never answer.
    Stall,
    /// Accept, read the request, then reset (RST) the connection.
    Reset,
    /// A valid response sent one byte every 300 ms.
    Slowloris,
    /// Every request answered 503.
    ServerErrors,
    /// Bytes that are not HTTP at all.
    Garbage,
    /// `200` with a chunked body that never ends.
    EndlessChunked,
    /// `200` announcing a 1 TB body, then a slow trickle.
    HugeContentLength,
    /// A live playlist listing this many segments.
    HugePlaylist(usize),
    /// Every request answered `302` pointing at the same path.
    RedirectLoop,
    /// Half the requests answered 200, half 500 (alternating per connection request).
    HalfFailing,
    /// A WebSocket upgrade answered `200 OK` with an HTML page.
    NeverUpgrades,
}

/// A listening server; stops accepting (and lets its connections end) when dropped.
pub struct Hostile {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Hostile {
    pub fn start(behaviour: Behaviour) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let stopping = stopping.clone();
                thread::spawn(move || serve(conn, behaviour, &stopping));
            }
        });
        Hostile { port, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A port nothing listens on (bound, then closed).
pub fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Reads one request head; `None` when the client went away.
fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut byte).ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn serve(mut conn: TcpStream, behaviour: Behaviour, stop: &AtomicBool) {
    let _ = conn.set_nodelay(true);
    let mut served = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        if let Behaviour::Stall = behaviour {
            // Never answer; hold the socket until the client closes it.
            let mut sink = [0u8; 4096];
            while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
            return;
        }
        let Some(head) = read_head(&mut conn) else {
            return;
        };
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        served += 1;
        let keep = match behaviour {
            Behaviour::Stall => false,
            Behaviour::Reset => {
                reset(&conn);
                false
            }
            Behaviour::Slowloris => {
                let body = "#EXTM3U\n";
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                for b in resp.bytes() {
                    if conn.write_all(&[b]).is_err() || stop.load(Ordering::Relaxed) {
                        return;
                    }
                    thread::sleep(Duration::from_millis(300));
                }
                true
            }
            Behaviour::ServerErrors => respond(&mut conn, "503 Service Unavailable", &[], b"busy"),
            Behaviour::Garbage => {
                let _ = conn.write_all(b"\x16\x03\x01\x00garbage \x00\xff not http\r\n\r\n");
                false
            }
            Behaviour::EndlessChunked => {
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
                while !stop.load(Ordering::Relaxed) && conn.write_all(chunk.as_bytes()).is_ok() {}
                false
            }
            Behaviour::HugeContentLength => {
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n");
                let block = vec![b'#'; 64 * 1024];
                while !stop.load(Ordering::Relaxed) && conn.write_all(&block).is_ok() {}
                false
            }
            Behaviour::HugePlaylist(n) => {
                let mut body = String::from(
                    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n",
                );
                if path.ends_with(".m3u8") {
                    for i in 0..n {
                        body.push_str(&format!("#EXTINF:2.0,\nseg{i}.ts\n"));
                    }
                    respond(
                        &mut conn,
                        "200 OK",
                        &["Content-Type: application/vnd.apple.mpegurl"],
                        body.as_bytes(),
                    )
                } else {
                    respond(&mut conn, "200 OK", &[], &[0u8; 1000])
                }
            }
            Behaviour::RedirectLoop => {
                let location = format!("Location: {path}");
                respond(&mut conn, "302 Found", &[&location], b"")
            }
            Behaviour::HalfFailing => {
                if served % 2 == 0 {
                    respond(&mut conn, "500 Internal Server Error", &[], b"no")
                } else {
                    respond(&mut conn, "200 OK", &[], b"ok")
                }
            }
            Behaviour::NeverUpgrades => respond(
                &mut conn,
                "200 OK",
                &["Content-Type: text/html"],
                b"<html>no websockets here</html>",
            ),
        };
        if !keep {
            return;
        }
    }
}

fn respond(conn: &mut TcpStream, status: &str, headers: &[&str], body: &[u8]) -> bool {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).is_ok() && conn.write_all(body).is_ok()
}

/// Closes with RST instead of FIN (SO_LINGER 0).
fn reset(conn: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}
