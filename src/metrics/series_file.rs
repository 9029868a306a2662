//! The one reader of `timeseries.csv` (the format is written by [`super::series`]): the
//! analysis, the charts, `merge` and `report DIR`'s integrity check read whole files through it
//! ([`SeriesFile`]), the collector reads shards' lines as they arrive
//! ([`SeriesHeader::parse_line`], then [`SeriesHeader::row`]), and [`SeriesHeader::counters`] is
//! the one typed reading of a row's counters. The `csv` crate does the splitting.
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
use csv::StringRecord;

use super::cell::Counters;
use super::names::ErrorKind;
use super::outcome::ViewerOutcome;

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

/// A header line: where each column is, by name.
#[derive(Debug, Clone)]
pub struct SeriesHeader {
    /// The file as named in messages.
    pub shown: String,
    pub columns: Vec<String>,
    index: HashMap<String, usize>,
    second: usize,
    region: usize,
    phase: usize,
    /// Where the counters are, or why they cannot be read (see [`SeriesHeader::counters`]).
    counters: Result<CounterColumns, String>,
}

/// The positions of [`Counters`]' columns.
#[derive(Debug, Clone)]
struct CounterColumns {
    /// arrivals, capped, joins_ok, joins_failed, departures, requests, active_viewers
    fixed: [usize; 7],
    errors: Vec<(usize, ErrorKind)>,
    outcomes: Vec<(usize, ViewerOutcome)>,
}

/// A whole `timeseries.csv`: its header (its methods are the file's, through `Deref`) and rows.
#[derive(Debug, Clone, Default)]
pub struct SeriesFile {
    pub header: SeriesHeader,
    pub rows: Vec<SeriesRow>,
    /// The line number of the last line when it was cut short (and skipped).
    pub torn_last_line: Option<u64>,
}

/// No columns (the charts' stand-in when the file cannot be read).
impl Default for SeriesHeader {
    fn default() -> SeriesHeader {
        SeriesHeader {
            shown: String::new(),
            columns: Vec::new(),
            index: HashMap::new(),
            second: 0,
            region: 0,
            phase: 0,
            counters: Err(missing("arrivals")),
        }
    }
}

impl std::ops::Deref for SeriesFile {
    type Target = SeriesHeader;

    fn deref(&self) -> &SeriesHeader {
        &self.header
    }
}

/// A CSV reader of peakready's dialect (`flexible`: a short line is judged by
/// [`SeriesHeader::record`], not refused by the parser).
fn reader(bytes: &[u8], has_headers: bool) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(has_headers)
        .from_reader(bytes)
}

impl SeriesFile {
    pub fn read(path: &Path) -> anyhow::Result<SeriesFile> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        SeriesFile::parse(&bytes, &path.display().to_string())
    }

    pub fn parse(bytes: &[u8], shown: &str) -> anyhow::Result<SeriesFile> {
        let mut reader = reader(bytes, true);
        let header = SeriesHeader::new(
            reader
                .headers()
                .with_context(|| format!("{shown}: line 1 is not a CSV header"))?,
            shown,
        )?;
        let mut file = SeriesFile {
            header,
            ..SeriesFile::default()
        };
        let mut records = reader.records().peekable();
        while let Some(record) = records.next() {
            let record = record.with_context(|| format!("{shown}: not CSV"))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != file.columns.len() && records.peek().is_none() {
                file.torn_last_line = Some(line);
                break;
            }
            file.rows.push(file.header.record(&record, line)?);
        }
        Ok(file)
    }
}

impl SeriesHeader {
    /// The header from its cells; an error when it lacks `second`, `region` or `phase`.
    fn new(cells: &StringRecord, shown: &str) -> anyhow::Result<SeriesHeader> {
        let columns: Vec<String> = cells.iter().map(String::from).collect();
        if columns.iter().all(String::is_empty) {
            bail!("{shown}: empty file: it has no header line");
        }
        let index: HashMap<String, usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect();
        let col = |name: &str| {
            index
                .get(name)
                .copied()
                .ok_or_else(|| anyhow!("{shown}: {}", missing(name)))
        };
        let (second, region, phase) = (col("second")?, col("region")?, col("phase")?);
        Ok(SeriesHeader {
            shown: shown.to_string(),
            counters: CounterColumns::of(&columns, &index),
            columns,
            index,
            second,
            region,
            phase,
        })
    }

