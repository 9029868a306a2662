//! Live export of a run while it happens: Prometheus/OpenMetrics exposition (`--metrics-listen`)
//! and one JSON object per closed second (`--json-lines`).
//!
//! Fed by the recorder as each second closes, from the same interval cells as timeseries.csv,
//! so a dashboard and the results directory count the same events. Series are labelled by
//! region and by the phase the second belongs to. Latencies are Prometheus histograms (in
//! seconds, cumulative over the run) with buckets chosen per metric around what a live platform
//! cares about, plus the HdrHistogram p50/p95/p99 of the last closed second as gauges (exact,
//! where a histogram_quantile over buckets only interpolates).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::sync::Mutex;

use hdrhistogram::Histogram;

use super::cell::{Cell, Counters};
use super::names::{ErrorKind, Metric};

/// Exported latencies and their bucket upper bounds, in milliseconds.
const EXPORTED: [(Metric, &[f64]); 8] = [
    (
        Metric::ConnectMs,
        &[
            1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
        ],
    ),
    (
        Metric::TtfbMs,
        &[
            1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
        ],
    ),
    (
        Metric::JoinMs,
        &[
            10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 1500.0, 2500.0, 5000.0, 10000.0,
        ],
    ),
    (
        Metric::FirstFrameMs,
        &[
            100.0, 250.0, 500.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 6000.0, 10000.0, 20000.0,
        ],
    ),
    (
        Metric::PlaylistMs,
        &[
            5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0,
        ],
    ),
    (
        Metric::SegmentMs,
        &[
            10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0,
        ],
    ),
    (
        Metric::ChatDeliveryMs,
        &[5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0],
    ),
    (
        Metric::GeneratorLagMs,
        &[1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0],
    ),
];

const QUANTILES: [(f64, &str); 3] = [(0.5, "0.5"), (0.95, "0.95"), (0.99, "0.99")];

/// Cumulative buckets of one exported latency.
#[derive(Clone, Default)]
struct Buckets {
    counts: Vec<u64>,
    count: u64,
    sum_us: u64,
}

/// One (region, phase)'s cumulative series.
#[derive(Clone, Default)]
struct Series {
    counters: Counters,
    buckets: Vec<Buckets>,
    /// Per exported metric: p50, p95, p99 of the last closed second that had samples, in ms.
    last: Vec<Option<[f64; 3]>>,
}

#[derive(Default)]
struct State {
    series: BTreeMap<(usize, String), Series>,
    in_flight: Vec<u64>,
    phase_now: String,
    seconds_closed: u64,
}

/// What `--metrics-listen` serves and `--json-lines` writes.
pub struct LiveExport {
    regions: Vec<String>,
    /// (name, start s, end s)
    phases: Vec<(String, f64, f64)>,
    state: Mutex<State>,
    lines: Option<Mutex<BufWriter<File>>>,
}

impl LiveExport {
    pub fn new(
        regions: Vec<String>,
        phases: Vec<(String, f64, f64)>,
        json_lines: Option<&Path>,
    ) -> std::io::Result<LiveExport> {
        let lines = match json_lines {
            Some(p) => Some(Mutex::new(BufWriter::new(File::create(p)?))),
            None => None,
        };
        Ok(LiveExport {
            state: Mutex::new(State {
                in_flight: vec![0; regions.len()],
                ..State::default()
            }),
            regions,
            phases,
            lines,
        })
    }

    fn phase_at(&self, second: u64) -> &str {
        let mid = second as f64 + 0.5;
        self.phases
            .iter()
            .find(|(_, s, e)| mid >= *s && mid < *e)
            .map_or("drain", |p| p.0.as_str())
    }

    /// One closed second: `interval` per region (as for timeseries.csv), `active` viewers per
    /// region at its end.
    pub fn second_closed(&self, second: u64, interval: &[Cell], active: &[u64]) {
        let phase = self.phase_at(second).to_string();
        let mut line = serde_json::Map::new();
        if let Ok(mut st) = self.state.lock() {
            st.in_flight = active.to_vec();
            st.phase_now = phase.clone();
            st.seconds_closed = second + 1;
            for (r, cell) in interval.iter().enumerate() {
                let s = st
                    .series
                    .entry((r, phase.clone()))
                    .or_insert_with(|| Series {
                        buckets: EXPORTED
                            .iter()
                            .map(|(_, b)| Buckets {
                                counts: vec![0; b.len()],
                                ..Buckets::default()
                            })
                            .collect(),
                        last: vec![None; EXPORTED.len()],
                        ..Series::default()
                    });
                s.counters.add(&cell.counters);
                for (i, (metric, bounds)) in EXPORTED.iter().enumerate() {
                    let Some(h) = cell.hists[metric.index()]
                        .as_ref()
                        .filter(|h| !h.is_empty())
                    else {
                        continue;
                    };
                    add_to_buckets(&mut s.buckets[i], bounds, h);
                    s.last[i] =
                        Some(QUANTILES.map(|(q, _)| h.value_at_quantile(q) as f64 / 1000.0));
                }
            }
        }
        if let Some(lines) = &self.lines {
            line.insert("second".into(), second.into());
            line.insert("phase".into(), phase.into());
            let mut regions = serde_json::Map::new();
            for (r, cell) in interval.iter().enumerate() {
                let name = self.regions.get(r).cloned().unwrap_or_default();
                regions.insert(name, second_json(cell, active.get(r).copied().unwrap_or(0)));
            }
            line.insert("regions".into(), regions.into());
            if let Ok(mut w) = lines.lock() {
                // A full disk here must not stop the run; results files report their own.
                let _ = writeln!(w, "{}", serde_json::Value::Object(line));
                let _ = w.flush();
            }
        }
    }

