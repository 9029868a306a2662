//! Per-second output, written as the run goes: `timeseries.csv` and `histograms.hlog`.
//!
//! # Format
//! `timeseries.csv`: one row per second per region, plus a row for region `all` (histograms
//! merged, counters summed). `errors` counts failed requests (the `error_rate` numerator);
//! the `err_*` columns count every class, session events such as `err_stale_playlist`
//! included. `viewers_<outcome>` count viewers whose visit ended that second, by outcome, and
//! `viewers_failed` the failed ones among them. Columns are [`csv_header`]; times in milliseconds, empty when the
//! second had no sample. `second` counts from the run's time zero; `phase` is the planned phase
//! that second falls in.
//!
//! `histograms.hlog`: the HdrHistogram V2 interval log (readable by HdrHistogram's
//! `HistogramLogProcessor` and the `hdrhistogram` crate's `IntervalLogIterator`). One line per
//! second, region and metric with samples, tagged `Tag=<region>/<metric>`. Values are in the
//! metric's recorded unit (µs for `*_ms`), and so is `Interval_Max`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

use super::cell::{Cell, Counters};
use super::names::{ErrorKind, Metric};
use super::outcome::ViewerOutcome;

/// Latency columns of the CSV: (metric, quantile, column name).
const LATENCY_COLUMNS: [(Metric, f64, &str); 11] = [
    (Metric::ConnectMs, 0.5, "connect_p50_ms"),
    (Metric::ConnectMs, 0.99, "connect_p99_ms"),
    (Metric::TtfbMs, 0.5, "ttfb_p50_ms"),
    (Metric::TtfbMs, 0.99, "ttfb_p99_ms"),
    (Metric::JoinMs, 0.5, "join_p50_ms"),
    (Metric::JoinMs, 0.95, "join_p95_ms"),
    (Metric::JoinMs, 0.99, "join_p99_ms"),
    (Metric::FirstFrameMs, 0.95, "first_frame_p95_ms"),
    (Metric::SegmentMs, 0.95, "segment_p95_ms"),
    (Metric::PlaylistMs, 0.95, "playlist_p95_ms"),
    (Metric::GeneratorLagMs, 0.99, "generator_lag_p99_ms"),
];

