//! Scenario errors: one `file:line:col: key.path: problem; suggestion` line per mistake.
//!
//! Owns [`ScenarioError`], the translation of serde_yaml's errors into that shape (unknown keys
//! and values get a "did you mean" from [`nearest`]), and the redaction of interpolated values so
//! that no error text can carry a secret.

use std::fmt;

use super::pos::Pos;

/// One mistake in a scenario file, located and explained.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ScenarioError {
    /// The file as given on the command line.
    pub file: String,
    /// 1-based; 0 when the mistake has no single place (e.g. an unreadable file).
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    /// Key path like `load.phases[2].duration`; empty for the file as a whole.
    pub key: String,
    /// The sentence after the key: `expected …, got …`, or `unknown key …`.
    pub problem: String,
    /// What the key accepts, when we know it.
    pub expected: Option<String>,
    /// What was written instead, quoted as the user wrote it.
    pub found: Option<String>,
    /// How to fix it: `did you mean \`joins_per_sec\`?`, `add \`h\` to target.allow_hosts`.
    pub suggestion: Option<String>,
    /// Unknown-key problems name their parent themselves, so the key prefix is left out.
    key_in_problem: bool,
}

impl ScenarioError {
    pub(crate) fn new(
        file: &str,
        pos: Pos,
        key: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        ScenarioError {
            file: file.to_string(),
            line: pos.line,
            col: pos.col,
            key: key.into(),
            problem: problem.into(),
            expected: None,
            found: None,
            suggestion: None,
            key_in_problem: false,
        }
    }

    /// `expected {expected}, got {found}`.
    pub(crate) fn expected(
        file: &str,
        pos: Pos,
        key: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        let (expected, found) = (expected.into(), found.into());
        let mut e = Self::new(file, pos, key, format!("expected {expected}, got {found}"));
        e.expected = Some(expected);
        e.found = Some(found);
        e
    }

    pub(crate) fn suggest(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }

    /// Attach a suggestion to an error already pushed (builder style on `&mut`).
    pub(crate) fn hint(&mut self, suggestion: impl Into<String>) {
        self.suggestion = Some(suggestion.into());
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if self.line > 0 {
            out.push_str(&format!("{}:{}:{}: ", self.file, self.line, self.col));
        } else {
            out.push_str(&format!("{}: ", self.file));
        }
        if !self.key.is_empty() && !self.key_in_problem {
            out.push_str(&format!("{}: ", self.key));
        }
        out.push_str(&self.problem);
        if let Some(s) = &self.suggestion {
            out.push_str(&format!("; {s}"));
        }
        out
    }

    /// Replace every interpolated value with its `${VAR}` so no error text can leak a secret.
    fn redact(&mut self, secrets: &[(String, String)]) {
        let fields = [&mut self.key, &mut self.problem, &mut self.file];
        for field in fields {
            *field = redact_str(field, secrets);
        }
        for field in [&mut self.expected, &mut self.found, &mut self.suggestion]
            .into_iter()
            .flatten()
        {
            *field = redact_str(field, secrets);
        }
    }

    /// Translate a serde_yaml error (syntax, type, unknown key, bad duration …) into our shape.
    pub(crate) fn from_yaml(file: &str, err: &serde_yaml::Error) -> Self {
        let pos = err
            .location()
            .map(|l| Pos {
                line: l.line(),
                col: l.column(),
            })
            .unwrap_or_default();
        let mut msg = err.to_string();
        let suffix = format!(" at line {} column {}", pos.line, pos.col);
        if let Some(i) = msg.find(&suffix) {
            msg.replace_range(i..i + suffix.len(), "");
        }
        let (key, rest) = split_path(&msg);
        classify(file, pos, key, rest)
    }
}

