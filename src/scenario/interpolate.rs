//! `${VAR}` and `${VAR:-default}` in any scalar, substituted into the text before YAML parsing,
//! and `$${` for a literal `${`.
//!
//! Substituting into the text (not into parsed values) is what lets a number, a duration or a
//! URL come from the environment (`scale: ${SCALE}`, `{ joins_per_sec: ${RATE} }` inside a flow
//! map, where `${…}` is not even valid YAML). So that no value can change the file's structure,
//! each value is written for the place it lands in: escaped inside double or single quotes, as is
//! in a plain scalar when that is safe, double-quoted when it is the whole plain scalar and is
//! not (a `: `, ` #`, `,`, a line break …), and refused otherwise. Line numbers never change,
//! and [`Shift`]s map columns back, so every later error still points at the file as written.
//!
//! Secrets: a variable used in a `target.headers` value is a secret (see `mod.rs`); its value is
//! redacted from every error and may appear nowhere else in the scenario.

use super::pos::{Pos, Shift};

/// A variable's value and where it came from (`environment`, `env file x.env:3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub value: String,
    pub origin: String,
}

/// One `${…}` as written and what replaced it.
#[derive(Debug, Clone)]
pub(crate) struct Ref {
    pub var: String,
    /// `${NAME}` or `${NAME:-default}`, as written.
    pub expr: String,
    /// Where the `$` is in the file as written.
    pub at: Pos,
    pub value: String,
    /// `environment`, `env file …`, or `default`.
    pub origin: String,
}

/// Why a `${…}` could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefProblem {
    /// `${NAME}` with `NAME` unset and no default.
    Missing(String),
    /// `${}` or `${not a name}`.
    BadName(String),
    /// `${` without a closing `}`.
    Unterminated,
    /// The value cannot be written where the reference stands without changing the YAML (a
    /// line break in single quotes, YAML syntax inside a longer plain scalar).
    Unquotable { var: String, why: &'static str },
}

pub(crate) struct Interpolated {
    pub text: String,
    pub refs: Vec<Ref>,
    /// Per line (0-based), the substitutions on it, left to right.
    pub shifts: Vec<Vec<Shift>>,
    pub problems: Vec<(Pos, RefProblem)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    Plain,
    Double,
    Single,
}