pub fn csv_header() -> String {
    let mut cols = vec![
        "second",
        "region",
        "phase",
        "arrivals",
        "capped",
        "joins_ok",
        "joins_failed",
        "departures",
        "active_viewers",
        "requests",
        "errors",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    cols.extend(ErrorKind::ALL.iter().map(|k| format!("err_{}", k.name())));
    cols.push("viewers_failed".into());
    cols.extend(
        ViewerOutcome::ALL
            .iter()
            .map(|o| format!("viewers_{}", o.name())),
    );
    cols.extend(LATENCY_COLUMNS.iter().map(|c| c.2.to_string()));
    cols.join(",")
}

pub struct SeriesWriter {
    csv: BufWriter<File>,
    hlog: BufWriter<File>,
    regions: Vec<String>,
    /// (name, start second, end second)
    phases: Vec<(String, f64, f64)>,
    merged: Cell,
    serializer: V2DeflateSerializer,
    /// The first write error, in words (file, second, cause); later seconds are not attempted,
    /// the run goes on measuring in memory.
    pub failure: Option<String>,
}

impl SeriesWriter {
    pub fn create(
        dir: &Path,
        regions: Vec<String>,
        phases: Vec<(String, f64, f64)>,
        start_epoch_s: f64,
    ) -> std::io::Result<SeriesWriter> {
        let mut csv = BufWriter::new(File::create(dir.join("timeseries.csv"))?);
        writeln!(csv, "{}", csv_header())?;
        let mut hlog = BufWriter::new(File::create(dir.join("histograms.hlog"))?);
        writeln!(hlog, "#[Histogram log format version 1.3]")?;
        writeln!(hlog, "#[peakready interval log: one interval per second, region and metric; values in microseconds for *_ms metrics]")?;
        writeln!(
            hlog,
            "#[StartTime: {start_epoch_s:.3} (seconds since epoch)]"
        )?;
        writeln!(hlog, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")?;
        csv.flush()?;
        hlog.flush()?;
        Ok(SeriesWriter {
            csv,
            hlog,
            regions,
            phases,
            merged: Cell {
                hists: (0..Metric::COUNT).map(|_| None).collect(),
                counters: Counters::default(),
            },
            serializer: V2DeflateSerializer::new(),
            failure: None,
        })
    }

    fn phase_at(&self, second: u64) -> &str {
        let mid = second as f64 + 0.5;
        self.phases
            .iter()
            .find(|(_, s, e)| mid >= *s && mid < *e)
            .map(|p| p.0.as_str())
            .unwrap_or("drain")
    }

    pub fn write_second(&mut self, second: u64, interval: &[Cell], active: &[u64]) {
        if self.failure.is_some() {
            return;
        }
        if let Err(e) = self.try_write_second(second, interval, active) {
            self.failed(format!("second {second}"), e);
        }
    }

    /// Records the first failure and says so at once: a disk filling up mid-run must never be
    /// silent, and the verdict must not be computed from what was cut off.
    fn failed(&mut self, when: String, e: WriteError) {
        let why = format!("writing {} failed at {when}: {}", e.0, e.1);
        eprintln!(
            "\npeakready: warning: {why}. The run goes on measuring in memory (whole-run figures \
             stay exact), but its per-second data is incomplete: the readiness verdict will be \
             INCOMPLETE and the exit code 3"
        );
        self.failure = Some(why);
    }

    fn try_write_second(
        &mut self,
        second: u64,
        interval: &[Cell],
        active: &[u64],
    ) -> Result<(), WriteError> {
        self.merged.counters = Counters::default();
        for h in self.merged.hists.iter_mut().flatten() {
            h.reset();
        }
        for (r, cell) in interval.iter().enumerate() {
            let name = self.regions.get(r).cloned().unwrap_or_default();
            let line = self.row(second, &name, cell, active.get(r).copied().unwrap_or(0));
            writeln!(self.csv, "{line}").map_err(WriteError::csv)?;
            self.write_hlog(second, &name, cell)
                .map_err(WriteError::hlog)?;
            self.merged.counters.add(&cell.counters);
            for (m, h) in cell.hists.iter().enumerate() {
                if let Some(h) = h.as_ref().filter(|h| !h.is_empty()) {
                    let slot = &mut self.merged.hists[m];
                    if slot.is_none() {
                        *slot = super::result::new_histogram().ok();
                    }
                    if let Some(merged) = slot {
                        let _ = merged.add(h);
                    }
                }
            }
        }
        let total_active = active.iter().sum();
        let line = self.row(second, "all", &self.merged, total_active);
        writeln!(self.csv, "{line}").map_err(WriteError::csv)?;
        self.flush_io()
    }

    fn row(&self, second: u64, region: &str, cell: &Cell, active: u64) -> String {
        let c = &cell.counters;
        let mut row = format!(
            "{second},{region},{},{},{},{},{},{},{active},{},{}",
            self.phase_at(second),
            c.arrivals,
            c.capped,
            c.joins_ok,
            c.joins_failed,
            c.departures,
            c.requests,
            c.request_errors()
        );
        for e in c.errors {
            row.push_str(&format!(",{e}"));
        }
        row.push_str(&format!(",{}", c.viewers_failed()));
        for n in c.outcomes {
            row.push_str(&format!(",{n}"));
        }
        for (metric, q, _) in LATENCY_COLUMNS {
            match cell.hists[metric.index()]
                .as_ref()
                .filter(|h| !h.is_empty())
            {
                Some(h) => row.push_str(&format!(",{:.3}", h.value_at_quantile(q) as f64 / 1000.0)),
                None => row.push(','),
            }
        }
        row
    }

    fn write_hlog(&mut self, second: u64, region: &str, cell: &Cell) -> std::io::Result<()> {
        for metric in Metric::RECORDED {
            let Some(h) = cell.hists[metric.index()]
                .as_ref()
                .filter(|h| !h.is_empty())
            else {
                continue;
            };
            let tag_text = format!("{region}/{}", metric.name());
            write_interval(&mut self.hlog, &mut self.serializer, h, second, &tag_text)?;
        }
        Ok(())
    }

    fn flush_io(&mut self) -> Result<(), WriteError> {
        self.csv.flush().map_err(WriteError::csv)?;
        self.hlog.flush().map_err(WriteError::hlog)
    }

    pub fn flush(&mut self) {
        if self.failure.is_some() {
            return;
        }
        if let Err(e) = self.flush_io() {
            self.failed("the end of the run".into(), e);
        }
    }
}

/// Which per-second file a write failed on, and why.
struct WriteError(&'static str, std::io::Error);

impl WriteError {
    fn csv(e: std::io::Error) -> WriteError {
        WriteError("timeseries.csv", e)
    }
    fn hlog(e: std::io::Error) -> WriteError {
        WriteError("histograms.hlog", e)
    }
}

fn write_interval(
    out: &mut impl Write,
    serializer: &mut V2DeflateSerializer,
    h: &Histogram<u64>,
    second: u64,
    tag: &str,
) -> std::io::Result<()> {
    let mut writer = IntervalLogWriterBuilder::new().begin_log_with(out, serializer)?;
    writer
        .write_histogram(
            h,
            std::time::Duration::from_secs(second),
            std::time::Duration::from_secs(1),
            Tag::new(tag),
        )
        .map_err(|e| std::io::Error::other(e.to_string()))
}
