//! Configuration from outside the file: `--set path=value` and `--env-file FILE`.
//!
//! `--set` edits the parsed YAML tree before it is read into the scenario, so an overridden
//! value is checked exactly like one written in the file; its errors are located as `--set #N`
//! (see `resolve::Ctx::at`). Env files are `NAME=value` lines feeding `${NAME}`; they win over
//! the process environment because they were named on this command line, and `--set` wins over
//! both. `validate` lists every value that came from any of them ([`Override`]).

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::error::{ScenarioError, ScenarioErrors};
use super::interpolate::{valid_name, Found};
use super::pos::Pos;

/// What the command line adds to a scenario file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--set path=value`, in order (later wins).
    pub sets: Vec<String>,
    /// `--env-file FILE`, in order (later wins).
    pub env_files: Vec<PathBuf>,
}

/// One `--set` applied: its 1-based number, the key path it set, the value as given.
#[derive(Debug, Clone)]
pub(crate) struct SetApplied {
    pub n: usize,
    pub path: String,
    pub value: String,
}

/// The label errors and `validate` use for the N-th `--set` (1-based).
pub(crate) fn set_label(n: usize) -> String {
    format!("--set #{n}")
}

/// Variables from `--env-file`s, later files winning: (name, value, `file:line`).
pub(crate) fn read_env_files(files: &[PathBuf]) -> Result<Vec<(String, Found)>, ScenarioErrors> {
    let mut vars: Vec<(String, Found)> = Vec::new();
    for f in files {
        for (name, found) in read_env_file(f)? {
            vars.retain(|(n, _)| *n != name);
            vars.push((name, found));
        }
    }
    Ok(vars)
}

/// `NAME=value` lines; `#` comments, blank lines and a leading `export ` are allowed, and a value
/// may be in single quotes (literal) or double quotes (`\n`, `\"`, `\\` escapes).
fn read_env_file(path: &Path) -> Result<Vec<(String, Found)>, ScenarioErrors> {
    read_env_file_inner(path).map_err(ScenarioErrors::one)
}

#[allow(clippy::result_large_err)] // one error, returned once per command
fn read_env_file_inner(path: &Path) -> Result<Vec<(String, Found)>, ScenarioError> {
    let file = path.display().to_string();
    let text = super::text::read(path, "env")?;
    let text = super::text::normalize_newlines(&text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let t = t.strip_prefix("export ").unwrap_or(t);
        let pos = Pos {
            line: i + 1,
            col: 1,
        };
        let Some((name, raw)) = t.split_once('=') else {
            return Err(
                ScenarioError::new(&file, pos, "", "expected NAME=value on this line")
                    .suggest("write it like `STAGING_URL=https://staging.example.com`"),
            );
        };
        let name = name.trim();
        if !valid_name(name) {
            return Err(ScenarioError::expected(
                &file,
                pos,
                "",
                "a variable name (letters, digits, `_`; not starting with a digit)",
                format!("`{name}`"),
            ));
        }
        let value = unquote_env(raw.trim()).ok_or_else(|| {
            ScenarioError::new(&file, pos, name, "the quoted value is not closed").suggest(format!(
                "write {name}=\"…\" with the closing quote on the same line"
            ))
        })?;
        out.push((
            name.to_string(),
            Found {
                value,
                origin: format!("env file {file}:{}", i + 1),
            },
        ));
    }
    Ok(out)
}

