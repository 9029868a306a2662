//! The async runtime's own health, sampled each second beside the run (`runtime.csv`), so that
//! "the generator limited this run" comes with its reason: short of CPU, runtime threads held
//! by something that is not CPU work (a blocking call, a lock, a slow system call), or neither.
//!
//! Readings per second: the share of the runtime threads' time spent working rather than parked
//! (tokio's stable `worker_total_busy_duration`), the process's CPU ÷ the cores its threads can
//! use (getrusage), the whole machine's CPU (`/proc/stat`: a target on the same cores), the
//! share of the viewer threads' time spent waiting for a core (`schedstat`: the CPU other
//! processes took) and held off one while busy (a blocking call, a lock, a slow system call), the
//! **scheduling delay** — how late a 10 ms canary timer is polled, which is how long a ready
//! task waited for a runtime thread (plus the timer's 1 ms granularity) — the global queue
//! depth, the tasks alive, and the DNS lookups in flight (the only work peakready puts on the
//! blocking pool; tokio's own blocking-pool gauges need `--cfg tokio_unstable`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often the canary timer fires.
const CANARY: Duration = Duration::from_millis(10);

pub const FILE: &str = "runtime.csv";

/// One second of the runtime's readings: a row of `runtime.csv`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct RuntimeSecond {
    pub second: u64,
    pub workers: usize,
    /// Share of the runtime threads' time spent working (not parked), 0–1.
    pub busy: f64,
    /// The process's CPU ÷ the cores its runtime threads can use, 0–1.
    pub cpu: f64,
    /// The whole machine's CPU busy share, 0–1.
    pub machine_cpu: f64,
    pub scheduling_delay_p99_ms: f64,
    pub scheduling_delay_max_ms: f64,
    pub global_queue: usize,
    pub alive_tasks: usize,
    pub dns_in_flight_max: usize,
    /// Share of the viewer threads' time spent ready to run but waiting for a core (Linux
    /// `schedstat`), 0–1: the CPU other processes took from them. Empty where the system does
    /// not say, without viewer lanes, and in older results.
    #[serde(default)]
    pub cpu_wait: Option<f64>,
    /// Share of the viewer threads' time spent busy (`busy`) but neither on a core nor waiting
    /// for one, 0–1: held by a blocking call, a lock or a slow system call. At least this much:
    /// a wait for a core that began while a thread was parked is subtracted too. Empty as
    /// `cpu_wait`.
    #[serde(default)]
    pub held: Option<f64>,
}

/// The runtime's health over a whole run (results.json: `generator.runtime`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct RuntimeHealth {
    /// Runtime worker threads.
    pub workers: usize,
    /// Seconds sampled.
    pub seconds: u64,
    /// Share of the runtime threads' time spent working, in the busiest second, 0–1.
    pub busy_max: f64,
    /// The process's CPU ÷ the cores its runtime threads can use (the fewer of cores and
    /// threads), in the busiest second, 0–1.
    pub cpu_max: f64,
    /// The whole machine's CPU busy share in its busiest second, 0–1 (other processes
    /// included: a target on the same machine takes cores from the generator).
    #[serde(default)]
    pub machine_cpu_max: f64,
    /// How long a ready task waited for a runtime thread, over the whole run.
    pub scheduling_delay_p99_ms: f64,
    pub scheduling_delay_max_ms: f64,
    /// Deepest global (injection) queue seen at a sample.
    pub global_queue_max: usize,
    /// Most DNS lookups in flight at once (each holds a blocking-pool thread).
    pub dns_in_flight_max: usize,
    /// The second in which a ready task waited longest, with its readings: what the runtime
    /// was doing when the generator fell behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_second: Option<RuntimeSecond>,
}

/// Why the generator could not keep its schedule, when it could not (results.json:
/// `generator.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LimitReason {
    /// The process used (nearly) every core it can use, or other processes took the machine's.
    Cpu,
    /// Every DNS lookup thread of the blocking pool was taken.
    BlockingPool,
    /// Ready tasks waited for a runtime thread that was held by something other than CPU
    /// work: a blocking call, a lock, a slow system call.
    SchedulingDelay,
    /// Late starts with none of the above seen (or no runtime readings, as in older results).
    Unexplained,
}

/// Tokio's default cap on blocking-pool threads (`max_blocking_threads`), which peakready keeps.
pub const BLOCKING_POOL_THREADS: usize = 512;

static DNS_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static DNS_IN_FLIGHT_MAX: AtomicUsize = AtomicUsize::new(0);

/// Held while a DNS lookup runs on the blocking pool.
pub struct DnsLookup(());

