//! Generator health, computed here only: for one process from its lag histogram and resource
//! readings ([`measure`]), and for a fleet of shards from theirs ([`merged`]). Was the load
//! generator, not the target, the limit?

use std::time::Duration;

use super::names::Metric;
use super::result::{decode_histogram, Breakdown, GeneratorHealth, MetricSummary};
use super::runtime::{LimitReason, RuntimeHealth, BLOCKING_POOL_THREADS};
use crate::format::{ms, pct};

/// A viewer started this much after its intended instant counts as late in generator health,
/// and lag beyond it at p99 makes the run "limited by the load generator".
pub const LATE_START: Duration = Duration::from_millis(50);
const LATE_THRESHOLD_MS: f64 = LATE_START.as_millis() as f64;

/// Lag p99 above the late threshold makes a run (or a capacity step) generator-limited only
/// when at least this many viewers were late: in a 100-viewer run p99 is the single worst
/// start, and one viewer scheduled 60 ms late by a busy machine does not change the load the
/// target saw.
pub const MIN_LATE: u64 = 3;

/// What the process used while it generated load (see `crate::sysinfo`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Resources {
    /// User + system CPU seconds over the run.
    pub cpu_seconds: f64,
    /// Wall-clock seconds of the run.
    pub wall_seconds: f64,
    pub cores: usize,
    pub peak_rss_bytes: u64,
    pub open_files_limit: u64,
    pub peak_open_files: u64,
}

/// In a second, the process used at least this share of the cores it can use: short of CPU.
const CPU_BOUND: f64 = 0.9;

/// One wait of a ready task this long is not the operating system sharing a busy core (it does
/// so in slices of milliseconds): unless other processes kept the runtime threads from the CPU
/// long enough for their ready tasks to pile up, a runtime thread was held.
const HELD_MS: f64 = 250.0;

/// In a second, the viewer threads spent at least this share of their time ready but waiting
/// for a core: the CPU was taken from them. A thread woken on a busy machine waits a few
/// milliseconds for its slice; a lane kept from its core waits most of the second.
const CPU_WAIT_BOUND: f64 = 0.25;

/// The words of a reason that says other processes took the CPU.
const TAKEN: &str = "other processes (a target on the same machine?) took the CPU";

