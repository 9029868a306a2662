use std::time::{Duration, Instant};

use super::*;

#[tokio::test]
async fn recorded_values_survive_into_summaries_at_every_magnitude() {
    let (recorder, handle, _live) = Recorder::new(2, 1, None);
    let task = tokio::spawn(recorder.run(Instant::now()));
    for i in 0..1000u64 {
        // 100 µs … 100 s: far beyond a fresh auto-resizing histogram's initial range.
        handle.sample(0, 0, Metric::JoinMs, 100 * (i + 1) * (i + 1));
        handle.duration(1, 0, Metric::ConnectMs, Duration::from_millis(5));
        handle.request(1, 0, (i % 10 == 0).then_some(ErrorKind::Timeout));
    }
    let state = handle.finish().await.expect("state");
    task.await.expect("recorder task");
    let (regions, overall) =
        breakdowns(&state, &["a".into(), "b".into()], &["p".into()]).expect("summaries");
    let join = &regions[0].metrics[&Metric::JoinMs];
    assert_eq!(join.count, 1000);
    // p50 ≈ 100 µs × 500² = 25 s, max = 100 s; 3 significant digits.
    assert!((join.p50 / 25_000.0 - 1.0).abs() < 0.01, "p50 {}", join.p50);
    assert!(
        (join.max / 100_000.0 - 1.0).abs() < 0.001,
        "max {}",
        join.max
    );
    let connect = &regions[1].metrics[&Metric::ConnectMs];
    assert!((connect.p99 - 5.0).abs() < 0.01, "{}", connect.p99);
    assert!((regions[1].error_rate - 0.1).abs() < 1e-9);
    assert_eq!(regions[1].errors.get(&ErrorKind::Timeout), Some(&100));
    assert_eq!(overall.metrics[&Metric::JoinMs].count, 1000);
    assert!(!regions[0].metrics.contains_key(&Metric::ConnectMs));
    // The histogram travels with the summary and decodes to the same distribution.
    let decoded = result::decode_histogram(&join.hdr).expect("decode");
    assert_eq!(decoded.len(), 1000);
}

#[tokio::test]
async fn a_backlogged_recorder_files_events_under_the_second_they_happened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let series = series::SeriesWriter::create(
        dir.path(),
        vec!["r".into()],
        vec![("p".into(), 0.0, 10.0)],
        0.0,
    )
    .expect("series");
    let (recorder, handle, _live) = Recorder::new(1, 1, Some(series));
    let start = Instant::now();
    // Nothing consumes events yet: the recorder is "behind" by the whole run.
    for _ in 0..3 {
        handle.request(0, 0, None);
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for _ in 0..5 {
        handle.request(0, 0, None);
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    handle.request(0, 0, None);
    let task = tokio::spawn(recorder.run(start));
    handle.finish().await.expect("state");
    task.await.expect("recorder task");
    let csv = std::fs::read_to_string(dir.path().join("timeseries.csv")).expect("csv");
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "requests")
        .expect("requests column");
    let per_second: Vec<u64> = csv
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1) == Some("r"))
        .map(|l| {
            l.split(',')
                .nth(col)
                .and_then(|v| v.parse().ok())
                .expect("count")
        })
        .collect();
    assert_eq!(&per_second[..3], &[3, 5, 1], "{csv}");
}

#[test]
fn summaries_read_as_recorded_without_float_noise() {
    // Every value below 2048 µs is recorded exactly; its summary must read as that many
    // thousandths of a ms (`0.009`, never `0.009000000000000001`).
    for us in 1..2048u64 {
        let mut h = result::new_histogram().expect("histogram");
        result::record_value(&mut h, us);
        let s = result::summarize(Metric::JoinMs, &h).expect("summary");
        for v in [s.min, s.mean, s.p50, s.max] {
            let text = serde_json::to_string(&v).expect("json");
            let decimals = text.split('.').nth(1).map_or(0, str::len);
            assert!(decimals <= 3, "{us} µs reads {text} ms");
        }
        assert_eq!(s.p50, us as f64 / 1000.0);
    }
}
