//! Source-port windows for outgoing connects, so that opening a connection costs the same with
//! 100 or 18,000 of them open.
//!
//! Why: Linux's `connect()` picks an ephemeral port by walking the range from a random offset,
//! the even ports first, and checks each candidate against every established connection. With
//! thousands of connections from one source address to one target address (every loopback
//! benchmark, and any generator behind one IP facing one VIP), the even half of the default range
//! (32768–60999: ~14,100 ports) is full at ~14,000 connections, and from then on every connect
//! walks all of it under the port-table locks. Measured with `benches/scale.sh viewers` (18,000
//! HLS viewers at 1,000 joins/s against nginx): from 14,000 viewers `__inet_hash_connect` and
//! `__inet_check_established` took 80 % of the generator's CPU (`perf record -g -p`), one
//! connect took ~1.5 ms of a runtime thread, and joins started up to 2.5 s late.
//!
//! `IP_LOCAL_PORT_RANGE` (Linux ≥ 6.3) narrows the range one socket's connect searches. Each
//! connect gets the next window of [`WINDOW`] ports, going round the system's range, so the
//! kernel's walk is bounded by the window while the kernel still does everything else it does
//! for a port (uniqueness per destination, reserved ports, TIME_WAIT reuse). A full window is
//! answered by the caller with the next window ([`ATTEMPTS`]), then with the whole range. On an
//! older kernel the option is refused once and never tried again: connects behave as before.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;

use tokio::net::TcpSocket;

/// Ports per window. The kernel walks at most this many per connect; at 18,000 connections in
/// the default 28,232-port range a window still has ~23 free ports on average.
pub(super) const WINDOW: u32 = 64;

/// Windows tried before a connect falls back to the kernel's search of the whole range.
pub(super) const ATTEMPTS: u32 = 4;

/// `include/uapi/linux/in.h`; not in the `libc` crate yet.
#[cfg(target_os = "linux")]
const IP_LOCAL_PORT_RANGE: libc::c_int = 51;

/// The system's ephemeral range as (first port, number of ports).
fn system_range() -> (u32, u32) {
    static RANGE: OnceLock<(u32, u32)> = OnceLock::new();
    *RANGE.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|text| parse_range(&text))
            .unwrap_or((32768, 60999 - 32768 + 1))
    })
}

fn parse_range(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split_whitespace().map(str::parse::<u32>);
    let (lo, hi) = (parts.next()?.ok()?, parts.next()?.ok()?);
    (lo >= 1 && hi <= 65535 && hi >= lo).then(|| (lo, hi - lo + 1))
}

/// The window for the `n`th connect: `WINDOW` ports of the range, going round it. `None` when
/// the range is too small to split.
pub(super) fn window(n: u32, (lo, span): (u32, u32)) -> Option<(u16, u16)> {
    if span < 2 * WINDOW {
        return None;
    }
    let windows = span / WINDOW;
    let first = lo + (n % windows) * WINDOW;
    let last = first + WINDOW - 1;
    Some((u16::try_from(first).ok()?, u16::try_from(last).ok()?))
}

/// Where this process starts going round the range: processes started together (shards on one
/// machine) start in different places instead of contending for the same windows.
fn next_connect() -> u32 {
    static CURSOR: OnceLock<AtomicU32> = OnceLock::new();
    CURSOR
        .get_or_init(|| AtomicU32::new(std::process::id().wrapping_mul(2_654_435_761)))
        .fetch_add(1, Ordering::Relaxed)
}

static UNSUPPORTED: AtomicBool = AtomicBool::new(false);

/// Gives `socket`'s connect the next window of source ports. Returns whether it did (false on a
/// kernel without the option, or a range too small to split).
pub(super) fn narrow(socket: &TcpSocket) -> bool {
    if UNSUPPORTED.load(Ordering::Relaxed) {
        return false;
    }
    let Some((first, last)) = window(next_connect(), system_range()) else {
        return false;
    };
    match set_window(socket, first, last) {
        Ok(()) => true,
        Err(e) => {
            if e.raw_os_error() == Some(libc::ENOPROTOOPT) {
                UNSUPPORTED.store(true, Ordering::Relaxed);
            }
            false
        }
    }
}

/// Sets `IP_LOCAL_PORT_RANGE` on `socket` to `first..=last`.
#[cfg(target_os = "linux")]
fn set_window(socket: &TcpSocket, first: u16, last: u16) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // The option's value: the lowest port in the low 16 bits, the highest in the high 16.
    let value: u32 = u32::from(first) | (u32::from(last) << 16);
    // SAFETY: a valid socket fd owned by `socket`, and a correctly sized u32 option value.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            IP_LOCAL_PORT_RANGE,
            std::ptr::addr_of!(value).cast(),
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_window(_socket: &TcpSocket, _first: u16, _last: u16) -> std::io::Result<()> {
    Err(std::io::Error::from_raw_os_error(libc::ENOPROTOOPT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_go_round_the_range_without_leaving_it() {
        let range = (32768, 60999 - 32768 + 1);
        let windows = range.1 / WINDOW;
        assert_eq!(window(0, range), Some((32768, 32768 + 63)));
        assert_eq!(window(1, range), Some((32832, 32832 + 63)));
        // The last whole window ends inside the range; the next connect starts again at the low end.
        let (_, last) = window(windows - 1, range).unwrap();
        assert!(u32::from(last) <= 60999, "{last}");
        assert_eq!(window(windows, range), window(0, range));
        assert_eq!(window(u32::MAX, range).map(|(a, b)| b - a), Some(63));
    }

    #[test]
    fn a_range_too_small_to_split_is_left_to_the_kernel() {
        assert_eq!(window(7, (40000, 100)), None);
        assert!(window(7, (40000, 128)).is_some());
    }

    /// The kernel honours a window, and answers a full one with `EADDRNOTAVAIL` at once: the
    /// signal on which a connect moves to the next window.
    #[tokio::test]
    async fn the_kernel_keeps_a_connect_in_its_window_and_refuses_a_full_one() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        let (lo, span) = system_range();
        // Two ports at the top of the range, where nothing else on a test machine is likely to be.
        let (first, last) = (
            u16::try_from(lo + span - 2).unwrap(),
            u16::try_from(lo + span - 1).unwrap(),
        );
        let mut held = Vec::new();
        for _ in 0..2 {
            let socket = TcpSocket::new_v4().unwrap();
            if let Err(e) = set_window(&socket, first, last) {
                eprintln!("SKIP: IP_LOCAL_PORT_RANGE refused ({e}): a kernel before 6.3");
                return;
            }
            let stream = socket.connect(target).await.unwrap();
            let port = stream.local_addr().unwrap().port();
            assert!(
                (first..=last).contains(&port),
                "port {port} outside {first}-{last}"
            );
            held.push(stream);
        }
        let socket = TcpSocket::new_v4().unwrap();
        set_window(&socket, first, last).unwrap();
        let refused = socket
            .connect(target)
            .await
            .expect_err("both ports are taken");
        assert_eq!(
            refused.raw_os_error(),
            Some(libc::EADDRNOTAVAIL),
            "{refused}"
        );
    }

    #[test]
    fn the_system_range_is_read_as_written() {
        assert_eq!(parse_range("32768\t60999\n"), Some((32768, 28232)));
        assert_eq!(parse_range("1024 65535"), Some((1024, 64512)));
        assert_eq!(parse_range("60999 32768"), None);
        assert_eq!(parse_range("garbage"), None);
    }
}
