//! Hot paths of the generator: recording an event (viewer task → recorder), a bare histogram
//! record for comparison, and generating arrivals for a one-hour, 10k joins/s plan.
//! `cargo bench --bench hot_paths`; figures go to docs/performance.md.

use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use peakready::metrics::result::{new_histogram, record_value};
use peakready::metrics::{Metric, Recorder};
use peakready::plan::Plan;

const EVENTS: u64 = 100_000;

fn recording(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("event_through_recorder", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (recorder, handle, _live) = Recorder::new(5, 4, None);
                let task = tokio::spawn(recorder.run(Instant::now()));
                for i in 0..EVENTS {
                    handle.sample(
                        (i % 5) as u16,
                        (i % 4) as u16,
                        Metric::ConnectMs,
                        200 + (i * 7919) % 50_000,
                    );
                }
                let state = handle.finish().await;
                let _ = task.await;
                state.map(|s| s.cells.len())
            })
        })
    });
    group.bench_function("bare_histogram_record", |b| {
        b.iter_batched(
            || new_histogram().expect("histogram"),
            |mut h| {
                for i in 0..EVENTS {
                    record_value(&mut h, 200 + (i * 7919) % 50_000);
                }
                h
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

const ONE_HOUR_10K: &str = r#"
name: bench-1h-10k
target: { base_url: embedded }
regions:
  - { name: me, weight: 45 }
  - { name: sea, weight: 35 }
  - { name: latam, weight: 20 }
load:
  max_viewers: 10000000
  max_joins_per_sec: 20000
  phases:
    - { name: ramp, duration: 5m, joins_per_sec: 100, ramp_to: 10000 }
    - { name: hold, duration: 55m, joins_per_sec: 10000 }
viewer:
  watch: { protocol: hls, url: /hls/stream.m3u8, duration: { median: 3m, p90: 10m } }
"#;

const ARRIVALS: u64 = 1_000_000;

fn planning(c: &mut Criterion) {
    let env = |_: &str| None;
    let scenario = peakready::scenario::parse_str(ONE_HOUR_10K, "bench.yaml", &env)
        .expect("bench scenario parses");
    let mut group = c.benchmark_group("plan");
    group.bench_function("build_1h_10k_per_s", |b| {
        b.iter(|| Plan::build(&scenario, 42))
    });
    group.throughput(Throughput::Elements(ARRIVALS));
    let plan = Plan::build(&scenario, 42);
    group.bench_function("arrivals_1h_10k_per_s_first_1m", |b| {
        b.iter(|| {
            plan.arrivals()
                .take(ARRIVALS as usize)
                .fold(0u64, |acc, a| acc ^ a.viewer_id)
        })
    });
    group.finish();
}

criterion_group!(benches, recording, planning);
criterion_main!(benches);
