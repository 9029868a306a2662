//! The DNS and TCP phases of opening a connection, each timed and bounded by the timeout.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout, Instant};

use super::{ports, Origin, RequestError};
use crate::metrics::ErrorKind;

pub(super) async fn resolve(
    origin: &Origin,
    source: Option<IpAddr>,
    limit: Duration,
) -> Result<(SocketAddr, Option<Duration>), RequestError> {
    if let Some(ip) = origin.ip {
        return Ok((SocketAddr::new(ip, origin.port), None));
    }
    let start = Instant::now();
    let _on_the_blocking_pool = crate::metrics::runtime::DnsLookup::begin();
    let lookup = tokio::net::lookup_host((&*origin.host, origin.port));
    let mut addrs = timeout(limit, lookup)
        .await
        .map_err(|_| RequestError::timed_out("DNS lookup"))?
        .map_err(|e| {
            RequestError::new(
                ErrorKind::Dns,
                format!("DNS lookup of {}: {e}", origin.host),
            )
        })?;
    // With a source address, only a target of the same family can be reached from it. Without
    // one we take the resolver's first answer, as a simple client would (no happy eyeballs).
    let addr = addrs
        .find(|a| match source {
            Some(s) => s.is_ipv4() == a.is_ipv4(),
            None => true,
        })
        .ok_or_else(|| {
            RequestError::new(
                ErrorKind::Dns,
                format!("DNS lookup of {}: no usable address", origin.host),
            )
        })?;
    Ok((addr, Some(start.elapsed())))
}

/// Connects, then waits `emulated_handshake` (zero without a network profile): the real
/// handshake ran on a fast path, and SYN → SYN-ACK on the emulated one costs one RTT. The wait
/// is part of the timed connect and of its timeout, as a slow handshake would be.
pub(super) async fn connect_tcp(
    addr: SocketAddr,
    source: Option<IpAddr>,
    limit: Duration,
    emulated_handshake: Duration,
) -> Result<(TcpStream, Duration), RequestError> {
    if let Some(src) = source {
        if src.is_ipv4() != addr.is_ipv4() {
            return Err(RequestError::new(
                ErrorKind::Other,
                format!("source address {src} cannot reach {addr} (address family differs)"),
            ));
        }
    }
    let start = Instant::now();
    let connect = async {
        let stream = connect_in_a_port_window(addr, source).await?;
        if !emulated_handshake.is_zero() {
            tokio::time::sleep(emulated_handshake).await;
        }
        Ok::<_, RequestError>(stream)
    };
    let stream = timeout(limit, connect)
        .await
        .map_err(|_| RequestError::timed_out("TCP connect"))??;
    Ok((stream, start.elapsed()))
}

/// Connects from the next window of source ports ([`ports`]); a window with no free port for
/// this destination is refused at once (`EADDRNOTAVAIL`), so the next one is tried, and after
/// [`ports::ATTEMPTS`] the kernel searches the whole range as it would without windows.
async fn connect_in_a_port_window(
    addr: SocketAddr,
    source: Option<IpAddr>,
) -> Result<TcpStream, RequestError> {
    let mut attempt = 0;
    loop {
        let windowed = attempt < ports::ATTEMPTS;
        let socket = new_socket(addr, source, windowed)?;
        match socket.connect(addr).await {
            Err(e) if windowed && e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => attempt += 1,
            result => return result.map_err(|e| RequestError::from_io(&e, "TCP connect")),
        }
    }
}

fn new_socket(
    addr: SocketAddr,
    source: Option<IpAddr>,
    port_window: bool,
) -> Result<TcpSocket, RequestError> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| RequestError::from_io(&e, "creating socket"))?;
    // Requests are small and latency-bound; Nagle would add up to one RTT to every one.
    socket
        .set_nodelay(true)
        .map_err(|e| RequestError::from_io(&e, "setting TCP_NODELAY"))?;
    if port_window && addr.is_ipv4() {
        ports::narrow(&socket);
    }
    if let Some(src) = source {
        defer_port_choice(&socket);
        socket
            .bind(SocketAddr::new(src, 0))
            .map_err(|e| RequestError::from_io(&e, "binding source address"))?;
    }
    Ok(socket)
}

/// Lets the kernel pick the source port at `connect`, not at `bind`. A port chosen at `bind`
/// must be unique for the address alone, so one source address holds at most one
/// ephemeral-port range of connections *in total*; chosen at `connect` it only has to be unique
/// per destination, and TIME_WAIT ports can be reused for loopback targets. Best effort: on
/// failure (old kernel, IPv6-only quirks) the bind still works, just with the stricter rule.
#[cfg(target_os = "linux")]
fn defer_port_choice(socket: &TcpSocket) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket fd owned by `socket`, and a correctly sized c_int option value.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            std::ptr::addr_of!(one).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn defer_port_choice(_socket: &TcpSocket) {}
