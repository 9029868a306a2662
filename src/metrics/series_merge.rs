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
use super::names::Metric;
use super::result::{decode_histogram, new_histogram};
use super::series::SeriesWriter;
use super::series_file::SeriesFile;

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
/// A torn last line (the shard crashed mid-write) is skipped, as the shard's own report does.
fn read_csv(
    path: &Path,
    regions: &[String],
    offset: u64,
    into: &mut BTreeMap<u64, SecondCounters>,
) -> anyhow::Result<()> {
    let file = SeriesFile::read(path)?;
    file.require_counters()?;
    for row in &file.rows {
        if row.region == "all" {
            continue;
        }
        let region = regions
            .iter()
            .position(|r| *r == row.region)
            .ok_or_else(|| {
                anyhow!(
                    "{}: line {}: region `{}` is not one of the scenario's regions ({})",
                    path.display(),
                    row.line,
                    row.region,
                    regions.join(", ")
                )
            })?;
        let (counters, active) = file.counters(row)?;
        let entry = into
            .entry(row.second + offset)
            .or_insert_with(|| vec![(Counters::default(), 0); regions.len()]);
        entry[region].0.add(&counters);
        entry[region].1 += active;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::series::csv_header;

    /// A shard's files: `timeseries.csv` with its columns passed through `order` (the
    /// header's and every row's cells alike), and an empty interval log.
    fn shard(dir: &Path, order: impl Fn(Vec<String>) -> Vec<String>) {
        let header = csv_header();
        let names: Vec<&str> = header.split(',').collect();
        let line = |second: u64, region: &str, arrivals: u64, active: u64| {
            let cells = names
                .iter()
                .map(|n| match *n {
                    "second" => second.to_string(),
                    "region" => region.to_string(),
                    "phase" => "steady".to_string(),
                    "arrivals" | "joins_ok" | "requests" => arrivals.to_string(),
                    "active_viewers" => active.to_string(),
                    n if n.ends_with("_ms") => String::new(),
                    _ => "0".to_string(),
                })
                .collect();
            order(cells).join(",")
        };
        let header = order(names.iter().map(|n| n.to_string()).collect()).join(",");
        let text = [
            header,
            line(0, "eu", 3, 3),
            line(0, "all", 3, 3),
            line(1, "eu", 2, 5),
            line(1, "all", 2, 5),
        ]
        .join("\n");
        std::fs::create_dir_all(dir).expect("mkdir");
        std::fs::write(dir.join("timeseries.csv"), text + "\n").expect("csv");
        std::fs::write(dir.join("histograms.hlog"), "").expect("hlog");
    }

    fn merged(a: &Path, b: &Path, out: &Path) -> anyhow::Result<String> {
        std::fs::create_dir_all(out).expect("mkdir");
        let sources = [a, b].map(|dir| SeriesSource { dir, offset_s: 0 });
        merge_series(
            &sources,
            out,
            &["eu".to_string()],
            vec![("steady".into(), 0.0, 2.0)],
            0.0,
        )?;
        Ok(std::fs::read_to_string(out.join("timeseries.csv")).expect("merged csv"))
    }

    #[test]
    fn columns_are_read_by_name_so_their_order_does_not_matter() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (a, b, b_reversed) = (
            tmp.path().join("a"),
            tmp.path().join("b"),
            tmp.path().join("b-reversed"),
        );
        shard(&a, |c| c);
        shard(&b, |c| c);
        shard(&b_reversed, |mut c| {
            c.reverse();
            c
        });
        let same = merged(&a, &b, &tmp.path().join("out1")).expect("merges");
        let reordered = merged(&a, &b_reversed, &tmp.path().join("out2")).expect("merges");
        assert_eq!(same, reordered);
        let file = SeriesFile::parse(same.as_bytes(), "merged").expect("reads");
        let eu1 = file
            .rows
            .iter()
            .find(|r| r.region == "eu" && r.second == 1)
            .expect("eu, second 1");
        assert_eq!(file.get(eu1, "arrivals"), Some(4.0));
        assert_eq!(file.get(eu1, "active_viewers"), Some(10.0));
    }

    #[test]
    fn a_missing_or_unknown_column_is_an_error_naming_the_file_and_the_column() {
        let tmp = tempfile::tempdir().expect("tmp");
        let a = tmp.path().join("a");
        shard(&a, |c| c);
        // Merge `a` with a shard whose columns `edit` changed: the error, in words.
        let refused = |name: &str, edit: &dyn Fn(Vec<String>) -> Vec<String>| {
            let b = tmp.path().join(name);
            shard(&b, edit);
            let out = tmp.path().join(format!("{name}-out"));
            format!("{:#}", merged(&a, &b, &out).expect_err("refused"))
        };
        let capped = csv_header()
            .split(',')
            .position(|c| c == "capped")
            .expect("capped column");
        let e = refused("no-capped", &|mut c| {
            c.remove(capped);
            c
        });
        assert!(
            e.contains("no-capped/timeseries.csv: no `capped` column"),
            "{e}"
        );
        let e = refused("unknown", &|mut c| {
            c.push(if c[0] == "second" { "err_warp" } else { "0" }.into());
            c
        });
        assert!(
            e.contains("unknown/timeseries.csv: column `err_warp` is an error class"),
            "{e}"
        );
    }
}
