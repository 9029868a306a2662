//! Which `results.json` files this peakready reads, and how: the one reader behind `report DIR`,
//! `compare` and `merge`.
//!
//! - **Schema 2** (written now): read strictly into [`RunResult`], the scenario included
//!   (`scenario.resolved` is the typed [`crate::scenario::Scenario`]): a missing or misspelt
//!   field is an error naming its path, never a default.
//! - **Schema 1** (before the scenario was typed): the same fields, so it is read as schema 2
//!   when every field is there, and written back as 2 by `report DIR`. A schema-1 file from an
//!   older peakready whose scenario lacks a field added since is refused with the field's path
//!   and how to re-run (exit 2).
//! - Any other schema is refused: newer ones need a newer peakready.

use anyhow::{bail, Context};
use serde::Deserialize;

use super::result::{RunResult, SCHEMA_VERSION};

/// The version alone, read before the rest so a wrong version is reported as such.
#[derive(Deserialize)]
struct Version {
    schema: Option<u32>,
}

/// Read `results.json` text; `shown` names the file in messages.
pub fn read(text: &str, shown: &str) -> anyhow::Result<RunResult> {
    let version: Version = serde_json::from_str(text)
        .with_context(|| format!("{shown} is not a peakready results file"))?;
    let schema = match version.schema {
        None => bail!("{shown} is not a peakready results file: it has no `schema` field"),
        Some(n) if n > SCHEMA_VERSION => bail!(
            "{shown} has results schema {n}, newer than this peakready reads (schema {SCHEMA_VERSION}): \
             render it with the peakready that wrote it, or update this one"
        ),
        Some(n) if n < 1 => bail!("{shown} has results schema {n}, which no peakready wrote"),
        Some(n) => n,
    };
    let de = &mut serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, RunResult>(de) {
        Ok(mut result) => {
            // Schema 1 has schema 2's fields; from here on it is what this version writes.
            result.schema = SCHEMA_VERSION;
            Ok(result)
        }
        Err(e) if schema < SCHEMA_VERSION => bail!(
            "{shown} has results schema {schema}, from an older peakready, and cannot be read as schema \
             {SCHEMA_VERSION}: `{}`: {}; re-run the scenario with this peakready (`--seed` with the \
             file's `seed` replays the same plan), or render it with the version that wrote it",
            e.path(),
            e.inner()
        ),
        Err(e) => bail!(
            "{shown} is not a valid peakready results file: `{}`: {}",
            e.path(),
            e.inner()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/results.schema.json` is [`RunResult`]'s schema as the types say today; any change
    /// to the wire format fails here until the published file is regenerated and reviewed.
    #[test]
    fn the_published_schema_is_generated_from_the_types() {
        let generated = schemars::schema_for!(RunResult);
        let text = serde_json::to_string_pretty(&generated).expect("schema serialises") + "\n";
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/results.schema.json");
        if std::env::var_os("PEAKREADY_WRITE_SCHEMA").is_some() {
            std::fs::write(&path, &text).expect("writing docs/results.schema.json");
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == text,
            "docs/results.schema.json is not RunResult's schema: regenerate it with \
             `PEAKREADY_WRITE_SCHEMA=1 cargo test --lib published_schema`, review the diff, and \
             bump SCHEMA_VERSION when a reader of the old shape would misread the new one"
        );
    }

    #[test]
    fn other_schemas_are_refused_with_what_to_do() {
        let newer = read(r#"{"schema": 3}"#, "x/results.json").unwrap_err();
        assert!(
            format!("{newer:#}").contains("schema 3, newer than this peakready reads (schema 2)")
        );
        let none = read(r#"{"tool": "x"}"#, "x/results.json").unwrap_err();
        assert!(format!("{none:#}").contains("no `schema` field"));
        let old = read(
            r#"{"schema": 1, "tool": "peakready 0.0.1"}"#,
            "x/results.json",
        )
        .unwrap_err();
        let old = format!("{old:#}");
        assert!(
            old.contains("results schema 1, from an older peakready"),
            "{old}"
        );
        assert!(old.contains("re-run the scenario"), "{old}");
        let broken = read("{", "x/results.json").unwrap_err();
        assert!(format!("{broken:#}").contains("x/results.json is not a peakready results file"));
    }
}
