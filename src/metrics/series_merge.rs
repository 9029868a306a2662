//! Merging shards' `timeseries.csv` and `histograms.hlog` (formats in [`super::series`]) into
//! one pair, as if one recorder had seen every shard's events.
//!
//! Each shard's second `s` becomes merged second `s + offset` (its start time minus the
//! earliest shard's, rounded to whole seconds: see `crate::cmd::merge`). In each merged second the
//! counters of every shard are summed, concurrency is summed (viewers live at the same time),
//! and the interval histograms of the same region and metric are added; the CSV percentile
//! columns and the `all` rows are then recomputed from those sums by the same
//! [`SeriesWriter`] that `run` uses, so the files cannot drift from a single run's.
//! Only one second's histograms are decoded at a time.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use super::cell::{Cell, Counters};
use super::names::{ErrorKind, Metric};
use super::outcome::ViewerOutcome;
use super::result::{decode_histogram, new_histogram};
use super::series::SeriesWriter;

/// One shard's directory and the shift applied to its seconds.
pub struct SeriesSource<'a> {
    pub dir: &'a Path,
    pub offset_s: u64,
}

/// Highest summed concurrency seen in any merged second, per region and overall.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesPeaks {
    pub regions: Vec<u64>,
    pub overall: u64,
}

/// Counters and concurrency of each region in one merged second.
type SecondCounters = Vec<(Counters, u64)>;

/// An interval histogram not yet decoded: region index, metric, base64 text.
type Pending<'a> = (usize, Metric, &'a str, &'a Path);

/// Merge the shards' per-second files into `out` (which exists and is empty).
/// `phases` are (name, start s, end s) of the plan, for the CSV `phase` column.
pub fn merge_series(
    sources: &[SeriesSource],
    out: &Path,
    regions: &[String],
    phases: Vec<(String, f64, f64)>,
    start_epoch_s: f64,
) -> anyhow::Result<SeriesPeaks> {
    let mut counters: BTreeMap<u64, SecondCounters> = BTreeMap::new();
    for s in sources {
        read_csv(
            &s.dir.join("timeseries.csv"),
            regions,
            s.offset_s,
            &mut counters,
        )?;
    }
    let logs = sources
        .iter()
        .map(|s| {
            let path = s.dir.join("histograms.hlog");
            std::fs::read(&path)
                .with_context(|| format!("reading {}", path.display()))
                .map(|bytes| (path, bytes, s.offset_s))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut pending: BTreeMap<u64, Vec<Pending>> = BTreeMap::new();
    for (path, bytes, offset) in &logs {
        index_hlog(path, bytes, regions, *offset, &mut pending)?;
    }

    let mut writer = SeriesWriter::create(out, regions.to_vec(), phases, start_epoch_s)
        .with_context(|| format!("creating timeseries files in {}", out.display()))?;
    let mut peaks = SeriesPeaks {
        regions: vec![0; regions.len()],
        overall: 0,
    };
    let mut seconds: Vec<u64> = counters.keys().chain(pending.keys()).copied().collect();
    seconds.sort_unstable();
    seconds.dedup();
    for second in seconds {
        let mut cells: Vec<Cell> = regions.iter().map(|_| Cell::new()).collect();
        let mut active = vec![0u64; regions.len()];
        if let Some(rows) = counters.get(&second) {
            for (r, (c, a)) in rows.iter().enumerate() {
                cells[r].counters.add(c);
                active[r] += a;
            }
        }
        for (r, metric, encoded, path) in pending.remove(&second).unwrap_or_default() {
            let hist = decode_histogram(encoded).map_err(|e| {
                anyhow!(
                    "{}: second {second}, tag {}/{}: {e}; the file was altered or truncated, re-run this shard",
                    path.display(),
                    regions[r],
                    metric.name()
                )
            })?;
            let slot = &mut cells[r].hists[metric.index()];
            if slot.is_none() {
                *slot = Some(new_histogram().context("creating a histogram")?);
            }
            if let Some(acc) = slot {
                acc.add(&hist)
                    .map_err(|e| anyhow!("{}: adding histograms: {e:?}", path.display()))?;
            }
        }
        for (peak, a) in peaks.regions.iter_mut().zip(&active) {
            *peak = (*peak).max(*a);
        }
        peaks.overall = peaks.overall.max(active.iter().sum());
        writer.write_second(second, &cells, &active);
    }
    writer.flush();
    if let Some(why) = writer.failure.take() {
        bail!("{}: {why}", out.display());
    }
    Ok(peaks)
}

/// Add one shard's CSV rows (its `all` rows are skipped: they are recomputed) into `into`.
fn read_csv(
    path: &Path,
    regions: &[String],
    offset: u64,
    into: &mut BTreeMap<u64, SecondCounters>,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .ok_or_else(|| anyhow!("{} is empty: it has no header row", path.display()))?;
    let columns = CsvColumns::of(header).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    for (n, line) in lines.enumerate() {
        let line_no = n + 2;
        let row = match columns.row(line) {
            Ok(Some(row)) => row,
            Ok(None) => continue,
            Err(e) => bail!("{} line {line_no}: {e}", path.display()),
        };
        if row.region == "all" {
            continue;
        }
        let region = regions
            .iter()
            .position(|r| r == row.region)
            .ok_or_else(|| {
                anyhow!(
                    "{} line {line_no}: region `{}` is not one of the scenario's regions ({})",
                    path.display(),
                    row.region,
                    regions.join(", ")
                )
            })?;
        let entry = into
            .entry(row.second + offset)
            .or_insert_with(|| vec![(Counters::default(), 0); regions.len()]);
        entry[region].0.add(&row.counters);
        entry[region].1 += row.active;
    }
    Ok(())
}

/// Where a `timeseries.csv`'s columns are, read from its header: the one reading of a row's
/// counters, for `merge` (whole files) and the collector's live view (lines as they arrive).
pub struct CsvColumns {
    header: Vec<String>,
    second: usize,
    region: usize,
    /// arrivals, capped, joins_ok, joins_failed, departures, requests, active_viewers
    fields: [usize; 7],
    errors: Vec<(usize, ErrorKind)>,
    outcomes: Vec<(usize, ViewerOutcome)>,
}

/// One region's (or `all`'s) row.
pub struct CsvRow<'a> {
    pub second: u64,
    pub region: &'a str,
    pub counters: Counters,
    pub active: u64,
}

impl CsvColumns {
    /// Column positions from the header line; an error in words when it is not peakready's.
    pub fn of(header: &str) -> Result<CsvColumns, String> {
        let header: Vec<String> = header.split(',').map(String::from).collect();
        let col = |name: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                format!(
                    "no `{name}` column; this is not a peakready timeseries.csv (or it was edited)"
                )
            })
        };
        let (second, region) = (col("second")?, col("region")?);
        let fields = [
            col("arrivals")?,
            col("capped")?,
            col("joins_ok")?,
            col("joins_failed")?,
            col("departures")?,
            col("requests")?,
            col("active_viewers")?,
        ];
        // A CSV from a peakready that knew fewer error classes simply has fewer `err_*` columns
        // (those classes were never counted); a class this build does not know would be lost, so
        // it is refused.
        let mut errors = Vec::new();
        for (i, h) in header.iter().enumerate() {
            if let Some(name) = h.strip_prefix("err_") {
                let kind = ErrorKind::from_name(name).ok_or_else(|| {
                    format!(
                        "column `{h}` is an error class this peakready does not know; merge with the peakready that ran the shards"
                    )
                })?;
                errors.push((i, kind));
            }
        }
        // `viewers_<outcome>` columns; `viewers_failed` is derived from them when written.
        let outcomes = header
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let name = h.strip_prefix("viewers_")?;
                ViewerOutcome::from_name(name).map(|o| (i, o))
            })
            .collect();
        Ok(CsvColumns {
            header,
            second,
            region,
            fields,
            errors,
            outcomes,
        })
    }

    /// One data line. `None` for a line that is not a whole row: blank, or shorter than the
    /// header (the recorder flushes whole lines; a short one is a crash's torn last line).
    pub fn row<'a>(&self, line: &'a str) -> Result<Option<CsvRow<'a>>, String> {
        let cells: Vec<&str> = line.split(',').collect();
        if line.trim().is_empty() || cells.len() < self.header.len() {
            return Ok(None);
        }
        let int = |i: usize| -> Result<u64, String> {
            cells[i].parse::<u64>().map_err(|_| {
                format!(
                    "`{}` in column `{}` is not a count",
                    cells[i], self.header[i]
                )
            })
        };
        let f = &self.fields;
        let mut counters = Counters {
            arrivals: int(f[0])?,
            capped: int(f[1])?,
            joins_ok: int(f[2])?,
            joins_failed: int(f[3])?,
            departures: int(f[4])?,
            requests: int(f[5])?,
            ..Counters::default()
        };
        for (i, kind) in &self.errors {
            counters.errors[kind.index()] = int(*i)?;
        }
        for (i, outcome) in &self.outcomes {
            counters.outcomes[outcome.index()] = int(*i)?;
        }
        Ok(Some(CsvRow {
            second: int(self.second)?,
            region: cells[self.region],
            counters,
            active: int(f[6])?,
        }))
    }
}