impl DnsLookup {
    pub fn begin() -> DnsLookup {
        let now = DNS_IN_FLIGHT.fetch_add(1, Ordering::Relaxed) + 1;
        DNS_IN_FLIGHT_MAX.fetch_max(now, Ordering::Relaxed);
        DnsLookup(())
    }
}

impl Drop for DnsLookup {
    fn drop(&mut self) {
        DNS_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The runtimes viewers run on (the engine's lanes, `quick`'s connection lanes), registered as
/// they start: the probe reads their busy share, queues and tasks, and a canary timer on each
/// measures how long a viewer's ready task waited there. Without any, the probe reads the
/// runtime it runs on.
#[derive(Clone, Default)]
pub struct Runtimes(Arc<Mutex<Registered>>);

#[derive(Default)]
struct Registered {
    handles: Vec<tokio::runtime::Handle>,
    /// The lanes' threads' scheduler statistics (`schedstat`), as their canaries found them.
    threads: Vec<PathBuf>,
    /// The lanes' canary delays since the sampler last took them.
    delays_us: Option<Histogram<u64>>,
}

impl Runtimes {
    pub fn add(&self, handle: tokio::runtime::Handle) {
        handle.spawn(lane_canary(self.0.clone()));
        if let Ok(mut registered) = self.0.lock() {
            registered.handles.push(handle);
        }
    }

    fn handles(&self) -> Vec<tokio::runtime::Handle> {
        self.0.lock().map(|r| r.handles.clone()).unwrap_or_default()
    }

    fn threads(&self) -> Vec<PathBuf> {
        self.0.lock().map(|r| r.threads.clone()).unwrap_or_default()
    }

    fn take_delays(&self) -> Option<Histogram<u64>> {
        self.0.lock().ok().and_then(|mut r| r.delays_us.take())
    }
}

/// A lane's canary: how late its 10 ms timer is polled is how long a ready viewer task waited
/// for the lane's thread. Ends with the lane's runtime.
async fn lane_canary(registered: Arc<Mutex<Registered>>) {
    // Polled on the lane's thread: where that thread's time on and off a core is read.
    if let (Some(path), Ok(mut r)) = (crate::sysinfo::this_thread_schedstat(), registered.lock()) {
        r.threads.push(path);
    }
    let mut tick = Instant::now() + CANARY;
    loop {
        tokio::time::sleep_until(tick).await;
        let now = Instant::now();
        let late = now.saturating_duration_since(tick).as_micros().max(1) as u64;
        if let Ok(mut r) = registered.lock() {
            let _ = r.delays_us.get_or_insert_with(new_histogram).record(late);
        }
        tick = (tick + CANARY).max(now + CANARY);
    }
}

/// The probe running beside a run; [`RuntimeProbe::finish`] stops it.
pub struct RuntimeProbe {
    stop: oneshot::Sender<()>,
    task: JoinHandle<(RuntimeHealth, Option<String>)>,
    runtimes: Runtimes,
}

impl RuntimeProbe {
    /// Starts sampling now, second 0 beginning at `zero`. With `dir`, `runtime.csv` is written
    /// there row by row.
    pub fn start(dir: Option<&Path>, zero: Instant) -> RuntimeProbe {
        let (stop, stopped) = oneshot::channel();
        let path = dir.map(|d| d.join(FILE));
        let runtimes = Runtimes::default();
        let task = tokio::spawn(sample(path, zero, stopped, runtimes.clone()));
        if let Some(ms) = test_block_ms() {
            let runtimes = runtimes.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(zero + Duration::from_secs(1)).await;
                // Deliberately blocks a thread viewers run on (see `test_block_ms`).
                let block = move || std::thread::sleep(Duration::from_millis(ms));
                match runtimes.handles().first() {
                    Some(lane) => drop(lane.spawn(async move { block() })),
                    None => block(),
                }
            });
        }
        RuntimeProbe {
            stop,
            task,
            runtimes,
        }
    }

    /// Where the runtimes viewers run on are registered.
    pub fn runtimes(&self) -> Runtimes {
        self.runtimes.clone()
    }

    /// Stops sampling. Returns the run's runtime health and why `runtime.csv` is incomplete,
    /// if a write failed.
    pub async fn finish(self) -> (RuntimeHealth, Option<String>) {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_else(|e| {
            (
                RuntimeHealth::default(),
                Some(format!("the runtime probe stopped: {e}")),
            )
        })
    }
}

/// Test hook: `PEAKREADY_TEST_BLOCK_RUNTIME_MS=N` blocks one runtime thread for N ms one second
/// into the run, as a blocking call in a step would, so that a test can see it reported as
/// scheduling delay. Not a user setting; documented in docs/architecture.md.
fn test_block_ms() -> Option<u64> {
    std::env::var("PEAKREADY_TEST_BLOCK_RUNTIME_MS")
        .ok()?
        .parse()
        .ok()
}