    /// The header line of a file read as it is written (the collector reads each shard's
    /// lines as they arrive); `shown` names the file in messages.
    pub fn parse_line(line: &str, shown: &str) -> anyhow::Result<SeriesHeader> {
        let mut record = StringRecord::new();
        reader(line.as_bytes(), false)
            .read_record(&mut record)
            .with_context(|| format!("{shown}: line 1 is not a CSV header"))?;
        SeriesHeader::new(&record, shown)
    }

    /// One data line of a file read as it is written; `line` is its number in the file.
    pub fn row(&self, text: &str, line: u64) -> anyhow::Result<SeriesRow> {
        let mut record = StringRecord::new();
        reader(text.as_bytes(), false)
            .read_record(&mut record)
            .with_context(|| format!("{}: line {line}: not CSV", self.shown))?;
        self.record(&record, line)
    }

    /// A data record: every field a number (or empty), `second` a whole number.
    fn record(&self, record: &StringRecord, line: u64) -> anyhow::Result<SeriesRow> {
        let shown = &self.shown;
        if record.len() != self.columns.len() {
            bail!(
                "{shown}: line {line} has {} fields, the header has {}: the file is truncated or was \
                 edited. Restore it from the run (or re-run)",
                record.len(),
                self.columns.len()
            );
        }
        let raw_second = &record[self.second];
        let Ok(second) = raw_second.parse::<u64>() else {
            bail!(
                "{shown}: line {line}: second `{raw_second}` is not a whole number of seconds from 0: \
                 the file was edited"
            );
        };
        let mut cells = Vec::with_capacity(record.len());
        for (i, cell) in record.iter().enumerate() {
            if i == self.second || i == self.region || i == self.phase || cell.is_empty() {
                cells.push(None);
                continue;
            }
            match cell.parse::<f64>() {
                Ok(v) if v.is_finite() => cells.push(Some(v)),
                _ => bail!(
                    "{shown}: line {line}: `{cell}` in column `{}` is not a number: the file was edited",
                    self.columns[i]
                ),
            }
        }
        Ok(SeriesRow {
            line,
            second,
            region: record[self.region].to_string(),
            phase: record[self.phase].to_string(),
            cells,
        })
    }

    /// The position of column `name`, if the file has it.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The position of column `name`, or an error saying the file is not what it should be.
    pub fn require(&self, name: &str) -> anyhow::Result<usize> {
        self.column(name)
            .ok_or_else(|| anyhow!("{}: {}", self.shown, missing(name)))
    }

    /// `row`'s value in column `name`; `None` for an empty cell or a column the file lacks.
    pub fn get(&self, row: &SeriesRow, name: &str) -> Option<f64> {
        self.column(name).and_then(|i| row.value(i))
    }

    /// An error unless every counter column is there and every error class is one this build
    /// knows (what `merge` needs to add shards' counters without losing any).
    pub fn require_counters(&self) -> anyhow::Result<()> {
        self.counter_columns().map(|_| ())
    }

    fn counter_columns(&self) -> anyhow::Result<&CounterColumns> {
        self.counters
            .as_ref()
            .map_err(|why| anyhow!("{}: {why}", self.shown))
    }

    /// `row`'s counters and its `active_viewers`, each a whole count; an error naming the file,
    /// the line and the column otherwise.
    pub fn counters(&self, row: &SeriesRow) -> anyhow::Result<(Counters, u64)> {
        let cols = self.counter_columns()?;
        let count = |i: usize| -> anyhow::Result<u64> {
            match row.value(i) {
                Some(v) if v >= 0.0 && v.fract() == 0.0 => Ok(v as u64),
                v => bail!(
                    "{}: line {}: {} in column `{}` is not a count: the file was edited",
                    self.shown,
                    row.line,
                    v.map_or("an empty cell".to_string(), |v| format!("`{v}`")),
                    self.columns[i]
                ),
            }
        };
        let f = &cols.fixed;
        let mut counters = Counters {
            arrivals: count(f[0])?,
            capped: count(f[1])?,
            joins_ok: count(f[2])?,
            joins_failed: count(f[3])?,
            departures: count(f[4])?,
            requests: count(f[5])?,
            ..Counters::default()
        };
        for (i, kind) in &cols.errors {
            counters.errors[kind.index()] = count(*i)?;
        }
        for (i, outcome) in &cols.outcomes {
            counters.outcomes[outcome.index()] = count(*i)?;
        }
        Ok((counters, count(f[6])?))
    }
}

