//! Scenario files: parse, interpolate `${VAR}`, validate, resolve into [`Scenario`].
//!
//! Two representations (style.md, recommendation 2): `file.rs` mirrors the YAML exactly, and
//! `model.rs` is the resolved, typed [`Scenario`] that everything after this module reads. The
//! named, fallible step between them is `resolve.rs` (plus `target.rs` for hosts, headers and
//! regions). Errors are [`ScenarioErrors`]: every mistake with `file:line:col` (or `--set #N`),
//! the key path and a suggestion. `${VAR}` works in any scalar (`interpolate.rs`); variables used
//! in header values are secrets (`secrets.rs`) and never appear in an error, a `Debug` or a
//! serialized scenario. `--set` and `--env-file` are `overrides.rs`.
//!
//! This module must not import anything after it in the pipeline (plan, engine, report).

mod ctx;
mod data;
mod diff;
pub mod duration;
mod error;
mod extract;
mod file;
mod interpolate;
mod locate;
mod model;
mod overrides;
mod pos;
mod presets;
mod resolve;
pub mod search;
mod secrets;
mod slo;
pub(crate) mod target;
mod text;

#[cfg(test)]
mod env_tests;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod search_tests;
#[cfg(test)]
mod suggestion_tests;
#[cfg(test)]
mod target_tests;
#[cfg(test)]
mod tests;

use std::path::Path;

pub use diff::differing_sections;
pub use error::{ScenarioError, ScenarioErrors};
pub use interpolate::Found;
use locate::Locator;
pub use model::*;
pub use overrides::Overrides;
use pos::Pos;
#[cfg(test)]
mod fixture;
pub use presets::{preset, preset_names};

/// Read, parse and resolve a scenario file, taking `${VAR}`s from the process environment.
pub fn load(path: &Path) -> Result<Scenario, ScenarioErrors> {
    load_with(path, &Overrides::default())
}

/// [`load`] with `--set`s and `--env-file`s. Variables come from the env files (the last one
/// naming a variable wins), then the process environment, then the `${VAR:-default}`.
pub fn load_with(path: &Path, o: &Overrides) -> Result<Scenario, ScenarioErrors> {
    let source = path.display().to_string();
    let text = text::read(path, "scenario").map_err(ScenarioErrors::one)?;
    parse_configured(&text, &source, o)
}

/// Scenario text with `--set`s and `--env-file`s, variables as in [`load_with`].
pub fn parse_configured(
    text: &str,
    source: &str,
    o: &Overrides,
) -> Result<Scenario, ScenarioErrors> {
    let from_files = overrides::read_env_files(&o.env_files)?;
    let lookup = |name: &str| {
        from_files
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
            .or_else(|| {
                std::env::var(name).ok().map(|value| Found {
                    value,
                    origin: "the environment".into(),
                })
            })
    };
    parse_with(text, source, &lookup, &o.sets)
}