impl ScenarioError {
    /// An error from reading the parsed tree into the file structs: `path` as
    /// serde_path_to_error prints it (`.` for the top), `msg` the error without a location.
    /// The position is left for the caller to fill in from the key.
    pub(crate) fn from_path(file: &str, path: &str, msg: &str) -> Self {
        let mut key = if path == "." { "" } else { path };
        // For an unknown key the path already ends with it; classify adds it itself.
        if let Some(name) = msg
            .strip_prefix("unknown field `")
            .and_then(|t| t.split('`').next())
        {
            if key == name {
                key = "";
            } else if let Some(parent) = key.strip_suffix(&format!(".{name}")) {
                key = parent;
            }
        }
        classify(file, Pos::default(), key.to_string(), msg)
    }

    /// Whether the problem is a key that should not be there (located at the key itself).
    pub(crate) fn is_unknown_key(&self) -> bool {
        self.key_in_problem
    }

    pub(crate) fn place(&mut self, file: String, pos: Pos) {
        self.file = file;
        self.line = pos.line;
        self.col = pos.col;
    }
}

/// serde_yaml prefixes messages with the path of the value (`load.phases[0]: …`).
fn split_path(msg: &str) -> (String, &str) {
    if let Some((head, rest)) = msg.split_once(": ") {
        let path_like = !head.is_empty()
            && head
                .chars()
                .all(|c| c.is_alphanumeric() || "_.-[]?".contains(c));
        if path_like {
            return (head.to_string(), rest);
        }
    }
    (String::new(), msg)
}

fn classify(file: &str, pos: Pos, key: String, rest: &str) -> ScenarioError {
    let join = |k: &str| {
        if key.is_empty() {
            k.to_string()
        } else {
            format!("{key}.{k}")
        }
    };
    if let Some(tail) = rest.strip_prefix("unknown field `") {
        let (name, candidates) = split_candidates(tail);
        let place = if key.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in {key}")
        };
        let mut e = ScenarioError::new(
            file,
            pos,
            join(&name),
            format!("unknown key `{name}` {place}"),
        );
        e.key_in_problem = true;
        e.found = Some(name.clone());
        e.expected = Some(list(&candidates));
        return e.suggest(did_you_mean(&name, &candidates, "valid keys"));
    }
    if let Some(tail) = rest.strip_prefix("unknown variant `") {
        let (name, candidates) = split_candidates(tail);
        let expected = format!("one of {}", list(&candidates));
        let e = ScenarioError::expected(file, pos, key, expected, format!("`{name}`"));
        return match nearest(&name, &candidates) {
            Some(n) => e.suggest(format!("did you mean `{n}`?")),
            None => e,
        };
    }
    if let Some(tail) = rest.strip_prefix("missing field `") {
        let name = tail.trim_end_matches('`').to_string();
        let parent = if key.is_empty() {
            "the top level"
        } else {
            &key
        };
        let suggestion = match example(&key, &name) {
            Some(example) => format!("add `{example}` to {parent}"),
            None => format!("add the key `{name}` to {parent}"),
        };
        return ScenarioError::new(file, pos, join(&name), "required key is missing")
            .suggest(suggestion);
    }
    ScenarioError::new(file, pos, key, plain_types(rest))
}

/// A value for a required key that the parser accepts where the key belongs, so a "missing
/// key" suggestion can be pasted as is (the suggestion test feeds each one back). `parent` is
/// the key path the field is missing from; `None` when no value could stand for the user's.
fn example(parent: &str, name: &str) -> Option<&'static str> {
    let in_list = |list: &str| {
        parent
            .strip_prefix(list)
            .is_some_and(|rest| rest.starts_with('['))
    };
    Some(match name {
        "name" if parent.is_empty() => "name: gala-rehearsal",
        "name" if parent == "event" => "name: Evening Gala",
        "name" if in_list("regions") => "name: eu-frankfurt",
        "target" => "target: { base_url: embedded }",
        "load" => "load: { max_viewers: 100, max_joins_per_sec: 10, phases: [{ duration: 1m, joins_per_sec: 10 }] }",
        "viewer" => "viewer: { watch: { url: /hls/stream.m3u8, duration: 1m } }",
        "base_url" => "base_url: embedded",
        "phases" => "phases: [{ duration: 1m, joins_per_sec: 10 }]",
        "duration" if in_list("load.phases") || parent == "publishers" => "duration: 1m",
        "duration" if parent == "viewer.watch" => "duration: 1m",
        "joins_per_sec" => "joins_per_sec: 10",
        "error_rate" => "error_rate: 0.5",
        "watch" => "watch: { url: /hls/stream.m3u8, duration: 1m }",
        "median" => "median: 1m",
        "p90" => "p90: 5m",
        "after" => "after: 1m",
        "path" if in_list("viewer.join") => "path: /",
        "start" if parent == "search" => "start: 100",
        "max" if parent == "search" => "max: 100",
        _ => return None,
    })
}

