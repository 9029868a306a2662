//! `${VAR}` substitution from the environment, and `$${` for a literal `${`.
//!
//! Substitution happens only in `target.headers` values, after YAML parsing. That placement is
//! the secret-safety design: header values are never serialized or printed (`Target.headers` is
//! `#[serde(skip)]`, its `Debug` is redacted), and because the YAML is parsed before anything is
//! substituted, no parser error can quote a secret and no token can break the YAML (a `#` or
//! `: ` inside a token stays part of the value). Every other key ends up in results.json and the
//! reports, so a `${VAR}` there is refused (see `target::refuse_stray_refs`, using [`refs_in_text`]) instead of being silently written out.

use super::locate::Pos;

/// A header value after substitution, and which variables went into it (names and values, for
/// redaction).
pub(crate) struct Substituted {
    pub value: String,
    pub used: Vec<(String, String)>,
}

/// Why a `${…}` could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefProblem {
    /// `${NAME}` with `NAME` unset in the environment.
    Missing(String),
    /// `${}` or `${not a name}`.
    BadName(String),
    /// `${` without a closing `}`.
    Unterminated,
}

/// Substitute every `${NAME}` in `raw` (one already-parsed YAML string) from `env`.
pub(crate) fn substitute(
    raw: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Substituted, Vec<RefProblem>> {
    let mut value = String::new();
    let mut used = Vec::new();
    let mut problems = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.find("${") {
        let escaped = rest[..i].ends_with('$');
        if escaped {
            value.push_str(&rest[..i - 1]);
            value.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        value.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(close) = after.find('}') else {
            problems.push(RefProblem::Unterminated);
            rest = "";
            break;
        };
        let name = &after[..close];
        if !valid_name(name) {
            problems.push(RefProblem::BadName(name.to_string()));
        } else {
            match env(name) {
                Some(v) => {
                    value.push_str(&v);
                    used.push((name.to_string(), v));
                }
                None => problems.push(RefProblem::Missing(name.to_string())),
            }
        }
        rest = &after[close + 1..];
    }
    value.push_str(rest);
    if problems.is_empty() {
        Ok(Substituted { value, used })
    } else {
        Err(problems)
    }
}

/// `A_B1` yes; `1A`, `A-B`, `` no: the shell's rules, so `export NAME=…` always works.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `$${` → `${` in any other string of the scenario, so the escape works everywhere.
pub(crate) fn unescape(s: &str) -> String {
    s.replace("$${", "${")
}

/// Every unescaped `${NAME` in the raw text outside comments: (position, NAME).
pub(crate) fn refs_in_text(text: &str) -> Vec<(Pos, String)> {
    let mut out = Vec::new();
    for (l, line) in text.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut quote: Option<char> = None;
        let mut c = 0;
        while c < chars.len() {
            let ch = chars[c];
            let prev = if c == 0 { ' ' } else { chars[c - 1] };
            match quote {
                Some(q) if ch == q => quote = None,
                Some(_) => {}
                None if ch == '#' && (prev == ' ' || c == 0) => break,
                None if (ch == '"' || ch == '\'') && " :[{,-".contains(prev) => quote = Some(ch),
                None => {}
            }
            if ch == '$' && chars.get(c + 1) == Some(&'{') && (c == 0 || chars[c - 1] != '$') {
                let name: String = chars[c + 2..]
                    .iter()
                    .take_while(|x| **x != '}' && **x != '"' && **x != '\'')
                    .collect();
                out.push((
                    Pos {
                        line: l + 1,
                        col: c + 1,
                    },
                    name,
                ));
            }
            c += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cr3t".to_string())
    }

    #[test]
    fn substitutes_and_escapes() {
        let s = substitute("Bearer ${TOKEN} and $${LITERAL}", &env)
            .unwrap_or_else(|_| panic!("should substitute"));
        assert_eq!(s.value, "Bearer s3cr3t and ${LITERAL}");
        assert_eq!(s.used, vec![("TOKEN".to_string(), "s3cr3t".to_string())]);
    }

    #[test]
    fn reports_missing_bad_and_unterminated() {
        let problems = substitute("${NOPE} ${} ${TOKEN", &env).err();
        assert_eq!(
            problems,
            Some(vec![
                RefProblem::Missing("NOPE".into()),
                RefProblem::BadName(String::new()),
                RefProblem::Unterminated,
            ])
        );
    }

    #[test]
    fn finds_refs_outside_comments_and_escapes() {
        let text = "a: ${ONE}\nb: $${TWO} # ${THREE}\n# ${FOUR}\nc: \"x ${FIVE}\"\n";
        let names: Vec<(usize, usize, String)> = refs_in_text(text)
            .into_iter()
            .map(|(p, n)| (p.line, p.col, n))
            .collect();
        assert_eq!(names, vec![(1, 4, "ONE".into()), (4, 7, "FIVE".into())]);
    }
}
