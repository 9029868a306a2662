//! Where errors accumulate while resolving one file ([`Ctx`]): each located at its key, or at
//! the `--set` that put it there, and at most [`MAX_ERRORS`] of them shown. Every part of the
//! resolution (`resolve.rs`, `target.rs`, `slo.rs`, `search.rs`, `data.rs`, `extract.rs`)
//! reports through it.

use super::error::ScenarioError;
use super::locate::Locator;
use super::overrides::{is_under, set_label};
use super::pos::Pos;

/// Errors shown for one file. Each is located by walking the text, so past this many they are
/// counted, not located: 2,000 mistaken keys cost 16 s to locate one by one, and nobody reads
/// past the first screen before fixing them.
pub const MAX_ERRORS: usize = 50;

/// Where errors accumulate while resolving one file.
pub(crate) struct Ctx<'a> {
    pub file: &'a str,
    pub loc: Locator,
    pub errors: Vec<ScenarioError>,
    /// (VAR, value) pairs of secrets (variables used in headers); every error is redacted with
    /// them at the end.
    pub secrets: Vec<(String, String)>,
    /// `--set`s applied: (N, key path). A key at or under one is located as `--set #N`.
    pub sets: Vec<(usize, String)>,
}

impl Ctx<'_> {
    /// Where a problem at `key` is shown: the last `--set` that set it or a parent of it, else
    /// the file's line (the key's own position when `key_itself`, e.g. an unknown key).
    pub fn at(&self, key: &str, key_itself: bool) -> (String, Pos) {
        if let Some((n, _)) = self.sets.iter().rev().find(|(_, p)| is_under(key, p)) {
            return (set_label(*n), Pos::default());
        }
        let pos = if key_itself {
            self.loc.key_pos(key)
        } else {
            self.loc.find(key)
        };
        // Not in the file at all: a `--set` under the same parent created it.
        if pos == Pos::default() {
            let parent = key.rsplit_once('.').map_or("", |(p, _)| p);
            if let Some((n, _)) = self
                .sets
                .iter()
                .rev()
                .find(|(_, p)| !parent.is_empty() && is_under(p, parent))
            {
                return (set_label(*n), Pos::default());
            }
        }
        (self.file.to_string(), pos)
    }

    /// [`Ctx::at`] for the first [`MAX_ERRORS`] errors; the file with no place after that.
    fn place(&self, key: &str) -> (String, Pos) {
        if self.errors.len() >= MAX_ERRORS {
            return (self.file.to_string(), Pos::default());
        }
        self.at(key, false)
    }

    /// A problem at `key`, in free words.
    pub fn err(&mut self, key: &str, problem: impl Into<String>) -> &mut ScenarioError {
        let (file, pos) = self.place(key);
        let e = ScenarioError::new(&file, pos, key, problem);
        self.errors.push(e);
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    /// `expected {expected}, got {found}` at `key`.
    pub fn expected(
        &mut self,
        key: &str,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> &mut ScenarioError {
        let (file, pos) = self.place(key);
        let e = ScenarioError::expected(&file, pos, key, expected, found);
        self.errors.push(e);
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    /// `v` unchanged; records an error unless it is finite and ≥ 0 (or > 0 when `strict`).
    pub fn number(&mut self, key: &str, v: f64, strict: bool) -> f64 {
        let ok = v.is_finite() && if strict { v > 0.0 } else { v >= 0.0 };
        if !ok {
            let what = if strict {
                "a number greater than 0"
            } else {
                "a number ≥ 0"
            };
            self.expected(key, what, v.to_string());
        }
        v
    }

    pub fn nonzero_duration(&mut self, key: &str, d: std::time::Duration) {
        if d.is_zero() {
            self.expected(key, "a duration greater than 0", "0");
        }
    }
}

/// The first [`MAX_ERRORS`] of `total` errors (`errors` holds at least those), and a line
/// counting the rest.
pub(crate) fn capped(
    mut errors: Vec<ScenarioError>,
    total: usize,
    file: &str,
) -> Vec<ScenarioError> {
    if total > MAX_ERRORS {
        errors.truncate(MAX_ERRORS);
        errors.push(ScenarioError::new(
            file,
            Pos::default(),
            "",
            format!(
                "and {} more mistakes like these, not shown: fix these first",
                total - MAX_ERRORS
            ),
        ));
    }
    errors
}
