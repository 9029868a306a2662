//! Reading `timeseries.csv` back (the format is documented in `metrics::series`).
//!
//! Columns are found by header name, not position, so a writer that adds columns (new error
//! classes, new percentile columns) does not break older analysis code. An empty cell means
//! "no sample that second" and is kept as `None`, never read as zero.

use std::collections::BTreeMap;
use std::path::Path;

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
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<Series, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("no `{name}` column"))
    };
    let (second, region, phase) = (col("second")?, col("region")?, col("phase")?);
    let counters = [
        col("arrivals")?,
        col("joins_ok")?,
        col("joins_failed")?,
        col("active_viewers")?,
        col("requests")?,
        col("errors")?,
    ];
    let latency: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.ends_with("_ms"))
        .map(|(i, h)| (i, h.to_string()))
        .collect();
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // A crash can cut the last line short; the recorder flushes whole lines, so a short
        // line can only be the last one and is skipped rather than failing the whole analysis.
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() < header.len() {
            continue;
        }
        let int = |i: usize| -> Result<u64, String> {
            cells[i].parse::<u64>().map_err(|_| {
                format!(
                    "line {}: `{}` is not a count ({})",
                    n + 2,
                    cells[i],
                    header[i]
                )
            })
        };
        let mut row = SecondRow {
            second: int(second)?,
            region: cells[region].to_string(),
            phase: cells[phase].to_string(),
            arrivals: int(counters[0])?,
            joins_ok: int(counters[1])?,
            joins_failed: int(counters[2])?,
            active_viewers: int(counters[3])?,
            requests: int(counters[4])?,
            errors: int(counters[5])?,
            latency: BTreeMap::new(),
        };
        for (i, name) in &latency {
            if cells[*i].is_empty() {
                continue;
            }
            let v = cells[*i]
                .parse::<f64>()
                .map_err(|_| format!("line {}: `{}` is not a number ({name})", n + 2, cells[*i]))?;
            row.latency.insert(name.clone(), v);
        }
        rows.push(row);
    }
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
