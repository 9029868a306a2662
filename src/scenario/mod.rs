//! Scenario files: parse, interpolate `${VAR}`, validate, resolve into [`Scenario`].
//!
//! Two representations (style.md, recommendation 2): `file.rs` mirrors the YAML exactly, and
//! `model.rs` is the resolved, typed [`Scenario`] that everything after this module reads. The
//! named, fallible step between them is `resolve.rs` (plus `target.rs` for hosts, headers and
//! regions). Errors are [`ScenarioErrors`]: every mistake with `file:line:col`, the key path and a
//! suggestion. Secrets from `${VAR}` (header values only, see `interpolate.rs`) never appear in
//! an error, a `Debug` or a serialized scenario.
//!
//! This module must not import anything after it in the pipeline (plan, engine, report).

pub mod duration;
mod error;
mod file;
mod interpolate;
mod locate;
mod model;
mod presets;
mod resolve;
mod slo;
mod target;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::{ScenarioError, ScenarioErrors};
use locate::Pos;
pub use model::*;
#[cfg(test)]
mod fixture;
pub use presets::{preset, preset_names};

/// Read, parse and resolve a scenario file, taking `${VAR}`s from the process environment.
pub fn load(path: &Path) -> Result<Scenario, ScenarioErrors> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioErrors::one(ScenarioError::new(
            &source,
            Pos::default(),
            "",
            format!("cannot read the scenario file: {e}"),
        ))
    })?;
    parse_str(&text, &source, &|name| std::env::var(name).ok())
}

/// Parse and resolve scenario text. `source` names it in messages (usually the path as given);
/// `env` supplies `${VAR}` values, so tests need not touch the process environment.
pub fn parse_str(
    text: &str,
    source: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Scenario, ScenarioErrors> {
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
    // Nothing has been substituted yet, so a serde error cannot contain a secret.
    let raw: file::ScenarioFile = serde_yaml::from_str(text)
        .map_err(|e| ScenarioErrors::one(ScenarioError::from_yaml(source, &e)))?;
    resolve::resolve(raw, text, source, env)
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
        out
    }
}