/// Parse and resolve scenario text. `source` names it in messages (usually the path as given);
/// `env` supplies `${VAR}` values, so tests need not touch the process environment.
pub fn parse_str(
    text: &str,
    source: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Scenario, ScenarioErrors> {
    let lookup = |name: &str| {
        env(name).map(|value| Found {
            value,
            origin: "the environment".into(),
        })
    };
    parse_with(text, source, &lookup, &[])
}

/// The whole pipeline: substitute `${…}` into the text, parse it, apply `--set`s to the tree,
/// read the tree into the file structs, resolve. Every error is located in the file as
/// written (or at its `--set #N`) and redacted of secrets.
pub fn parse_with(
    text: &str,
    source: &str,
    lookup: &dyn Fn(&str) -> Option<Found>,
    sets: &[String],
) -> Result<Scenario, ScenarioErrors> {
    text::check_size(text, source).map_err(ScenarioErrors::one)?;
    let normalized = text::normalize_newlines(text);
    let text: &str = &normalized;
    let has_content = text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && t != "---"
    });
    if !has_content {
        return Err(ScenarioErrors::one(
            ScenarioError::new(source, Pos::default(), "", "the scenario file is empty")
                .suggest("a scenario needs at least `name`, `target`, `load` and `viewer`"),
        ));
    }
    let interp = interpolate::interpolate(text, lookup);
    let loc = Locator::new(&interp.text).with_shifts(interp.shifts.clone());
    let parsed: Result<serde_yaml::Value, _> = serde_yaml::from_str(&interp.text);
    let leaves = parsed.as_ref().map(overrides::leaves).unwrap_or_default();
    let key_at = |pos: Pos| key_at(&loc, &leaves, pos);
    if !interp.problems.is_empty() {
        let errors = interp
            .problems
            .iter()
            .take(ctx::MAX_ERRORS)
            .map(|(pos, p)| secrets::ref_problem(source, *pos, &key_at(*pos), p))
            .collect();
        let total = interp.problems.len();
        return Err(ScenarioErrors(ctx::capped(errors, total, source)));
    }
    let refs: Vec<(String, &interpolate::Ref)> =
        interp.refs.iter().map(|r| (key_at(r.at), r)).collect();
    let (secrets, mut errors) = secrets::secrets(source, &refs);
    let mut value = parsed.map_err(|e| {
        if e.location().is_none() && e.to_string().contains("more than one document") {
            let err = text::several_documents(source, text::second_document(&interp.text));
            return ScenarioErrors::one(err).redact(&secrets);
        }
        let mut err = ScenarioError::from_yaml(source, &e);
        err.place(
            source.to_string(),
            loc.original(Pos {
                line: err.line,
                col: err.col,
            }),
        );
        ScenarioErrors::one(err).redact(&secrets)
    })?;
    let applied = match overrides::apply_sets(&mut value, sets) {
        Ok(a) => a,
        Err(e) => {
            errors.extend(e);
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(ScenarioErrors(errors).redact(&secrets));
    }
    let provenance = secrets::provenance(&refs, &leaves, &applied);
    let cx = ctx::Ctx {
        file: source,
        loc,
        errors: Vec::new(),
        secrets,
        sets: applied.iter().map(|a| (a.n, a.path.clone())).collect(),
    };
    // Nothing from outside the tree reaches serde's messages but the values themselves, and
    // those are redacted.
    let raw: file::ScenarioFile = match serde_path_to_error::deserialize(value) {
        Ok(raw) => raw,
        Err(e) => {
            let path = e.path().to_string();
            let mut err = ScenarioError::from_path(source, &path, &e.into_inner().to_string());
            let key = err.key.clone();
            let (file, pos) = cx.at(&key, err.is_unknown_key());
            err.place(file, pos);
            return Err(ScenarioErrors::one(err).redact(&cx.secrets));
        }
    };
    let mut scenario = resolve::resolve(raw, cx)?;
    scenario.overrides = provenance;
    Ok(scenario)
}

/// The key path of the scalar a position (in the file as written) falls in: the last scalar
/// starting on that line at or before it.
fn key_at(loc: &Locator, leaves: &[(String, String)], pos: Pos) -> String {
    leaves
        .iter()
        .map(|(path, _)| (loc.find(path), path))
        .filter(|(p, _)| p.line == pos.line && p.col <= pos.col)
        .max_by_key(|(p, _)| p.col)
        .map(|(_, path)| path.clone())
        .unwrap_or_default()
}

impl Scenario {
    /// Keys that parse but this version does not act on yet, one line each, for `validate` and
    /// the start of `run`. Remove a line when its feature lands.
    pub fn notices(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, p) in self.load.phases.iter().enumerate() {
            let peak = p.joins_per_sec.max(p.ramp_to.unwrap_or(0.0));
            if peak > self.load.max_joins_per_sec {
                out.push(format!(
                    "load.phases[{i}]: {peak} joins/s is above load.max_joins_per_sec ({}); arrivals will be capped",
                    self.load.max_joins_per_sec
                ));
            }
        }
        if self.search.is_some() {
            out.push(
                "search: read by `peakready capacity` only; this run follows load.phases".into(),
            );
        }
        out
    }
}
