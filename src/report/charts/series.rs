//! The per-second series as the charts read it: `timeseries.csv` through the one reader
//! ([`crate::metrics::series_file`]), with the lookups the charts need (a region's rows, one
//! column over time). Empty cells stay "no sample", never zero.

use std::path::Path;

use crate::metrics::series_file::{SeriesFile, SeriesRow};

/// The file, with chart lookups; `rows`, `columns` and `get` are the reader's own.
#[derive(Debug, Clone, Default)]
pub struct Series(SeriesFile);

impl std::ops::Deref for Series {
    type Target = SeriesFile;

    fn deref(&self) -> &SeriesFile {
        &self.0
    }
}

impl Series {
    pub fn load(path: &Path) -> anyhow::Result<Series> {
        SeriesFile::read(path).map(Series)
    }

    #[cfg(test)]
    pub fn parse(text: &str) -> anyhow::Result<Series> {
        SeriesFile::parse(text.as_bytes(), "timeseries.csv").map(Series)
    }

    /// Rows of one region (`all` for the merged rows), in file order (by second).
    pub fn region<'a>(&'a self, region: &'a str) -> impl Iterator<Item = &'a SeriesRow> + 'a {
        self.0.rows.iter().filter(move |r| r.region == region)
    }

    /// `(second, value)` of one column for one region.
    pub fn points(&self, region: &str, column: &str) -> Vec<(f64, Option<f64>)> {
        self.region(region)
            .map(|r| (r.second as f64, self.get(r, column)))
            .collect()
    }

    /// Same, with empty cells read as 0 (counters are never empty, but a missing column is).
    pub fn counts(&self, region: &str, column: &str) -> Vec<(f64, f64)> {
        self.region(region)
            .map(|r| (r.second as f64, self.get(r, column).unwrap_or(0.0)))
            .collect()
    }

    /// The last second present, for the time axis.
    pub fn last_second(&self) -> f64 {
        self.0
            .rows
            .iter()
            .map(|r| r.second as f64)
            .fold(0.0, f64::max)
    }

    /// Error-class columns (`err_refused`, …), in file order.
    pub fn error_columns(&self) -> Vec<&str> {
        self.0
            .columns
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
    fn looks_up_by_region_and_column_keeping_empty_cells() {
        let s = Series::parse(
            "second,region,phase,arrivals,join_p99_ms
0,eu,warm,3,12.5
0,all,warm,3,
1,eu,warm
",
        )
        .expect("parses");
        assert_eq!(s.rows.len(), 2);
        assert_eq!(s.torn_last_line, Some(4));
        assert_eq!(s.points("eu", "join_p99_ms"), vec![(0.0, Some(12.5))]);
        assert_eq!(s.points("all", "join_p99_ms"), vec![(0.0, None)]);
        assert_eq!(s.counts("all", "nope"), vec![(0.0, 0.0)]);
    }
}