/// Substitute every `${…}` in `text` outside comments.
pub(crate) fn interpolate(text: &str, lookup: &dyn Fn(&str) -> Option<Found>) -> Interpolated {
    let mut out = Interpolated {
        text: String::with_capacity(text.len()),
        refs: Vec::new(),
        shifts: Vec::new(),
        problems: Vec::new(),
    };
    let mut flow_depth = 0usize;
    // Indentation of the key owning a block scalar (`|`, `>`) whose lines we are in.
    let mut block_scalar: Option<usize> = None;
    for (l, line) in text.split('\n').enumerate() {
        if l > 0 {
            out.text.push('\n');
        }
        let chars: Vec<char> = line.chars().collect();
        let indent = chars.iter().take_while(|c| **c == ' ').count();
        let blank = chars.iter().all(|c| c.is_whitespace());
        if let Some(owner) = block_scalar {
            if blank || indent > owner {
                let shifts = line_in_block_scalar(&chars, l, lookup, &mut out);
                out.shifts.push(shifts);
                continue;
            }
            block_scalar = None;
        }
        let mut shifts = Vec::new();
        let mut line_out: Vec<char> = Vec::with_capacity(chars.len());
        let mut quote = Quote::Plain;
        let mut c = 0;
        while c < chars.len() {
            let ch = chars[c];
            let prev = if c == 0 { ' ' } else { chars[c - 1] };
            match quote {
                Quote::Double if ch == '\\' => {
                    line_out.push(ch);
                    if let Some(n) = chars.get(c + 1) {
                        line_out.push(*n);
                    }
                    c += 2;
                    continue;
                }
                Quote::Double if ch == '"' => quote = Quote::Plain,
                Quote::Single if ch == '\'' => {
                    if chars.get(c + 1) == Some(&'\'') {
                        line_out.extend(['\'', '\'']);
                        c += 2;
                        continue;
                    }
                    quote = Quote::Plain;
                }
                Quote::Plain if ch == '#' && prev.is_whitespace() => {
                    line_out.extend(&chars[c..]);
                    break;
                }
                Quote::Plain if ch == '"' && " \t:[{,-".contains(prev) => quote = Quote::Double,
                Quote::Plain if ch == '\'' && " \t:[{,-".contains(prev) => quote = Quote::Single,
                Quote::Plain if matches!(ch, '[' | '{') && !(ch == '{' && prev == '$') => {
                    flow_depth += 1
                }
                Quote::Plain if matches!(ch, ']' | '}') => {
                    flow_depth = flow_depth.saturating_sub(1)
                }
                _ => {}
            }
            if ch == '$' && chars.get(c + 1) == Some(&'$') && chars.get(c + 2) == Some(&'{') {
                shifts.push(Shift {
                    new_col: line_out.len(),
                    new_len: 2,
                    old_col: c,
                    old_len: 3,
                });
                line_out.extend(['$', '{']);
                c += 3;
                continue;
            }
            if ch == '$' && chars.get(c + 1) == Some(&'{') {
                let at = Pos {
                    line: l + 1,
                    col: c + 1,
                };
                let Some(len) = chars[c + 2..].iter().position(|x| *x == '}') else {
                    out.problems.push((at, RefProblem::Unterminated));
                    line_out.extend(&chars[c..]);
                    break;
                };
                let inner: String = chars[c + 2..c + 2 + len].iter().collect();
                let end = c + 3 + len;
                let expr: String = chars[c..end].iter().collect();
                let Some(found) = resolve_ref(&inner, lookup, at, &mut out.problems) else {
                    // A stand-in keeps the text parseable, so the error can name its key.
                    line_out.push('0');
                    c = end;
                    continue;
                };
                let var = inner.split(":-").next().unwrap_or_default().to_string();
                let written = match quote {
                    Quote::Double => Ok(escape_double(&found.value)),
                    Quote::Single if found.value.contains(['\n', '\r']) => Err(
                        "the value has a line break, which single quotes cannot hold (use double quotes)",
                    ),
                    Quote::Single => Ok(found.value.replace('\'', "''")),
                    Quote::Plain => {
                        let starts = starts_scalar(&line_out);
                        let ends = ends_scalar(&chars[end..], flow_depth > 0);
                        if plain_safe(&found.value, starts, flow_depth > 0) {
                            Ok(found.value.clone())
                        } else if starts && ends {
                            Ok(format!("\"{}\"", escape_double(&found.value)))
                        } else {
                            Err("the value holds YAML syntax (`: `, ` #`, a comma, a bracket or a line break) inside a longer unquoted value")
                        }
                    }
                };
                match written {
                    Ok(w) => {
                        let n = w.chars().count();
                        shifts.push(Shift {
                            new_col: line_out.len(),
                            new_len: n,
                            old_col: c,
                            old_len: end - c,
                        });
                        line_out.extend(w.chars());
                        out.refs.push(Ref {
                            var,
                            expr,
                            at,
                            value: found.value,
                            origin: found.origin,
                        });
                    }
                    Err(why) => {
                        out.problems.push((
                            at,
                            RefProblem::Unquotable {
                                var: var.clone(),
                                why,
                            },
                        ));
                        line_out.push('0');
                    }
                }
                c = end;
                continue;
            }
            line_out.push(ch);
            c += 1;
        }
        if quote == Quote::Plain && opens_block_scalar(&line_out) {
            block_scalar = Some(indent);
        }
        out.text.extend(line_out);
        out.shifts.push(shifts);
    }
    out
}