/// Why a run that started viewers late did so, read off the second in which a ready task
/// waited longest (and the run's maxima), with the words that say it.
fn reason(rt: Option<&RuntimeHealth>, cores: usize) -> (LimitReason, String) {
    let Some((rt, worst)) = rt.and_then(|rt| Some((rt, rt.worst_second.as_ref()?))) else {
        return (
            LimitReason::Unexplained,
            "no runtime readings were taken to say why".into(),
        );
    };
    let usable = cores.clamp(1, rt.workers.max(1));
    let at = format!("in second {}", worst.second);
    let process_cpu = |cpu: f64, when: &str| {
        (
            LimitReason::Cpu,
            format!(
                "CPU: the process used {} of the {usable} core(s) its {} runtime thread(s) can use {when}",
                pct(cpu),
                rt.workers
            ),
        )
    };
    if worst.cpu >= CPU_BOUND {
        return process_cpu(worst.cpu, &at);
    }
    if rt.dns_in_flight_max * 10 >= BLOCKING_POOL_THREADS * 9 {
        return (
            LimitReason::BlockingPool,
            format!(
                "blocking pool: {} DNS lookups were in flight at once (the pool has {BLOCKING_POOL_THREADS} threads); \
                 use IP addresses or a caching resolver",
                rt.dns_in_flight_max
            ),
        );
    }
    // Other processes took the CPU when the machine was saturated while this process was not
    // (it was below CPU_BOUND, or the first branch returned) and, where the system says, the
    // viewer threads spent more of their time waiting for a core than held off one: a thread
    // blocked on a busy machine, or a machine busy with work that yields to this process (a
    // nice'd build), is not CPU taken.
    let readings = worst.cpu_wait.zip(worst.held);
    let taken = worst.machine_cpu >= CPU_BOUND
        && readings.map_or(true, |(wait, held)| wait >= CPU_WAIT_BOUND && wait >= held);
    // More ready tasks than the runtime threads' local queues hold (256 each) had spilled into
    // the global queue: work was waiting for CPU, not for a held thread.
    if worst.global_queue >= 256 * rt.workers.max(1) {
        let whose = if taken {
            format!(
                "the machine's {cores} cores were {} busy and this process got {} of the {usable} core(s) \
                 it can use: {TAKEN}",
                pct(worst.machine_cpu),
                pct(worst.cpu)
            )
        } else {
            format!(
                "the process used {} of the {usable} core(s) it can use",
                pct(worst.cpu)
            )
        };
        return (
            LimitReason::Cpu,
            format!(
                "CPU: {} tasks were ready and waiting for a runtime thread {at} (a task waited {}); {whose}",
                worst.global_queue,
                ms(worst.scheduling_delay_max_ms)
            ),
        );
    }
    // Whatever the delay: a lane (a single-threaded runtime) kept from its core falls behind,
    // and its backlog grows into waits of seconds with its global queue at 0.
    if taken {
        let how_long = match readings {
            Some((wait, _)) => format!(
                "its viewer threads spent {} of the time waiting for a core",
                pct(wait)
            ),
            None => "unless a runtime thread was held: this system does not say how long the \
                     viewer threads waited for a core"
                .into(),
        };
        return (
            LimitReason::Cpu,
            format!(
                "CPU: the machine's {cores} cores were {} busy {at} and this process got {} of the {usable} \
                 core(s) it can use: {TAKEN}, {how_long}; \
                 a ready task waited {} for a runtime thread",
                pct(worst.machine_cpu),
                pct(worst.cpu),
                ms(worst.scheduling_delay_max_ms)
            ),
        );
    }
    if worst.scheduling_delay_max_ms >= HELD_MS {
        let threads = readings.map_or(String::new(), |(wait, held)| {
            format!(
                " (its viewer threads were held off a core while busy at least {} of the time, and \
                 waited for one {})",
                pct(held),
                pct(wait)
            )
        });
        return (
            LimitReason::SchedulingDelay,
            format!(
                "scheduling delay: a ready task waited {} for a runtime thread {at}, while the process used \
                 {} of the {usable} core(s) it can use{threads}, so a runtime thread was held by a blocking call, \
                 a lock or a slow system call, not by CPU work",
                ms(worst.scheduling_delay_max_ms),
                pct(worst.cpu)
            ),
        );
    }
    if rt.cpu_max >= CPU_BOUND {
        return process_cpu(rt.cpu_max, "in its busiest second");
    }
    if worst.scheduling_delay_max_ms > LATE_THRESHOLD_MS {
        return (
            LimitReason::SchedulingDelay,
            format!(
                "scheduling delay: a ready task waited up to {} for a runtime thread {at} without the CPU \
                 being short",
                ms(worst.scheduling_delay_max_ms)
            ),
        );
    }
    (
        LimitReason::Unexplained,
        format!(
            "neither CPU ({} of the {usable} core(s) it can use at most) nor scheduling delay (max {}) explains it",
            pct(rt.cpu_max),
            ms(rt.scheduling_delay_max_ms)
        ),
    )
}

/// What to do about it. More cores or shards on a machine whose CPU other processes take would
/// not help: the generator needs cores of its own.
fn advice(reason: LimitReason, words: &str) -> &'static str {
    if reason == LimitReason::Cpu && words.contains(TAKEN) {
        "Give the generator cores no other process uses (not the target's machine), or fewer viewers"
    } else {
        "Use more cores, more shards (--shard), or fewer viewers"
    }
}

fn lag_of(overall: &Breakdown) -> Option<&MetricSummary> {
    overall.metrics.get(&Metric::GeneratorLagMs)
}

