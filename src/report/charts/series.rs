//! A small reader for `timeseries.csv` (see `metrics::series` for the format), just what the
//! charts need: columns looked up by header name, so a column added later does not shift the
//! others, and empty cells kept as "no sample" rather than zero.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

/// One CSV row: its second, region, phase and every other column as an optional number.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub second: f64,
    pub region: String,
    pub phase: String,
    cells: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Default)]
pub struct Series {
    index: HashMap<String, usize>,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    /// Lines that did not parse (a truncated last line after a crash, say); skipped, counted.
    pub skipped: usize,
}

impl Series {
    pub fn load(path: &Path) -> anyhow::Result<Series> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Series::parse(&text))
    }

    pub fn parse(text: &str) -> Series {
        let mut lines = text.lines();
        let columns: Vec<String> = lines
            .next()
            .unwrap_or_default()
            .split(',')
            .map(|c| c.trim().to_string())
            .collect();
        let index: HashMap<String, usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect();
        let (Some(&sec), Some(&reg), Some(&ph)) =
            (index.get("second"), index.get("region"), index.get("phase"))
        else {
            return Series {
                skipped: lines.count(),
                ..Series::default()
            };
        };
        let mut series = Series {
            index,
            columns: columns.clone(),
            rows: Vec::new(),
            skipped: 0,
        };
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split(',').collect();
            let second = fields.get(sec).and_then(|s| s.trim().parse::<f64>().ok());
            match (second, fields.get(reg), fields.get(ph)) {
                (Some(second), Some(region), Some(phase)) if fields.len() == columns.len() => {
                    let cells = fields
                        .iter()
                        .map(|f| f.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
                        .collect();
                    series.rows.push(Row {
                        second,
                        region: region.to_string(),
                        phase: phase.to_string(),
                        cells,
                    });
                }
                _ => series.skipped += 1,
            }
        }
        series
    }

    /// The value of `column` in `row`; `None` for an empty cell or an unknown column.
    pub fn get(&self, row: &Row, column: &str) -> Option<f64> {
        self.index
            .get(column)
            .and_then(|&i| row.cells.get(i).copied().flatten())
    }

    /// Rows of one region (`all` for the merged rows), in file order (by second).
    pub fn region<'a>(&'a self, region: &'a str) -> impl Iterator<Item = &'a Row> + 'a {
        self.rows.iter().filter(move |r| r.region == region)
    }

    /// `(second, value)` of one column for one region.
    pub fn column(&self, region: &str, column: &str) -> Vec<(f64, Option<f64>)> {
        self.region(region)
            .map(|r| (r.second, self.get(r, column)))
            .collect()
    }

    /// Same, with empty cells read as 0 (counters are never empty, but a missing column is).
    pub fn counts(&self, region: &str, column: &str) -> Vec<(f64, f64)> {
        self.region(region)
            .map(|r| (r.second, self.get(r, column).unwrap_or(0.0)))
            .collect()
    }

    /// The last second present, for the time axis.
    pub fn last_second(&self) -> f64 {
        self.rows.iter().map(|r| r.second).fold(0.0, f64::max)
    }

    /// Error-class columns (`err_refused`, …), in file order.
    pub fn error_columns(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.starts_with("err_"))
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_by_header_keeps_empty_cells_and_skips_bad_lines() {
        let s = Series::parse("second,region,phase,arrivals,join_p99_ms\n0,eu,warm,3,12.5\n0,all,warm,3,\n1,eu,warm\nx,eu,warm,1,2\n");
        assert_eq!(s.rows.len(), 2);
        assert_eq!(s.skipped, 2);
        assert_eq!(s.column("eu", "join_p99_ms"), vec![(0.0, Some(12.5))]);
        assert_eq!(s.column("all", "join_p99_ms"), vec![(0.0, None)]);
        assert_eq!(s.counts("all", "nope"), vec![(0.0, 0.0)]);
    }

    #[test]
    fn empty_or_headerless_input_is_an_empty_series() {
        assert!(Series::parse("").rows.is_empty());
        assert!(Series::parse("a,b\n1,2\n").rows.is_empty());
    }
}