fn missing(name: &str) -> String {
    format!("no `{name}` column; this is not a peakready timeseries.csv (or it was edited)")
}

impl CounterColumns {
    fn of(columns: &[String], index: &HashMap<String, usize>) -> Result<CounterColumns, String> {
        let col = |name: &str| index.get(name).copied().ok_or_else(|| missing(name));
        let fixed = [
            col("arrivals")?,
            col("capped")?,
            col("joins_ok")?,
            col("joins_failed")?,
            col("departures")?,
            col("requests")?,
            col("active_viewers")?,
        ];
        // A file from a peakready that knew fewer error classes simply has fewer `err_*` columns
        // (those classes were never counted); a class this build does not know would be lost
        // when counters are added, so it is refused.
        let mut errors = Vec::new();
        for (i, h) in columns.iter().enumerate() {
            if let Some(name) = h.strip_prefix("err_") {
                let kind = ErrorKind::from_name(name).ok_or_else(|| {
                    format!(
                        "column `{h}` is an error class this peakready does not know; read it with the peakready that wrote it (merge shards with the peakready that ran them)"
                    )
                })?;
                errors.push((i, kind));
            }
        }
        // `viewers_<outcome>` columns; `viewers_failed` is derived from them when written.
        let outcomes = columns
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let name = h.strip_prefix("viewers_")?;
                ViewerOutcome::from_name(name).map(|o| (i, o))
            })
            .collect();
        Ok(CounterColumns {
            fixed,
            errors,
            outcomes,
        })
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

    #[test]
    fn lines_read_as_they_arrive_give_the_rows_and_counters_of_the_whole_file() {
        let header = crate::metrics::series::csv_header();
        let zeros = |second: &str, region: &str| {
            header
                .split(',')
                .map(|c| match c {
                    "second" => second,
                    "region" => region,
                    "phase" => "steady",
                    "arrivals" => "4",
                    "active_viewers" => "7",
                    c if c.ends_with("_ms") => "",
                    _ => "0",
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let h = SeriesHeader::parse_line(&header, "shard 2").expect("header");
        let row = h.row(&zeros("3", "eu"), 5).expect("row");
        assert_eq!((row.line, row.second, row.region.as_str()), (5, 3, "eu"));
        let (c, active) = h.counters(&row).expect("counters");
        assert_eq!((c.arrivals, c.joins_ok, active), (4, 0, 7));
        let whole = SeriesFile::parse(format!("{header}\n{}\n", zeros("3", "eu")).as_bytes(), "f")
            .expect("file");
        assert_eq!(whole.rows[0].second, row.second);
        assert_eq!(whole.counters(&whole.rows[0]).expect("counters").0, c);

        let fraction = zeros("3", "eu").replacen(",4,", ",4.5,", 1);
        let e = format!(
            "{:#}",
            h.counters(&h.row(&fraction, 9).expect("a number"))
                .unwrap_err()
        );
        assert!(
            e.contains("shard 2: line 9: `4.5` in column `arrivals` is not a count"),
            "{e}"
        );
        let short = format!("{:#}", h.row("3,eu,steady", 6).unwrap_err());
        assert!(short.contains("shard 2: line 6 has 3 fields"), "{short}");
        let e = format!(
            "{:#}",
            SeriesHeader::parse_line("second,region,phase,arrivals", "shard 2")
                .expect("a header")
                .require_counters()
                .unwrap_err()
        );
        assert!(e.contains("shard 2: no `capped` column"), "{e}");
    }
}