/// One process's health: its start lag (from the `generator_lag_ms` histogram), resources and
/// the runtime's readings.
pub fn measure(
    overall: &Breakdown,
    r: Resources,
    runtime: Option<RuntimeHealth>,
) -> GeneratorHealth {
    let lag = lag_of(overall);
    let late = lag
        .and_then(|m| decode_histogram(&m.hdr).ok())
        .map(|h| h.count_between((LATE_THRESHOLD_MS * 1000.0) as u64, u64::MAX))
        .unwrap_or(0);
    let lag_p99 = lag.map_or(0.0, |m| m.p99);
    let limited = lag_p99 > LATE_THRESHOLD_MS && late >= MIN_LATE;
    let why = limited.then(|| reason(runtime.as_ref(), r.cores));
    GeneratorHealth {
        lag_p50_ms: lag.map_or(0.0, |m| m.p50),
        lag_p99_ms: lag_p99,
        lag_max_ms: lag.map_or(0.0, |m| m.max),
        late_arrivals: late,
        late_threshold_ms: LATE_THRESHOLD_MS,
        cpu_seconds: r.cpu_seconds,
        cpu_utilisation: if r.wall_seconds > 0.0 && r.cores > 0 {
            r.cpu_seconds / r.wall_seconds / r.cores as f64
        } else {
            0.0
        },
        cores: r.cores,
        peak_rss_bytes: r.peak_rss_bytes,
        open_files_limit: r.open_files_limit,
        peak_open_files: r.peak_open_files,
        runtime,
        reason: why.as_ref().map(|(reason, _)| *reason),
        limited,
        message: why.map(|(reason, words)| {
            format!(
                "the load generator, not the target, limited this run: viewers started {} late at p99 \
                 (threshold {}). Why: {words}. {}.",
                ms(lag_p99),
                ms(LATE_THRESHOLD_MS),
                advice(reason, &words)
            )
        }),
    }
}

/// One shard of a fleet, for [`merged`].
pub struct ShardHealth<'a> {
    pub index: u64,
    pub dir: &'a str,
    pub health: &'a GeneratorHealth,
}

