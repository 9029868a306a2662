//! `viewer.data`: a CSV of test accounts, rooms … whose columns become `{{column}}` variables.
//!
//! The file is read here, at validation, so a missing file, a ragged row or a column that is
//! no variable name is reported before any load. Values are never serialized (they are often
//! credentials); results.json records the file, the pick and the counts.

use std::path::Path;
use std::sync::Arc;

use super::ctx::Ctx;
use super::file::{DataFile, PickFile};
use super::interpolate::valid_name;
use super::model::{Data, Pick};

/// Rows above this are a mistake in a file name, not a feeder (and would fill memory).
const MAX_ROWS: usize = 10_000_000;

pub(crate) fn data(cx: &mut Ctx, d: DataFile, dir: &Path) -> Option<Data> {
    let pick = match d.pick.unwrap_or(PickFile::Sequential) {
        PickFile::Sequential => Pick::Sequential,
        PickFile::Random => Pick::Random,
        PickFile::Unique => Pick::Unique,
    };
    let path = dir.join(&d.file);
    let key = "viewer.data.file";
    let mut reader = match csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(&path)
    {
        Ok(r) => r,
        Err(e) => {
            cx.err(key, format!("cannot read {}: {e}", path.display()))
                .hint("the path is relative to the scenario file's folder");
            return None;
        }
    };
    let columns: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => {
            cx.err(key, format!("{}: {e}", path.display()));
            return None;
        }
    };
    for c in &columns {
        if !valid_name(c) || c == "viewer_id" {
            cx.expected(
                key,
                "a header row of variable names (letters, digits, `_`; not viewer_id)",
                format!("column `{c}` in {}", path.display()),
            );
        }
    }
    let mut rows = Vec::new();
    for rec in reader.records() {
        match rec {
            Ok(r) => rows.push(r.iter().map(str::to_string).collect::<Vec<String>>()),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                cx.err(key, format!("{}:{line}: {e}", path.display()))
                    .hint("every row needs one value per column of the header row");
                return None;
            }
        }
        if rows.len() > MAX_ROWS {
            cx.err(
                key,
                format!("{} has more than {MAX_ROWS} rows", path.display()),
            );
            return None;
        }
    }
    if rows.is_empty() {
        cx.err(
            key,
            format!("{} has a header row but no data rows", path.display()),
        );
        return None;
    }
    Some(Data {
        file: d.file,
        pick,
        columns,
        rows: rows.len(),
        values: Arc::new(rows),
    })
}