struct Second {
    delays_us: Histogram<u64>,
    busy_before: Duration,
    /// Lanes registered at the start of the second.
    lanes_before: usize,
    cpu_before: f64,
    machine_before: Option<(u64, u64)>,
    /// Each lane thread's (on a core, waiting for one) nanoseconds, by registration order.
    threads_before: Vec<(u64, u64)>,
    at: Instant,
}

fn busy_total(metrics: &tokio::runtime::RuntimeMetrics) -> Duration {
    (0..metrics.num_workers())
        .map(|w| metrics.worker_total_busy_duration(w))
        .sum()
}

/// One reading of the runtimes viewers run on: the lanes when there are any, else `own`.
struct Reading {
    workers: usize,
    busy: Duration,
    global_queue: usize,
    alive_tasks: usize,
}

fn read(own: &tokio::runtime::RuntimeMetrics, lanes: &[tokio::runtime::Handle]) -> Reading {
    if lanes.is_empty() {
        return Reading {
            workers: own.num_workers().max(1),
            busy: busy_total(own),
            global_queue: own.global_queue_depth(),
            alive_tasks: own.num_alive_tasks(),
        };
    }
    let mut reading = Reading {
        workers: 0,
        busy: Duration::ZERO,
        global_queue: 0,
        alive_tasks: 0,
    };
    for lane in lanes {
        let m = lane.metrics();
        reading.workers += m.num_workers();
        reading.busy += busy_total(&m);
        reading.global_queue += m.global_queue_depth();
        reading.alive_tasks += m.num_alive_tasks();
    }
    reading
}

/// The lane threads' time since the last reading.
struct ThreadTimes {
    /// (on a core, waiting for a core) over every lane thread, if each was read.
    read: Option<(Duration, Duration)>,
    /// Each thread's totals now, for the next reading (a thread not read keeps its last).
    now: Vec<(u64, u64)>,
}