/// Inside `|` / `>` content every character is literal: substitute, but a line break in the
/// value would end the block.
fn line_in_block_scalar(
    chars: &[char],
    l: usize,
    lookup: &dyn Fn(&str) -> Option<Found>,
    out: &mut Interpolated,
) -> Vec<Shift> {
    let mut shifts = Vec::new();
    let mut c = 0;
    let mut line_out = String::new();
    while c < chars.len() {
        if chars[c] == '$' && chars.get(c + 1) == Some(&'{') {
            let at = Pos {
                line: l + 1,
                col: c + 1,
            };
            if let Some(len) = chars[c + 2..].iter().position(|x| *x == '}') {
                let inner: String = chars[c + 2..c + 2 + len].iter().collect();
                let end = c + 3 + len;
                if let Some(found) = resolve_ref(&inner, lookup, at, &mut out.problems) {
                    let var = inner.split(":-").next().unwrap_or_default().to_string();
                    if found.value.contains(['\n', '\r']) {
                        out.problems.push((
                            at,
                            RefProblem::Unquotable {
                                var,
                                why:
                                    "the value has a line break, which would end this block scalar",
                            },
                        ));
                    } else {
                        let new_col = line_out.chars().count();
                        shifts.push(Shift {
                            new_col,
                            new_len: found.value.chars().count(),
                            old_col: c,
                            old_len: end - c,
                        });
                        out.refs.push(Ref {
                            var,
                            expr: chars[c..end].iter().collect(),
                            at,
                            value: found.value.clone(),
                            origin: found.origin,
                        });
                        line_out.push_str(&found.value);
                        c = end;
                        continue;
                    }
                }
                line_out.extend(&chars[c..end]);
                c = end;
                continue;
            }
            out.problems.push((at, RefProblem::Unterminated));
        }
        line_out.push(chars[c]);
        c += 1;
    }
    out.text.push_str(&line_out);
    shifts
}

/// `NAME` or `NAME:-default` → the value, or a recorded problem.
fn resolve_ref(
    inner: &str,
    lookup: &dyn Fn(&str) -> Option<Found>,
    at: Pos,
    problems: &mut Vec<(Pos, RefProblem)>,
) -> Option<Found> {
    let (name, default) = match inner.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (inner, None),
    };
    if !valid_name(name) {
        problems.push((at, RefProblem::BadName(inner.to_string())));
        return None;
    }
    // Like the shell's `:-`: an empty value takes the default too.
    match (lookup(name), default) {
        (Some(f), Some(_)) if !f.value.is_empty() => Some(f),
        (Some(f), None) => Some(f),
        (_, Some(d)) => Some(Found {
            value: d.to_string(),
            origin: "default".to_string(),
        }),
        (None, None) => {
            problems.push((at, RefProblem::Missing(name.to_string())));
            None
        }
    }
}

/// `A_B1` yes; `1A`, `A-B`, `` no: the shell's rules, so `export NAME=…` always works.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn escape_double(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s
}

/// Whether what was written so far on this line leaves us at the start of a scalar.
fn starts_scalar(line_out: &[char]) -> bool {
    let trimmed: String = line_out.iter().collect::<String>().trim_end().to_string();
    let spaced = line_out.last().is_some_and(|c| *c == ' ');
    trimmed.is_empty()
        || trimmed.ends_with(['[', '{', ','])
        || (spaced && (trimmed.ends_with(':') || trimmed.ends_with('-')))
}

/// Whether the rest of the line after a reference ends the scalar.
fn ends_scalar(rest: &[char], in_flow: bool) -> bool {
    let s: String = rest.iter().collect();
    let t = s.trim_start();
    let spaced = t.len() < s.len();
    t.is_empty()
        || (spaced && t.starts_with('#'))
        || t.starts_with(": ")
        || t == ":"
        || (in_flow && t.starts_with([',', '}', ']']))
}

