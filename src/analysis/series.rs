//! The per-second series as the analysis reads it: `timeseries.csv` through the one reader
//! ([`crate::metrics::series_file`]), its counters typed and its percentile columns kept by name.
//! An empty cell means "no sample that second" and is kept as `None`, never read as zero.

use std::collections::BTreeMap;
use std::path::Path;

use crate::metrics::series_file::SeriesFile;

/// One row: one second of one region (or `all`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecondRow {
    pub second: u64,
    pub region: String,
    pub phase: String,
    pub arrivals: u64,
    pub joins_ok: u64,
    pub joins_failed: u64,
    pub active_viewers: u64,
    pub requests: u64,
    pub errors: u64,
    /// Percentile columns (`join_p95_ms` → value in ms); absent when the second had no sample.
    pub latency: BTreeMap<String, f64>,
}

impl SecondRow {
    /// Failed ÷ attempted requests in this second; `None` when nothing was attempted.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }
}

/// The parsed file: the latency columns it has, and its rows in file order.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub latency_columns: Vec<String>,
    pub rows: Vec<SecondRow>,
}

impl Series {
    /// Rows of one region (`all` for every region together), in time order.
    pub fn region(&self, name: &str) -> Vec<&SecondRow> {
        let mut rows: Vec<&SecondRow> = self.rows.iter().filter(|r| r.region == name).collect();
        rows.sort_by_key(|r| r.second);
        rows
    }
}

pub fn read(path: &Path) -> Result<Series, String> {
    SeriesFile::read(path)
        .and_then(|f| from_file(&f))
        .map_err(|e| format!("{e:#}"))
}

pub fn parse(text: &str) -> Result<Series, String> {
    SeriesFile::parse(text.as_bytes(), "timeseries.csv")
        .and_then(|f| from_file(&f))
        .map_err(|e| format!("{e:#}"))
}

fn from_file(f: &SeriesFile) -> anyhow::Result<Series> {
    let counters = [
        f.require("arrivals")?,
        f.require("joins_ok")?,
        f.require("joins_failed")?,
        f.require("active_viewers")?,
        f.require("requests")?,
        f.require("errors")?,
    ];
    let latency: Vec<(usize, String)> = f
        .columns
        .iter()
        .enumerate()
        .filter(|(_, h)| h.ends_with("_ms"))
        .map(|(i, h)| (i, h.clone()))
        .collect();
    let rows = f
        .rows
        .iter()
        .map(|r| SecondRow {
            second: r.second,
            region: r.region.clone(),
            phase: r.phase.clone(),
            arrivals: r.count(counters[0]),
            joins_ok: r.count(counters[1]),
            joins_failed: r.count(counters[2]),
            active_viewers: r.count(counters[3]),
            requests: r.count(counters[4]),
            errors: r.count(counters[5]),
            latency: latency
                .iter()
                .filter_map(|(i, name)| Some((name.clone(), r.value(*i)?)))
                .collect(),
        })
        .collect();
    Ok(Series {
        latency_columns: latency.into_iter().map(|c| c.1).collect(),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_by_header_name_and_keeps_gaps() {
        let csv = "second,region,phase,arrivals,capped,joins_ok,joins_failed,departures,active_viewers,requests,errors,join_p95_ms\n\
                   0,eu,ramp,3,0,2,1,0,3,10,1,12.5\n\
                   1,eu,ramp,0,0,0,0,0,3,4,0,\n\
                   2,eu,ra";
        let s = parse(csv).expect("parses");
        assert_eq!(s.rows.len(), 2, "the torn last line is skipped");
        assert_eq!(s.rows[0].latency.get("join_p95_ms"), Some(&12.5));
        assert_eq!(s.rows[0].error_rate(), Some(0.1));
        assert!(s.rows[1].latency.is_empty());
        assert_eq!(s.latency_columns, vec!["join_p95_ms".to_string()]);
    }

    #[test]
    fn a_missing_column_is_an_error_not_a_panic() {
        assert!(parse("second,region\n0,eu\n").is_err());
        assert!(parse("").is_err());
    }
}
