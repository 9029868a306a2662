//! Which substituted values are secrets, and where every overridden value came from.
//!
//! A variable used in a `target.headers` value is a secret: header values are never serialized
//! or printed (`Target.headers` is `#[serde(skip)]`, its `Debug` is redacted), so its value may
//! appear nowhere else in the scenario (every other key is written to results.json and the
//! reports), and every error is redacted of it. Other variables are ordinary configuration and
//! are shown by `validate` with their origin.

use std::collections::BTreeMap;

use super::error::ScenarioError;
use super::interpolate::{Ref, RefProblem};
use super::model::Override;
use super::overrides::{is_under, set_label, SetApplied};
use super::pos::Pos;

const HEADERS: &str = "target.headers";

/// A header value: `target.headers.X` or a join step's `viewer.join[i].headers.X`.
fn is_header(key: &str) -> bool {
    is_under(key, HEADERS) || (key.starts_with("viewer.join[") && key.contains("].headers."))
}

/// A `${…}` that could not be substituted, located at its `$`.
pub(crate) fn ref_problem(file: &str, pos: Pos, key: &str, p: &RefProblem) -> ScenarioError {
    match p {
        RefProblem::Missing(var) => ScenarioError::new(
            file,
            pos,
            key,
            format!("environment variable `{var}` is not set"),
        )
        .suggest(format!(
            "export {var}=… or put it in an --env-file, or give a default like `${{{var}:-value}}`"
        )),
        RefProblem::BadName(name) => ScenarioError::expected(
            file,
            pos,
            key,
            "a variable like ${STAGING_URL} or ${RATE:-40}",
            format!("`${{{name}}}`"),
        ),
        RefProblem::Unterminated => {
            ScenarioError::new(file, pos, key, "`${` is not closed with `}`")
                .suggest("write `$${` for a literal `${`")
        }
        RefProblem::Unquotable { var, why } => ScenarioError::new(
            file,
            pos,
            key,
            format!("the value of `{var}` cannot be placed here: {why}"),
        )
        .suggest("put the whole value in double quotes, like key: \"prefix-${VAR}\""),
    }
}

/// The (VAR, value) pairs to redact, and an error for each secret used outside a header value.
pub(crate) fn secrets(
    file: &str,
    refs: &[(String, &Ref)],
) -> (Vec<(String, String)>, Vec<ScenarioError>) {
    let mut secrets: Vec<(String, String)> = Vec::new();
    for (key, r) in refs {
        if is_header(key) && !secrets.iter().any(|(v, _)| *v == r.var) {
            secrets.push((r.var.clone(), r.value.clone()));
        }
    }
    let mut errors = Vec::new();
    for (key, r) in refs {
        if !is_header(key) && secrets.iter().any(|(v, _)| *v == r.var) {
            let shown = if key.is_empty() {
                "this key"
            } else {
                key.as_str()
            };
            errors.push(
                ScenarioError::new(
                    file,
                    r.at,
                    key.as_str(),
                    format!(
                        "`${{{}}}` is used in a header, so its value is a secret, and {shown} is written to results.json and reports",
                        r.var
                    ),
                )
                .suggest("use another variable here, or write the value itself"),
            );
        }
    }
    (secrets, errors)
}

/// One line per overridden key: the value and where it came from. Secrets show as `<hidden>`.
pub(crate) fn provenance(
    refs: &[(String, &Ref)],
    leaves: &[(String, String)],
    sets: &[SetApplied],
) -> Vec<Override> {
    let mut by_key: BTreeMap<usize, Override> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (key, r) in refs {
        let mut origin = match r.origin.as_str() {
            "default" => format!("{} default", r.expr),
            o => format!("{} from {o}", r.expr),
        };
        if let Some(s) = sets.iter().rev().find(|s| is_under(key, &s.path)) {
            origin.push_str(&format!(" (replaced by {})", set_label(s.n)));
        }
        if let Some(i) = order.iter().position(|k| k == key) {
            if let Some(o) = by_key.get_mut(&i) {
                o.from.push_str(", ");
                o.from.push_str(&origin);
            }
            continue;
        }
        let value = if is_header(key) {
            "<hidden>".to_string()
        } else {
            leaves
                .iter()
                .find(|(k, _)| k == key)
                .map_or_else(|| r.value.clone(), |(_, v)| v.clone())
        };
        by_key.insert(
            order.len(),
            Override {
                key: key.clone(),
                value,
                from: origin,
            },
        );
        order.push(key.clone());
    }
    let mut out: Vec<Override> = by_key.into_values().collect();
    for s in sets {
        out.push(Override {
            key: s.path.clone(),
            value: if is_header(&s.path) {
                "<hidden>".into()
            } else {
                s.value.clone()
            },
            from: set_label(s.n),
        });
    }
    out
}