/// serde names our structs in type errors ("expected struct LoadFile"); users wrote a map.
fn plain_types(msg: &str) -> String {
    let mut out = String::new();
    let mut rest = msg;
    while let Some(i) = rest.find("struct ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "struct ".len()..];
        let end = after
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(after.len());
        out.push_str("a map");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// "`x`, expected one of `a`, `b`" → ("x", ["a", "b"]).
fn split_candidates(tail: &str) -> (String, Vec<String>) {
    let (name, after) = tail.split_once('`').unwrap_or((tail, ""));
    let candidates = after
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    (name.to_string(), candidates)
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "did you mean `x`?" when one candidate is close, else the full list under `what`.
pub(crate) fn did_you_mean(word: &str, candidates: &[String], what: &str) -> String {
    match nearest(word, candidates) {
        Some(n) => format!("did you mean `{n}`?"),
        None if candidates.is_empty() => "this map takes no keys".to_string(),
        None => format!("{what}: {}", list(candidates)),
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub(crate) fn nearest<'a, S: AsRef<str>>(word: &str, candidates: &'a [S]) -> Option<&'a str> {
    let len = word.chars().count();
    let limit = (len / 3).max(1);
    // A prefix (`rtt` for `rtt_ms`) is a likely intent even when the distance is large.
    let is_prefix = |c: &str| len >= 3 && c.starts_with(word);
    candidates
        .iter()
        .map(|c| (levenshtein(word, c.as_ref()), c.as_ref()))
        .filter(|(d, c)| *d <= limit || is_prefix(c))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars (strsim's), case-insensitive.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    strsim::levenshtein(&a.to_lowercase(), &b.to_lowercase())
}

/// Replace each secret value by `${VAR}`. Empty values carry nothing to hide.
pub(crate) fn redact_str(text: &str, secrets: &[(String, String)]) -> String {
    let mut out = text.to_string();
    // Longest first, so a value containing another is not half-replaced.
    let mut sorted: Vec<&(String, String)> = secrets.iter().collect();
    sorted.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    for (var, value) in sorted {
        if !value.is_empty() {
            out = out.replace(value.as_str(), &format!("${{{var}}}"));
        }
    }
    out
}

/// Every error found in one scenario file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl ScenarioErrors {
    pub(crate) fn one(e: ScenarioError) -> Self {
        ScenarioErrors(vec![e])
    }

    pub(crate) fn redact(mut self, secrets: &[(String, String)]) -> Self {
        for e in &mut self.0 {
            e.redact(secrets);
        }
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &ScenarioError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levenshtein_and_nearest() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("Rtt_MS", "rtt_ms"), 0);
        let keys = ["name", "duration", "joins_per_sec", "ramp_to"];
        assert_eq!(nearest("joins_per_second", &keys), Some("joins_per_sec"));
        assert_eq!(nearest("durtion", &keys), Some("duration"));
        assert_eq!(nearest("zzzzzzzz", &keys), None);
        assert_eq!(nearest("ramp", &keys), Some("ramp_to"));
        assert_eq!(nearest("foo", &["slo", "name"]), None);
    }

    #[test]
    fn redacts_longest_value_first() {
        let secrets = vec![
            ("A".to_string(), "abc".to_string()),
            ("B".to_string(), "abcdef".to_string()),
        ];
        assert_eq!(redact_str("x abcdef y abc", &secrets), "x ${B} y ${A}");
    }
}