/// Index one shard's interval log by merged second, without decoding the histograms.
fn index_hlog<'a>(
    path: &'a Path,
    bytes: &'a [u8],
    regions: &[String],
    offset: u64,
    into: &mut BTreeMap<u64, Vec<Pending<'a>>>,
) -> anyhow::Result<()> {
    for entry in IntervalLogIterator::new(bytes) {
        let interval = match entry {
            Ok(LogEntry::Interval(i)) => i,
            Ok(_) => continue,
            Err(hdrhistogram::serialization::interval_log::LogIteratorError::ParseError {
                offset: at,
            }) => {
                let line = bytes[..at.min(bytes.len())]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1;
                bail!(
                    "{} line {line}: not an HdrHistogram interval log line; the file was altered or truncated, re-run this shard",
                    path.display()
                );
            }
        };
        let tag = interval.tag().map(|t| t.as_str()).unwrap_or_default();
        let (region_name, metric_name) = tag.rsplit_once('/').ok_or_else(|| {
            anyhow!(
                "{}: interval tag `{tag}` is not `<region>/<metric>`",
                path.display()
            )
        })?;
        let region = regions
            .iter()
            .position(|r| r == region_name)
            .ok_or_else(|| {
                anyhow!(
                    "{}: tag `{tag}`: region `{region_name}` is not one of the scenario's regions ({})",
                    path.display(),
                    regions.join(", ")
                )
            })?;
        let metric = Metric::from_name(metric_name).ok_or_else(|| {
            anyhow!(
                "{}: tag `{tag}`: unknown metric `{metric_name}`; merge with the peakready that ran the shards",
                path.display()
            )
        })?;
        // Intervals are written at whole seconds from the shard's time zero.
        let second = interval.start_timestamp().as_secs_f64().round() as u64 + offset;
        into.entry(second)
            .or_default()
            .push((region, metric, interval.encoded_histogram(), path));
    }
    Ok(())
}
