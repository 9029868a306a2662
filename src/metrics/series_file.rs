//! The one reader of `timeseries.csv` (the format is written by [`super::series`]): the
//! analysis, the charts, `merge` and `report DIR`'s integrity check all read through it, and the
//! `csv` crate does the splitting.
//!
//! Columns are found by header name, so a file from a peakready with more or fewer columns
//! (error classes added since) still reads. An empty cell is "no sample that second", kept as
//! `None`, never zero. The recorder flushes whole lines, so only the last line can be cut short
//! (a crash, a full disk): it is skipped and said (`torn_last_line`, for the caller to judge);
//! any other line of the wrong length, or a cell that is not a number, is an error naming the
//! file, the line and the column.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context};

/// One line: one second of one region (or `all`).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRow {
    /// Line number in the file (the header is line 1).
    pub line: u64,
    pub second: u64,
    pub region: String,
    pub phase: String,
    /// Every column as a number, by header position (`None`: empty, or the text columns).
    cells: Vec<Option<f64>>,
}

/// A whole `timeseries.csv`.
#[derive(Debug, Clone, Default)]
pub struct SeriesFile {
    /// The file as named in messages.
    pub shown: String,
    pub columns: Vec<String>,
    index: HashMap<String, usize>,
    pub rows: Vec<SeriesRow>,
    /// The line number of the last line when it was cut short (and skipped).
    pub torn_last_line: Option<u64>,
}

impl SeriesFile {
    pub fn read(path: &Path) -> anyhow::Result<SeriesFile> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        SeriesFile::parse(&bytes, &path.display().to_string())
    }

    pub fn parse(bytes: &[u8], shown: &str) -> anyhow::Result<SeriesFile> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
        let columns: Vec<String> = reader
            .headers()
            .with_context(|| format!("{shown}: line 1 is not a CSV header"))?
            .iter()
            .map(String::from)
            .collect();
        if columns.iter().all(String::is_empty) {
            bail!("{shown}: empty file: it has no header line");
        }
        let index: HashMap<String, usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect();
        let mut file = SeriesFile {
            shown: shown.to_string(),
            columns,
            index,
            ..SeriesFile::default()
        };
        let (second, region, phase) = (
            file.require("second")?,
            file.require("region")?,
            file.require("phase")?,
        );
        let mut records = reader.records().peekable();
        while let Some(record) = records.next() {
            let record = record.with_context(|| format!("{shown}: not CSV"))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != file.columns.len() {
                if records.peek().is_none() {
                    file.torn_last_line = Some(line);
                    break;
                }
                bail!(
                    "{shown}: line {line} has {} fields, the header has {}: the file is truncated or was \
                     edited. Restore it from the run (or re-run)",
                    record.len(),
                    file.columns.len()
                );
            }
            let raw_second = &record[second];
            let Ok(second_n) = raw_second.parse::<u64>() else {
                bail!(
                    "{shown}: line {line}: second `{raw_second}` is not a whole number of seconds from 0: \
                     the file was edited"
                );
            };
            let mut cells = Vec::with_capacity(record.len());
            for (i, cell) in record.iter().enumerate() {
                if i == second || i == region || i == phase || cell.is_empty() {
                    cells.push(None);
                    continue;
                }
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => cells.push(Some(v)),
                    _ => bail!(
                        "{shown}: line {line}: `{cell}` in column `{}` is not a number: the file was edited",
                        file.columns[i]
                    ),
                }
            }
            file.rows.push(SeriesRow {
                line,
                second: second_n,
                region: record[region].to_string(),
                phase: record[phase].to_string(),
                cells,
            });
        }
        Ok(file)
    }

    /// The position of column `name`, if the file has it.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The position of column `name`, or an error saying the file is not what it should be.
    pub fn require(&self, name: &str) -> anyhow::Result<usize> {
        self.column(name).ok_or_else(|| {
            anyhow!(
                "{}: no `{name}` column; this is not a peakready timeseries.csv (or it was edited)",
                self.shown
            )
        })
    }

    /// `row`'s value in column `name`; `None` for an empty cell or a column the file lacks.
    pub fn get(&self, row: &SeriesRow, name: &str) -> Option<f64> {
        self.column(name).and_then(|i| row.value(i))
    }
}

impl SeriesRow {
    /// The number in column `i` (`None`: empty).
    pub fn value(&self, i: usize) -> Option<f64> {
        self.cells.get(i).copied().flatten()
    }

    /// A counter column: a whole number, 0 when empty.
    pub fn count(&self, i: usize) -> u64 {
        self.value(i).map_or(0, |v| v.max(0.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "second,region,phase,arrivals,join_p95_ms\n";

    #[test]
    fn reads_by_header_keeps_gaps_and_skips_only_a_torn_last_line() {
        let text = format!("{HEAD}0,eu,ramp,3,12.5\n1,eu,ramp,0,\n2,eu,ra");
        let f = SeriesFile::parse(text.as_bytes(), "t.csv").expect("parses");
        assert_eq!(f.rows.len(), 2);
        assert_eq!(f.torn_last_line, Some(4));
        assert_eq!(f.get(&f.rows[0], "join_p95_ms"), Some(12.5));
        assert_eq!(f.get(&f.rows[1], "join_p95_ms"), None);
        assert_eq!(f.get(&f.rows[1], "no_such_column"), None);
        assert_eq!(f.rows[0].count(f.require("arrivals").unwrap()), 3);
        assert_eq!((f.rows[1].line, f.rows[1].second), (3, 1));
    }

    #[test]
    fn damage_is_an_error_naming_file_line_and_column() {
        let err = |text: String| {
            format!(
                "{:#}",
                SeriesFile::parse(text.as_bytes(), "t.csv").unwrap_err()
            )
        };
        let short = err(format!("{HEAD}0,eu,ramp\n1,eu,ramp,1,2\n"));
        assert!(
            short.contains("t.csv: line 2 has 3 fields, the header has 5"),
            "{short}"
        );
        let text = err(format!("{HEAD}0,eu,ramp,x,2\n"));
        assert!(
            text.contains("line 2: `x` in column `arrivals` is not a number"),
            "{text}"
        );
        let second = err(format!("{HEAD}-1,eu,ramp,1,2\n"));
        assert!(
            second.contains("second `-1` is not a whole number"),
            "{second}"
        );
        assert!(err("second,region\n0,eu\n".into()).contains("no `phase` column"));
        assert!(err(String::new()).contains("empty file"));
    }
}