/// A value YAML reads back unchanged, as text, where a plain scalar's characters stand.
fn plain_safe(v: &str, at_start: bool, in_flow: bool) -> bool {
    if v.is_empty() && at_start {
        return false;
    }
    let bad_start = at_start
        && (v.starts_with([
            ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`',
        ]) || v.starts_with(char::is_whitespace)
            || ["- ", "? ", ": "].iter().any(|p| v.starts_with(p))
            || v == "-"
            || v == "?"
            || v == ":");
    !bad_start
        && !v.ends_with(char::is_whitespace)
        && !v.ends_with(':')
        && !v.chars().any(char::is_control)
        && !v.contains(": ")
        && !v.contains(" #")
        && !(in_flow && v.contains([',', '[', ']', '{', '}']))
}

/// `key: |`, `key: >-`, `- |2` …: the following more-indented lines are literal text.
fn opens_block_scalar(line_out: &[char]) -> bool {
    let s: String = line_out.iter().collect();
    let s = match s.find(" #") {
        Some(i) => &s[..i],
        None => &s,
    };
    let t = s.trim_end();
    let Some(last) = t.rsplit([' ']).next() else {
        return false;
    };
    let head = &t[..t.len() - last.len()];
    let is_indicator = last.starts_with(['|', '>'])
        && last[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == '+');
    is_indicator && (head.trim_end().ends_with(':') || head.trim_end().ends_with('-'))
}

#[cfg(test)]
mod tests {
    use super::super::pos::original_pos;
    use super::*;

    fn env(name: &str) -> Option<Found> {
        let value = match name {
            "TOKEN" => "s3: cr#3t",
            "RATE" => "40",
            "URL" => "http://127.0.0.1:9",
            "EMPTY" => "",
            "LINES" => "a\nb",
            _ => return None,
        };
        Some(Found {
            value: value.to_string(),
            origin: "environment".to_string(),
        })
    }

    fn text(t: &str) -> String {
        let i = interpolate(t, &env);
        assert!(i.problems.is_empty(), "{:?}", i.problems);
        i.text
    }

    #[test]
    fn substitutes_in_every_context_without_changing_the_yaml() {
        assert_eq!(text("a: ${RATE}"), "a: 40");
        assert_eq!(
            text("p: { r: ${RATE}, u: ${URL} }"),
            "p: { r: 40, u: http://127.0.0.1:9 }"
        );
        assert_eq!(text("h: \"Bearer ${TOKEN}\""), "h: \"Bearer s3: cr#3t\"");
        assert_eq!(text("h: ${TOKEN}"), "h: \"s3: cr#3t\"");
        assert_eq!(text("h: 'it''s ${RATE}'"), "h: 'it''s 40'");
        assert_eq!(text("a: ${NOPE:-5s} # ${NOPE}"), "a: 5s # ${NOPE}");
        assert_eq!(text("a: ${EMPTY:-7}"), "a: 7");
        assert_eq!(text("a: ${EMPTY}"), "a: \"\"");
        assert_eq!(text("a: $${LITERAL}"), "a: ${LITERAL}");
        assert_eq!(text("a: |\n  x ${RATE}\nb: 1"), "a: |\n  x 40\nb: 1");
        let v: serde_yaml::Value =
            serde_yaml::from_str(&text("h: ${TOKEN}\nl: \"${LINES}\"")).unwrap_or_default();
        assert_eq!(v["h"].as_str(), Some("s3: cr#3t"));
        assert_eq!(v["l"].as_str(), Some("a\nb"));
    }

    #[test]
    fn reports_missing_bad_unterminated_and_unquotable() {
        let i = interpolate("a: ${NOPE} ${}\nb: x-${TOKEN}-y\nc: ${RATE", &env);
        let got: Vec<(usize, usize, RefProblem)> = i
            .problems
            .into_iter()
            .map(|(p, r)| (p.line, p.col, r))
            .collect();
        assert_eq!(got[0], (1, 4, RefProblem::Missing("NOPE".into())));
        assert_eq!(got[1], (1, 12, RefProblem::BadName(String::new())));
        assert!(matches!(&got[2], (2, 6, RefProblem::Unquotable { var, .. }) if var == "TOKEN"));
        assert_eq!(got[3], (3, 4, RefProblem::Unterminated));
    }

    #[test]
    fn columns_map_back_to_the_file() {
        let i = interpolate("p: { a: ${URL}, b: x }", &env);
        let b_new = i.text.find("x }").map_or(0, |c| c + 1);
        let back = original_pos(
            &i.shifts,
            Pos {
                line: 1,
                col: b_new,
            },
        );
        assert_eq!(back.col, "p: { a: ${URL}, b: ".len() + 1);
        let inside = original_pos(&i.shifts, Pos { line: 1, col: 12 });
        assert_eq!(inside.col, 9);
    }
}
