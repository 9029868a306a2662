//! Values carried between join steps: `extract:` (JSON, header, regex) and the `{{name}}`s
//! that use them.
//!
//! Checked here, before any request: every `{{name}}` must be defined before it is used
//! (`viewer_id`, a `viewer.data` column, or a variable an earlier step extracts), JSON paths
//! become JSON Pointers, and regular expressions are compiled once.

use super::ctx::Ctx;
use super::file::{ExtractFile, OrderedMap};
use super::model::{template_vars, Extract, ExtractFrom};

/// The variables every viewer has.
pub(crate) const BUILTIN: [&str; 1] = ["viewer_id"];

/// `extract:` of one step; the names are added to `known`.
pub(crate) fn extracts(
    cx: &mut Ctx,
    key: &str,
    map: Option<OrderedMap<ExtractFile>>,
    known: &mut Vec<String>,
) -> Vec<Extract> {
    let mut out = Vec::new();
    for (name, e) in map.map(|m| m.0).unwrap_or_default() {
        let k = format!("{key}.extract.{name}");
        if !super::interpolate::valid_name(&name) {
            cx.expected(
                &k,
                "a variable name (letters, digits, `_`; not starting with a digit)",
                format!("`{name}`"),
            );
        } else if known.contains(&name) {
            cx.err(&k, format!("`{name}` is already defined before this step"))
                .hint("give each extracted value its own name");
        }
        let from = match (e.json, e.header, e.regex) {
            (Some(j), None, None) => match json_pointer(&j) {
                Ok(p) => ExtractFrom::Json(p),
                Err(why) => {
                    cx.expected(
                        &format!("{k}.json"),
                        "a JSON Pointer like /playback/url or a path like playback.url or items[0].id",
                        format!("{j:?} ({why})"),
                    );
                    ExtractFrom::Json(String::new())
                }
            },
            (None, Some(h), None) => {
                if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                    cx.expected(
                        &format!("{k}.header"),
                        "an HTTP header name",
                        format!("`{h}`"),
                    );
                }
                ExtractFrom::Header(h)
            }
            (None, None, Some(r)) => {
                if let Err(e) = regex::Regex::new(&r) {
                    let first = e.to_string().lines().last().unwrap_or_default().to_string();
                    cx.expected(
                        &format!("{k}.regex"),
                        "a regular expression (Rust regex syntax)",
                        format!("{r:?}: {}", first.trim()),
                    );
                }
                ExtractFrom::Regex(r)
            }
            _ => {
                cx.err(&k, "needs exactly one of `json`, `header` or `regex`")
                    .hint(
                        "like `{ json: /token }`, `{ header: Location }` or `{ regex: 'room=(\\w+)' }`",
                    );
                ExtractFrom::Json(String::new())
            }
        };
        known.push(name.clone());
        out.push(Extract { name, from });
    }
    out
}

/// Every `{{name}}` in `text` must be in `known`.
pub(crate) fn check_templates(cx: &mut Ctx, key: &str, text: &str, known: &[String]) {
    for var in template_vars(text) {
        if !known.iter().any(|k| k == var) {
            let list = known
                .iter()
                .map(|k| format!("{{{{{k}}}}}"))
                .collect::<Vec<_>>()
                .join(", ");
            cx.err(key, format!("`{{{{{var}}}}}` is not defined here"))
                .hint(format!(
                    "defined here: {list} (a join step sees only what earlier steps extract)"
                ));
        }
    }
}

/// A JSON Pointer as is (`/a/0/b`, `` for the whole document), or the path syntax
/// `a.b[0].c` (optionally `$.`-prefixed) converted to one.
pub(crate) fn json_pointer(expr: &str) -> Result<String, &'static str> {
    if expr.is_empty() || expr.starts_with('/') {
        return Ok(expr.to_string());
    }
    let path = expr.strip_prefix("$.").unwrap_or(expr);
    let mut out = String::new();
    for part in path.split('.') {
        let (head, mut rest) = match part.find('[') {
            Some(b) => (&part[..b], &part[b..]),
            None => (part, ""),
        };
        if head.is_empty() && rest.is_empty() {
            return Err("empty key");
        }
        if !head.is_empty() {
            out.push('/');
            out.push_str(&head.replace('~', "~0").replace('/', "~1"));
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']').ok_or("`[` without `]`")?;
            let idx: usize = inner[..close]
                .parse()
                .map_err(|_| "index is not a number")?;
            out.push_str(&format!("/{idx}"));
            rest = &inner[close + 1..];
        }
        if !rest.is_empty() {
            return Err("text after `]`");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::json_pointer;

    #[test]
    fn paths_become_pointers() {
        assert_eq!(json_pointer("/token").as_deref(), Ok("/token"));
        assert_eq!(
            json_pointer("playback.urls[1].href").as_deref(),
            Ok("/playback/urls/1/href")
        );
        assert_eq!(json_pointer("$.a/b").as_deref(), Ok("/a~1b"));
        assert_eq!(json_pointer("items[0]").as_deref(), Ok("/items/0"));
        assert!(json_pointer("a..b").is_err() && json_pointer("a[x]").is_err());
    }
}