fn unquote_env(raw: &str) -> Option<String> {
    if let Some(rest) = raw.strip_prefix('\'') {
        return rest.strip_suffix('\'').map(str::to_string);
    }
    if let Some(rest) = raw.strip_prefix('"') {
        let inner = rest.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(o) => out.push(o),
                    None => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        return Some(out);
    }
    // An unquoted value ends at ` #`, like a shell comment.
    Some(match raw.find(" #") {
        Some(i) => raw[..i].trim_end().to_string(),
        None => raw.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// `load.phases[1].joins_per_sec` or `load.phases.1.joins_per_sec` → segments.
fn parse_path(path: &str) -> Option<Vec<Seg>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (head, mut rest) = match part.find('[') {
            Some(b) => (&part[..b], &part[b..]),
            None => (part, ""),
        };
        if head.is_empty() && rest.is_empty() {
            return None;
        }
        if !head.is_empty() {
            match head.parse::<usize>() {
                Ok(n) => out.push(Seg::Index(n)),
                Err(_) => out.push(Seg::Key(head.to_string())),
            }
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']')?;
            out.push(Seg::Index(inner[..close].parse().ok()?));
            rest = &inner[close + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn render_path(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Apply every `--set` to the parsed file, in order. Errors are located at their `--set #N`.
pub(crate) fn apply_sets(
    root: &mut Value,
    sets: &[String],
) -> Result<Vec<SetApplied>, Vec<ScenarioError>> {
    let mut applied = Vec::new();
    let mut errors = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let n = i + 1;
        let label = set_label(n);
        let Some((path, raw)) = set.split_once('=') else {
            errors.push(
                ScenarioError::new(
                    &label,
                    Pos::default(),
                    "",
                    format!("expected PATH=VALUE, got {set:?}"),
                )
                .suggest("write it like `--set load.scale=0.1`"),
            );
            continue;
        };
        let Some(segs) = parse_path(path.trim()) else {
            errors.push(ScenarioError::expected(
                &label,
                Pos::default(),
                "",
                "a key path like load.phases[1].joins_per_sec",
                format!("{:?}", path.trim()),
            ));
            continue;
        };
        // Typed like the same text in the file (`0.1` a number, `embedded` a string), so it is
        // validated exactly as if written there; text YAML cannot read stays a string.
        let value = match serde_yaml::from_str::<Value>(raw) {
            Ok(Value::Null)
                if !raw.trim().is_empty() && raw.trim() != "null" && raw.trim() != "~" =>
            {
                Value::String(raw.to_string())
            }
            Ok(v) => v,
            Err(_) => Value::String(raw.to_string()),
        };
        match set_at(root, &segs, value) {
            Ok(()) => applied.push(SetApplied {
                n,
                path: render_path(&segs),
                value: raw.to_string(),
            }),
            Err((at, problem, hint)) => {
                let key = render_path(&segs[..at.min(segs.len())]);
                errors.push(ScenarioError::new(&label, Pos::default(), key, problem).suggest(hint));
            }
        }
    }
    if errors.is_empty() {
        Ok(applied)
    } else {
        Err(errors)
    }
}

/// Set `segs` in `node`, creating maps for missing keys. Errors: (segments followed, problem, hint).
fn set_at(node: &mut Value, segs: &[Seg], value: Value) -> Result<(), (usize, String, String)> {
    let mut cur = node;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        let here = render_path(&segs[..i]);
        if cur.is_null() {
            *cur = match seg {
                Seg::Key(_) => Value::Mapping(Mapping::new()),
                Seg::Index(_) => Value::Sequence(Vec::new()),
            };
        }
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Mapping(m)) => {
                let key = Value::String(k.clone());
                if last {
                    m.insert(key, value);
                    return Ok(());
                }
                m.entry(key).or_insert(Value::Null)
            }
            (Seg::Index(idx), Value::Sequence(items)) => {
                let len = items.len();
                let Some(item) = items.get_mut(*idx) else {
                    let hint = if len == 0 {
                        format!("{here} is empty: set the whole list, like {here}=[…]")
                    } else {
                        format!("indexes start at 0; the last is [{}]", len - 1)
                    };
                    return Err((
                        i + 1,
                        format!("{here} has {len} items, so there is no [{idx}]"),
                        hint,
                    ));
                };
                if last {
                    *item = value;
                    return Ok(());
                }
                item
            }
            (Seg::Index(idx), other) => {
                return Err((
                    i,
                    format!("is {}, not a list, so [{idx}] does not apply", kind(other)),
                    format!("name a key of {here} instead"),
                ));
            }
            (Seg::Key(k), other) => {
                let other = &*other;
                let shown = match other {
                    Value::String(s) => format!("`{s}`"),
                    Value::Number(n) => n.to_string(),
                    o => kind(o).to_string(),
                };
                let hint = if matches!(other, Value::Sequence(_)) {
                    format!("pick an item first, like {here}[0].{k}")
                } else {
                    format!("set the whole value instead, like {here}={{ {k}: … }}")
                };
                return Err((
                    i,
                    format!("is {shown}, not a map, so it has no key `{k}`"),
                    hint,
                ));
            }
        };
    }
    *cur = value;
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Every scalar in the tree with its key path (`load.phases[1].joins_per_sec`) and its text.
pub(crate) fn leaves(v: &Value) -> Vec<(String, String)> {
    fn walk(v: &Value, path: String, out: &mut Vec<(String, String)>) {
        match v {
            Value::Mapping(m) => {
                for (k, child) in m {
                    let key = match k {
                        Value::String(s) => s.clone(),
                        other => scalar_text(other),
                    };
                    let p = if path.is_empty() {
                        key
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(child, p, out);
                }
            }
            Value::Sequence(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, format!("{path}[{i}]"), out);
                }
            }
            Value::Tagged(t) => walk(&t.value, path, out),
            scalar => out.push((path, scalar_text(scalar))),
        }
    }
    let mut out = Vec::new();
    walk(v, String::new(), &mut out);
    out
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Whether `key` is `path` or lies under it.
pub(crate) fn is_under(key: &str, path: &str) -> bool {
    key == path
        || key
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(yaml: &str) -> Value {
        serde_yaml::from_str(yaml).unwrap_or(Value::Null)
    }

    #[test]
    fn sets_values_typed_like_yaml() {
        let mut v =
            tree("load: { scale: 1, phases: [ { joins_per_sec: 5 } ] }\ntarget: { base_url: x }");
        let sets = [
            "load.scale=0.1",
            "load.phases[0].joins_per_sec=40",
            "target.base_url=https://a.example:8443/x?y=1",
            "event.headroom=2",
        ]
        .map(String::from);
        let applied = apply_sets(&mut v, &sets).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(applied[1].path, "load.phases[0].joins_per_sec");
        assert_eq!(v["load"]["scale"].as_f64(), Some(0.1));
        assert_eq!(v["load"]["phases"][0]["joins_per_sec"].as_u64(), Some(40));
        assert_eq!(
            v["target"]["base_url"].as_str(),
            Some("https://a.example:8443/x?y=1")
        );
        assert_eq!(v["event"]["headroom"].as_u64(), Some(2));
        let mut v2 = tree("load: { phases: [ {}, {} ] }");
        apply_sets(&mut v2, &["load.phases.1.joins_per_sec=3".into()]).unwrap_or_default();
        assert_eq!(v2["load"]["phases"][1]["joins_per_sec"].as_u64(), Some(3));
    }

    #[test]
    fn impossible_sets_say_which_and_why() {
        let mut v = tree("load: { phases: [ {} ] }\nregions: [ { network: 3g } ]");
        let sets = [
            "load.scale",
            "load.phases[3].x=1",
            "regions[0].network.rtt_ms=9",
        ]
        .map(String::from);
        let errs = apply_sets(&mut v, &sets).err().unwrap_or_default();
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            shown[0].starts_with("--set #1: expected PATH=VALUE"),
            "{shown:?}"
        );
        assert!(
            shown[1].starts_with(
                "--set #2: load.phases[3]: load.phases has 1 items, so there is no [3]"
            ),
            "{shown:?}"
        );
        assert!(
            shown[2].contains("--set #3: regions[0].network: is `3g`, not a map"),
            "{shown:?}"
        );
    }

    #[test]
    fn env_files_parse_and_explain_mistakes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let f = dir.path().join("staging.env");
        std::fs::write(
            &f,
            "# staging\nexport URL=http://a:1 # comment\nTOKEN='x #y'\nQ=\"a\\nb\"\n",
        )
        .unwrap_or_default();
        let vars = read_env_files(std::slice::from_ref(&f)).unwrap_or_else(|e| panic!("{e}"));
        let get = |n: &str| {
            vars.iter()
                .find(|(k, _)| k == n)
                .map(|(_, f)| f.value.clone())
        };
        assert_eq!(get("URL").as_deref(), Some("http://a:1"));
        assert_eq!(get("TOKEN").as_deref(), Some("x #y"));
        assert_eq!(get("Q").as_deref(), Some("a\nb"));
        assert!(vars[0].1.origin.ends_with("staging.env:2"));
        std::fs::write(&f, "OK=1\nnot a line\n").unwrap_or_default();
        let e = read_env_files(&[f])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.ends_with("staging.env:2:1: expected NAME=value on this line; write it like `STAGING_URL=https://staging.example.com`"), "{e}");
    }
}
