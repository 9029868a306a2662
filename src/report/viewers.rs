//! Viewer outcomes as every output shows them: the table of report.md (and so report.html),
//! and "over how many viewers" for percentiles taken over fewer viewers than started.

use crate::metrics::{Breakdown, Metric, RunResult, ViewerOutcome};

use super::table::{Align, Table};
use crate::format::{count, pct};

/// Metrics with one sample per viewer: their percentiles describe only the viewers that got
/// that far.
pub const PER_VIEWER: [Metric; 5] = [
    Metric::JoinMs,
    Metric::FirstFrameMs,
    Metric::StallCount,
    Metric::StallRatio,
    Metric::ChatDeliveryRatio,
];

/// "20 of 100 viewers" when a per-viewer metric has fewer samples than viewers started.
pub fn over_viewers(b: &Breakdown, metric: Metric) -> Option<String> {
    if !PER_VIEWER.contains(&metric) {
        return None;
    }
    let count = b.metrics.get(&metric)?.count;
    let started = b.viewers.started;
    (count < started).then(|| {
        format!(
            "{} of {} viewers",
            crate::format::count(count as f64),
            crate::format::count(started as f64)
        )
    })
}

/// Outcomes shown as columns: every outcome some scope had, in [`ViewerOutcome::ALL`] order.
fn shown_outcomes(r: &RunResult) -> Vec<ViewerOutcome> {
    ViewerOutcome::ALL
        .into_iter()
        .filter(|o| {
            r.regions
                .iter()
                .chain(std::iter::once(&r.overall))
                .any(|b| b.viewers.get(*o) > 0)
        })
        .collect()
}

/// Region by region and overall: viewers started, ok, failed, the viewer failure rate, each
/// outcome that occurred, capped arrivals and peak concurrency.
pub fn table(r: &RunResult) -> Table {
    let outcomes = shown_outcomes(r);
    let mut headers: Vec<(&str, Align)> = vec![
        ("region", Align::Left),
        ("started", Align::Right),
        ("failed", Align::Right),
        ("viewer failure rate", Align::Right),
    ];
    headers.extend(outcomes.iter().map(|o| (o.words(), Align::Right)));
    headers.extend([("capped", Align::Right), ("peak viewers", Align::Right)]);
    let mut t = Table::new(&headers);
    for b in r.regions.iter().chain(std::iter::once(&r.overall)) {
        let v = &b.viewers;
        let mut row = vec![
            b.name.clone(),
            count(v.started as f64),
            count(v.failed as f64),
            pct(v.viewer_failure_rate),
        ];
        row.extend(outcomes.iter().map(|o| count(v.get(*o) as f64)));
        row.extend([
            count(b.joins.capped as f64),
            count(b.peak_concurrent_viewers as f64),
        ]);
        t.row(row);
    }
    t
}

/// Requests region by region: attempted, failed, the request error rate.
pub fn requests_table(r: &RunResult) -> Table {
    let mut t = Table::new(&[
        ("region", Align::Left),
        ("requests", Align::Right),
        ("failed requests", Align::Right),
        ("request error rate", Align::Right),
    ]);
    for b in r.regions.iter().chain(std::iter::once(&r.overall)) {
        t.row(vec![
            b.name.clone(),
            count(b.requests as f64),
            count(request_errors(b) as f64),
            pct(b.error_rate),
        ]);
    }
    t
}

/// Failed requests: the numerator of `error_rate` (session events such as `stale_playlist`
/// are counted by class but are not requests).
pub fn request_errors(b: &Breakdown) -> u64 {
    b.errors
        .iter()
        .filter(|(k, _)| k.is_request())
        .map(|(_, n)| n)
        .sum()
}

/// "80 video start failed, 3 playback failed": the failure outcomes that occurred.
pub fn failure_words(b: &Breakdown) -> String {
    let parts: Vec<String> = ViewerOutcome::ALL
        .iter()
        .filter(|o| o.is_failure() && b.viewers.get(**o) > 0)
        .map(|o| format!("{} {}", count(b.viewers.get(*o) as f64), o.words()))
        .collect();
    parts.join(", ")
}
