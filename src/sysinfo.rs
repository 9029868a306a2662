//! Readings of the generator's own process: CPU time, peak RSS, open files and their limit.
//! Linux-first (procfs, getrusage); elsewhere the readings are `None`/0 and reports say so.

/// (user + system CPU seconds, peak RSS in bytes) of this process so far.
pub fn cpu_and_peak_rss() -> (f64, u64) {
    // SAFETY: getrusage writes into the zeroed struct we own; RUSAGE_SELF is always valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return (0.0, 0);
    }
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    // ru_maxrss is in KiB on Linux.
    (
        secs(usage.ru_utime) + secs(usage.ru_stime),
        usage.ru_maxrss.max(0) as u64 * 1024,
    )
}

/// Number of open file descriptors of this process.
pub fn open_files() -> Option<u64> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64)
}

/// Raise the soft open-files limit to the hard limit; returns the limit now in force.
pub fn raise_open_files_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid resource and a struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
        lim.rlim_cur
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Where the calling thread's scheduler statistics are (Linux `/proc/<pid>/task/<tid>/schedstat`),
/// for [`thread_times`] to read from another thread. `None` off Linux.
pub fn this_thread_schedstat() -> Option<std::path::PathBuf> {
    let task = std::fs::read_link("/proc/thread-self").ok()?;
    Some(std::path::Path::new("/proc").join(task).join("schedstat"))
}

/// (on a core, ready but waiting for a core) since a thread started, in nanoseconds: the first
/// two fields of its `schedstat`, brought up to date when the thread leaves a core or at a
/// scheduler tick. `None` when the thread has ended or the kernel keeps no scheduler
/// statistics (it then reads `0 0 0`: a thread that ran has been given a core at least once).
pub fn thread_times(schedstat: &std::path::Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(schedstat).ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    let (on_core, waiting, given_a_core) = (fields.next()??, fields.next()??, fields.next()??);
    (given_a_core > 0).then_some((on_core, waiting))
}

/// Size of the local ephemeral port range (`net.ipv4.ip_local_port_range`).
pub fn ephemeral_ports() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut parts = text.split_whitespace().map(|p| p.parse::<u64>().ok());
    let (low, high) = (parts.next()??, parts.next()??);
    (high >= low).then(|| high - low + 1)
}

/// (busy, total) CPU time of the whole machine since boot, in clock ticks (`/proc/stat`), for
/// "was the machine's CPU taken by other processes?". `None` off Linux.
pub fn machine_cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(|t| t.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_reads_its_time_on_a_core_from_its_schedstat() {
        let path = this_thread_schedstat().expect("/proc/thread-self on Linux");
        let (before, _) = thread_times(&path).expect("schedstat of a thread that has run");
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        // Off the core for a moment: the kernel brings the thread's figures up to date.
        std::thread::sleep(std::time::Duration::from_millis(1));
        let (after, _) = thread_times(&path).expect("schedstat");
        assert!(after > before, "{before} → {after} ns on a core");
        assert_eq!(
            thread_times(std::path::Path::new("/proc/self/task/0/schedstat")),
            None
        );
    }
}