    /// The exposition text (Prometheus text format 0.0.4, which OpenMetrics scrapers read).
    pub fn render(&self) -> String {
        let Ok(st) = self.state.lock() else {
            return String::new();
        };
        let mut out = String::new();
        let label = |r: usize, phase: &str| {
            format!(
                "region=\"{}\",phase=\"{}\"",
                escape(self.regions.get(r).map_or("", String::as_str)),
                escape(phase)
            )
        };
        let _ = writeln!(out, "# HELP peakready_seconds_closed Seconds of the run recorded so far.\n# TYPE peakready_seconds_closed gauge\npeakready_seconds_closed {}", st.seconds_closed);
        let _ = writeln!(out, "# HELP peakready_viewers_in_flight Viewers between arrival and leaving at the end of the last closed second.\n# TYPE peakready_viewers_in_flight gauge");
        for (r, n) in st.in_flight.iter().enumerate() {
            let _ = writeln!(
                out,
                "peakready_viewers_in_flight{{{}}} {n}",
                label(r, &st.phase_now)
            );
        }
        let counter = |out: &mut String, name: &str, help: &str, f: &dyn Fn(&Counters) -> u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((r, phase), s) in &st.series {
                let _ = writeln!(out, "{name}{{{}}} {}", label(*r, phase), f(&s.counters));
            }
        };
        counter(
            &mut out,
            "peakready_arrivals_total",
            "Viewers the plan started.",
            &|c| c.arrivals,
        );
        counter(
            &mut out,
            "peakready_joins_total",
            "Viewers whose join steps all succeeded (joined).",
            &|c| c.joins_ok,
        );
        counter(
            &mut out,
            "peakready_join_failures_total",
            "Viewers whose join failed.",
            &|c| c.joins_failed,
        );
        counter(&mut out, "peakready_requests_total", "Requests attempted (join steps, playlists, segments, chat connects); rate() is the request rate.", &|c| c.requests);
        let _ = writeln!(out, "# HELP peakready_failures_total Failures by class (requests and viewer outcomes), as in results.json errors.\n# TYPE peakready_failures_total counter");
        for ((r, phase), s) in &st.series {
            for kind in ErrorKind::ALL {
                let n = s.counters.errors[kind.index()];
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "peakready_failures_total{{{},class=\"{}\"}} {n}",
                        label(*r, phase),
                        kind.name()
                    );
                }
            }
        }
        for (i, (metric, bounds)) in EXPORTED.iter().enumerate() {
            let base = metric.name().trim_end_matches("_ms");
            let name = format!("peakready_{base}_seconds");
            let _ = writeln!(
                out,
                "# HELP {name} {} (buckets chosen for this metric).\n# TYPE {name} histogram",
                metric.name()
            );
            for ((r, phase), s) in &st.series {
                let b = &s.buckets[i];
                if b.count == 0 {
                    continue;
                }
                let l = label(*r, phase);
                for (le, n) in bounds.iter().zip(&b.counts) {
                    let _ = writeln!(out, "{name}_bucket{{{l},le=\"{}\"}} {n}", le / 1000.0);
                }
                let _ = writeln!(out, "{name}_bucket{{{l},le=\"+Inf\"}} {}", b.count);
                let _ = writeln!(out, "{name}_sum{{{l}}} {}", b.sum_us as f64 / 1e6);
                let _ = writeln!(out, "{name}_count{{{l}}} {}", b.count);
            }
            let gauge = format!("peakready_{base}_last_second_seconds");
            let _ = writeln!(out, "# HELP {gauge} HdrHistogram quantiles of {} over the last closed second with samples.\n# TYPE {gauge} gauge", metric.name());
            for ((r, phase), s) in &st.series {
                if let Some(q) = s.last[i] {
                    for ((_, qname), v) in QUANTILES.iter().zip(q) {
                        let _ = writeln!(
                            out,
                            "{gauge}{{{},quantile=\"{qname}\"}} {}",
                            label(*r, phase),
                            v / 1000.0
                        );
                    }
                }
            }
        }
        out
    }
}

/// Add one interval histogram (µs) into cumulative buckets (ms bounds).
fn add_to_buckets(b: &mut Buckets, bounds: &[f64], h: &Histogram<u64>) {
    for v in h.iter_recorded() {
        let us = h.highest_equivalent(v.value_iterated_to());
        let n = v.count_at_value();
        let ms = us as f64 / 1000.0;
        for (le, c) in bounds.iter().zip(b.counts.iter_mut()) {
            if ms <= *le {
                *c += n;
            }
        }
        b.count += n;
        b.sum_us += us.saturating_mul(n);
    }
}

fn second_json(cell: &Cell, active: u64) -> serde_json::Value {
    let c = &cell.counters;
    let mut errors = serde_json::Map::new();
    for kind in ErrorKind::ALL {
        if c.errors[kind.index()] > 0 {
            errors.insert(kind.name().into(), c.errors[kind.index()].into());
        }
    }
    let mut latency = serde_json::Map::new();
    for (metric, _) in EXPORTED {
        if let Some(h) = cell.hists[metric.index()]
            .as_ref()
            .filter(|h| !h.is_empty())
        {
            let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
            latency.insert(
                metric.name().into(),
                serde_json::json!({ "count": h.len(), "p50": q(0.5), "p95": q(0.95), "p99": q(0.99), "max": h.max() as f64 / 1000.0 }),
            );
        }
    }
    serde_json::json!({
        "viewers_in_flight": active,
        "arrivals": c.arrivals,
        "joins": c.joins_ok,
        "join_failures": c.joins_failed,
        "requests": c.requests,
        "failures": errors,
        "latency_ms": latency,
    })
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