fn read_threads(threads: &[PathBuf], before: &[(u64, u64)]) -> ThreadTimes {
    let mut now = Vec::with_capacity(threads.len());
    let (mut run, mut wait, mut all_read) = (0u64, 0u64, !threads.is_empty());
    for (i, path) in threads.iter().enumerate() {
        // A lane that started this second counts from its thread's start.
        let last = before.get(i).copied().unwrap_or((0, 0));
        match crate::sysinfo::thread_times(path) {
            Some(times) => {
                run += times.0.saturating_sub(last.0);
                wait += times.1.saturating_sub(last.1);
                now.push(times);
            }
            None => {
                all_read = false;
                now.push(last);
            }
        }
    }
    ThreadTimes {
        read: all_read.then(|| (Duration::from_nanos(run), Duration::from_nanos(wait))),
        now,
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 1 hour, 2 significant digits: a canary is late by ms, rarely by seconds.
    Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("constant, valid bounds")
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

async fn sample(
    path: Option<PathBuf>,
    zero: Instant,
    mut stopped: oneshot::Receiver<()>,
    runtimes: Runtimes,
) -> (RuntimeHealth, Option<String>) {
    let own = tokio::runtime::Handle::current().metrics();
    let mut health = RuntimeHealth {
        workers: own.num_workers().max(1),
        ..RuntimeHealth::default()
    };
    let mut run_delays = new_histogram();
    let mut failure = None;
    let mut file = path.as_ref().and_then(|p| {
        std::fs::File::create(p)
            .map(csv::Writer::from_writer)
            .map_err(|e| failure = Some(format!("writing {}: {e}", p.display())))
            .ok()
    });
    let mut second = 0u64;
    let mut current = Second {
        delays_us: new_histogram(),
        busy_before: read(&own, &runtimes.handles()).busy,
        lanes_before: 0,
        cpu_before: crate::sysinfo::cpu_and_peak_rss().0,
        machine_before: crate::sysinfo::machine_cpu_ticks(),
        threads_before: Vec::new(),
        at: Instant::now(),
    };
    let mut tick = Instant::now().max(zero) + CANARY;
    loop {
        let stopping = tokio::select! {
            _ = &mut stopped => true,
            () = tokio::time::sleep_until(tick) => false,
        };
        let now = Instant::now();
        if !stopping {
            let late = now.saturating_duration_since(tick);
            let _ = current.delays_us.record(late.as_micros().max(1) as u64);
            // After a long block, the ticks missed are skipped, not replayed: one late wake is
            // one sample of the delay, not hundreds.
            tick = (tick + CANARY).max(now + CANARY);
        }
        if now < zero + Duration::from_secs(second + 1) {
            if stopping {
                break;
            }
            continue;
        }
        // A second (or more, after a block) has closed: one row.
        let elapsed = now.duration_since(current.at).as_secs_f64().max(1e-3);
        let lanes = runtimes.handles();
        let reading = read(&own, &lanes);
        let (workers, busy_now) = (reading.workers, reading.busy);
        // Lanes started this second: their busy time so far is all this second's.
        let busy_before = match (current.lanes_before, lanes.len()) {
            (0, 1..) => Duration::ZERO,
            _ => current.busy_before,
        };
        if let Some(lane_delays) = runtimes.take_delays() {
            let _ = current.delays_us.add(&lane_delays);
        }
        let usable_cores = crate::sysinfo::cores().clamp(1, workers) as f64;
        let cpu_now = crate::sysinfo::cpu_and_peak_rss().0;
        let busy =
            (busy_now.saturating_sub(busy_before)).as_secs_f64() / (elapsed * workers as f64);
        let cpu = (cpu_now - current.cpu_before).max(0.0) / elapsed / usable_cores;
        let machine_now = crate::sysinfo::machine_cpu_ticks();
        let machine = match (current.machine_before, machine_now) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => (b1 - b0) as f64 / (t1 - t0) as f64,
            _ => 0.0,
        };
        let lane_threads = runtimes.threads();
        let threads = read_threads(&lane_threads, &current.threads_before);
        // Shares of the viewer threads' time, only when every lane's thread was read: a lane
        // left out would count its busy time as held.
        let (cpu_wait, held) = match threads.read {
            Some((run, wait)) if !lanes.is_empty() && lane_threads.len() == workers => {
                let of_time = |d: Duration| d.as_secs_f64() / (elapsed * workers as f64);
                let busy = busy_now.saturating_sub(busy_before);
                (
                    Some(round3(of_time(wait).min(1.0))),
                    Some(round3(of_time(busy.saturating_sub(run + wait)).min(1.0))),
                )
            }
            _ => (None, None),
        };
        let row = RuntimeSecond {
            second,
            workers,
            busy: round3(busy.min(1.0)),
            cpu: round3(cpu.min(1.0)),
            machine_cpu: round3(machine.min(1.0)),
            scheduling_delay_p99_ms: current.delays_us.value_at_quantile(0.99) as f64 / 1000.0,
            scheduling_delay_max_ms: current.delays_us.max() as f64 / 1000.0,
            global_queue: reading.global_queue,
            alive_tasks: reading.alive_tasks,
            dns_in_flight_max: DNS_IN_FLIGHT_MAX
                .swap(DNS_IN_FLIGHT.load(Ordering::Relaxed), Ordering::Relaxed),
            cpu_wait,
            held,
        };
        if let Some(w) = file.as_mut() {
            if let Err(e) = w.serialize(&row).and_then(|()| Ok(w.flush()?)) {
                failure.get_or_insert_with(|| {
                    let name = path.as_deref().unwrap_or(Path::new(FILE));
                    format!("writing {}: {e}", name.display())
                });
                file = None;
            }
        }
        let _ = run_delays.add(&current.delays_us);
        health.seconds += 1;
        health.workers = health.workers.max(workers);
        health.busy_max = health.busy_max.max(row.busy);
        health.cpu_max = health.cpu_max.max(row.cpu);
        health.machine_cpu_max = health.machine_cpu_max.max(row.machine_cpu);
        health.global_queue_max = health.global_queue_max.max(row.global_queue);
        health.dns_in_flight_max = health.dns_in_flight_max.max(row.dns_in_flight_max);
        let worse = health.worst_second.as_ref().map_or(true, |w| {
            row.scheduling_delay_max_ms > w.scheduling_delay_max_ms
        });
        if worse {
            health.worst_second = Some(row);
        }
        current = Second {
            delays_us: new_histogram(),
            busy_before: busy_now,
            lanes_before: lanes.len(),
            cpu_before: cpu_now,
            machine_before: machine_now,
            threads_before: threads.now,
            at: now,
        };
        second = now
            .saturating_duration_since(zero)
            .as_secs()
            .max(second + 1);
        // A second that closed just before the stop still gets its row (the run's last whole
        // second is not lost to a canary tick that had not fired yet).
        if stopping {
            break;
        }
    }
    health.scheduling_delay_p99_ms = run_delays.value_at_quantile(0.99) as f64 / 1000.0;
    health.scheduling_delay_max_ms = run_delays.max() as f64 / 1000.0;
    (health, failure)
}