/// Generator health of the whole fleet: lag percentiles from the merged lag histogram, and
/// "limited" when any shard was (a mixture's p99 never exceeds its worst part's, so the worst
/// shard decides), for the first limited shard's reason; runtime readings are the worst of any
/// shard's. Per-process readings (CPU use, memory, files) are the busiest process's:
/// shards may share a machine or not, so adding them up would mean nothing.
pub fn merged(shards: &[ShardHealth], overall: &Breakdown) -> GeneratorHealth {
    let lag = lag_of(overall);
    let gens = || shards.iter().map(|s| s.health);
    let busiest = gens().max_by(|a, b| a.cpu_utilisation.total_cmp(&b.cpu_utilisation));
    let limited: Vec<&ShardHealth> = shards.iter().filter(|s| s.health.limited).collect();
    let threshold = gens().map(|g| g.late_threshold_ms).fold(0.0, f64::max);
    let message = (!limited.is_empty()).then(|| {
        let which: Vec<String> = limited
            .iter()
            .map(|s| {
                format!(
                    "shard {} ({}: start lag p99 {})",
                    s.index,
                    s.dir,
                    ms(s.health.lag_p99_ms)
                )
            })
            .collect();
        format!(
            "the load generator, not the target, limited this run: {} started viewers late (threshold {}). \
             Give that shard more cores, split the plan over more shards, or lower the load.",
            which.join(", "),
            ms(threshold)
        )
    });
    GeneratorHealth {
        lag_p50_ms: lag.map_or(0.0, |m| m.p50),
        lag_p99_ms: lag.map_or(0.0, |m| m.p99),
        lag_max_ms: lag.map_or(0.0, |m| m.max),
        late_arrivals: gens().map(|g| g.late_arrivals).sum(),
        late_threshold_ms: threshold,
        cpu_seconds: gens().map(|g| g.cpu_seconds).sum(),
        cpu_utilisation: busiest.map_or(0.0, |g| g.cpu_utilisation),
        cores: busiest.map_or(0, |g| g.cores),
        peak_rss_bytes: gens().map(|g| g.peak_rss_bytes).max().unwrap_or(0),
        open_files_limit: gens().map(|g| g.open_files_limit).min().unwrap_or(0),
        peak_open_files: gens().map(|g| g.peak_open_files).max().unwrap_or(0),
        runtime: gens()
            .filter_map(|g| g.runtime.clone())
            .reduce(|a, b| RuntimeHealth {
                workers: a.workers.max(b.workers),
                seconds: a.seconds.max(b.seconds),
                busy_max: a.busy_max.max(b.busy_max),
                cpu_max: a.cpu_max.max(b.cpu_max),
                machine_cpu_max: a.machine_cpu_max.max(b.machine_cpu_max),
                scheduling_delay_p99_ms: a.scheduling_delay_p99_ms.max(b.scheduling_delay_p99_ms),
                scheduling_delay_max_ms: a.scheduling_delay_max_ms.max(b.scheduling_delay_max_ms),
                global_queue_max: a.global_queue_max.max(b.global_queue_max),
                dns_in_flight_max: a.dns_in_flight_max.max(b.dns_in_flight_max),
                worst_second: [a.worst_second, b.worst_second]
                    .into_iter()
                    .flatten()
                    .max_by(|x, y| {
                        x.scheduling_delay_max_ms
                            .total_cmp(&y.scheduling_delay_max_ms)
                    }),
            }),
        reason: limited.first().and_then(|s| s.health.reason),
        limited: !limited.is_empty(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::runtime::RuntimeSecond;

    fn health(worst: RuntimeSecond) -> RuntimeHealth {
        RuntimeHealth {
            workers: worst.workers,
            seconds: 10,
            cpu_max: worst.cpu,
            machine_cpu_max: worst.machine_cpu,
            scheduling_delay_max_ms: worst.scheduling_delay_max_ms,
            worst_second: Some(worst),
            ..RuntimeHealth::default()
        }
    }

    fn second(cpu: f64, machine_cpu: f64, delay_ms: f64, queue: usize) -> RuntimeSecond {
        RuntimeSecond {
            second: 4,
            workers: 2,
            busy: 1.0,
            cpu,
            machine_cpu,
            scheduling_delay_max_ms: delay_ms,
            global_queue: queue,
            ..RuntimeSecond::default()
        }
    }

    /// `second` with the viewer threads' shares of time waiting for a core and held off one.
    fn threads(s: RuntimeSecond, cpu_wait: f64, held: f64) -> RuntimeSecond {
        RuntimeSecond {
            cpu_wait: Some(cpu_wait),
            held: Some(held),
            ..s
        }
    }

    #[test]
    fn each_cause_is_named_from_the_second_the_runtime_fell_behind() {
        let cases = [
            (
                second(0.97, 0.98, 400.0, 10),
                LimitReason::Cpu,
                "the process used 97%",
            ),
            (
                second(0.5, 1.0, 900.0, 9000),
                LimitReason::Cpu,
                "other processes",
            ),
            (
                second(0.6, 0.6, 900.0, 9000),
                LimitReason::Cpu,
                "9000 tasks were ready",
            ),
            (
                threads(second(0.5, 1.0, 900.0, 9000), 0.02, 0.9),
                LimitReason::Cpu,
                "the process used 50% of the 2 core(s)",
            ),
            (
                threads(second(0.1, 1.0, 800.0, 30), 0.05, 0.8),
                LimitReason::SchedulingDelay,
                "held by a blocking call",
            ),
            (
                second(0.1, 1.0, 800.0, 30),
                LimitReason::Cpu,
                "took the CPU, unless a runtime thread was held: this system does not say",
            ),
            (
                second(0.4, 0.95, 120.0, 30),
                LimitReason::Cpu,
                "took the CPU",
            ),
            (
                threads(second(0.4, 0.95, 120.0, 30), 0.6, 0.0),
                LimitReason::Cpu,
                "its viewer threads spent 60% of the time waiting for a core",
            ),
            (
                threads(second(0.4, 0.95, 120.0, 30), 0.01, 0.0),
                LimitReason::SchedulingDelay,
                "without the CPU being short",
            ),
            (
                second(0.3, 0.4, 120.0, 30),
                LimitReason::SchedulingDelay,
                "without the CPU being short",
            ),
            (
                second(0.3, 0.4, 5.0, 3),
                LimitReason::Unexplained,
                "neither CPU",
            ),
        ];
        for (worst, expected, words) in cases {
            let (reason, text) = reason(Some(&health(worst.clone())), 2);
            assert_eq!(reason, expected, "{worst:?}: {text}");
            assert!(text.contains(words), "{worst:?}: {text}");
            assert!(
                text.contains("second 4") || expected == LimitReason::Unexplained,
                "{text}"
            );
        }
        let (reason, text) = super::reason(None, 2);
        assert_eq!(reason, LimitReason::Unexplained, "{text}");
    }

    /// `benches/scale.sh joins` on 2 cores beside 4 nginx workers: the machine was saturated,
    /// the process got 37 % of its cores, and a lane's backlog grew into a 1.43 s wait for a
    /// runtime thread, with the lanes' global queue at 0.
    fn saturated_by_others() -> RuntimeSecond {
        RuntimeSecond {
            second: 45,
            ..second(0.37, 1.0, 1433.0, 0)
        }
    }

    #[test]
    fn a_machine_saturated_by_other_processes_is_named_whatever_the_delay() {
        // Without the viewer threads' times (as that run's results), and with them: busy lanes
        // that waited for a core more than half the time and were hardly held.
        for worst in [
            saturated_by_others(),
            threads(saturated_by_others(), 0.58, 0.02),
        ] {
            let (reason, text) = reason(Some(&health(worst.clone())), 2);
            assert_eq!(reason, LimitReason::Cpu, "{text}");
            for words in [
                "the machine's 2 cores were 100% busy in second 45",
                "this process got 37% of the 2 core(s)",
                "other processes (a target on the same machine?) took the CPU",
                "a ready task waited 1.43 s for a runtime thread",
            ] {
                assert!(text.contains(words), "{words:?} in {text}");
            }
            assert!(!text.contains("blocking call"), "{text}");
            assert!(
                advice(reason, &text).contains("cores no other process uses"),
                "{text}"
            );
            if worst.cpu_wait.is_some() {
                assert!(
                    text.contains("its viewer threads spent 58% of the time waiting for a core"),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn a_held_thread_is_named_when_the_cpu_was_not_taken() {
        // The machine not saturated: nothing took the CPU, so a 1.43 s wait was a held thread.
        let idle = second(0.3, 0.4, 1433.0, 0);
        // The machine saturated, but the viewer threads were held off a core far more than they
        // waited for one (a lane blocked on a busy machine, measured: 5 % and 80 %).
        let blocked = threads(second(0.3, 1.0, 1433.0, 0), 0.05, 0.8);
        // Saturated by work that yields to this process (a nice'd build): hardly any wait.
        let yielding = threads(second(0.3, 1.0, 1433.0, 0), 0.02, 0.0);
        for worst in [idle, blocked, yielding] {
            let (reason, text) = reason(Some(&health(worst.clone())), 2);
            assert_eq!(reason, LimitReason::SchedulingDelay, "{worst:?}: {text}");
            assert!(
                text.contains("a ready task waited 1.43 s for a runtime thread in second 4"),
                "{text}"
            );
            assert!(
                text.contains("a runtime thread was held by a blocking call"),
                "{text}"
            );
            assert!(advice(reason, &text).contains("more shards"), "{text}");
            if let Some(held) = worst.held {
                let words = format!("held off a core while busy at least {}", pct(held));
                assert!(text.contains(&words), "{words:?} in {text}");
            }
        }
    }

    #[test]
    fn a_full_blocking_pool_is_named() {
        let mut rt = health(second(0.2, 0.3, 30.0, 0));
        rt.dns_in_flight_max = 500;
        let (reason, text) = reason(Some(&rt), 2);
        assert_eq!(reason, LimitReason::BlockingPool, "{text}");
        assert!(text.contains("500 DNS lookups"), "{text}");
    }
}
