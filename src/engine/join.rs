//! The join steps of one viewer: requests in order on its keep-alive connections, values
//! extracted from their responses (`extract:`), and the `{{name}}` templates that use them in
//! later steps, the watch and chat URLs and headers.
//!
//! An extraction that finds nothing (or an empty value, or a value that makes no URL or header)
//! is a failed join step, `extract_failed`: the viewer stops there rather than go on with an
//! empty token. Each step counts its own such failures, so the run can say which step failed.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;
use url::Url;

use crate::metrics::ErrorKind;
use crate::protocol::http::Response;
use crate::scenario::{render_template, template_vars};

use super::steps::{ExtractWith, PreparedStep, ViewerHeaders};
use super::{connections::Connections, spec::ViewerSpec};

/// What a joined viewer goes on with: URLs and headers made from its variables, when the
/// scenario templates them.
#[derive(Default)]
pub struct Joined {
    pub watch_url: Option<Url>,
    pub chat_url: Option<Url>,
}

/// A viewer's variables: `viewer_id`, its `viewer.data` row, then what its steps extracted.
struct Vars<'a> {
    viewer_id: u64,
    /// (column names, this viewer's row)
    row: Option<(&'a [String], &'a [String])>,
    values: Vec<(Arc<str>, String)>,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        if name == "viewer_id" {
            return Some(self.viewer_id.to_string());
        }
        if let Some((cols, row)) = self.row {
            if let Some(i) = cols.iter().position(|c| c == name) {
                return row.get(i).cloned();
            }
        }
        self.values
            .iter()
            .rev()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.clone())
    }

    fn render(&self, text: &str) -> String {
        if !text.contains("{{") {
            return text.to_string();
        }
        render_template(text, &|n| self.get(n))
    }

    fn has_all(&self, text: &str) -> bool {
        template_vars(text).iter().all(|v| self.get(v).is_some())
    }
}

/// The headers sent on the viewer's next requests: the scenario's templated target headers
/// whose variables all exist by now, then `step`'s own. None when there are none.
fn headers_now(
    spec: &ViewerSpec,
    vars: &Vars,
    step: Option<&PreparedStep>,
) -> Result<Option<ViewerHeaders>, ()> {
    let own = step.map_or(&[][..], |s| &s.headers[..]);
    let mut out = Vec::new();
    for (name, template) in spec.header_templates.iter().chain(own) {
        if !vars.has_all(template) {
            continue;
        }
        let value = HeaderValue::from_str(&vars.render(template)).map_err(|_| ())?;
        out.push((name.clone(), value));
    }
    Ok((!out.is_empty()).then(|| out.into()))
}

pub async fn join(
    spec: &ViewerSpec,
    conns: &mut Connections,
    viewer_id: u64,
) -> Result<Joined, ()> {
    let row = spec.data.as_ref().and_then(|d| {
        let i = super::data::row_index(d, viewer_id, spec.viewer_id_stride, spec.seed)?;
        Some((&d.columns[..], &d.values.get(i)?[..]))
    });
    let mut vars = Vars {
        viewer_id,
        row,
        values: Vec::new(),
    };
    for (i, step) in spec.join.iter().enumerate() {
        let base = &spec.region_base[conns.region as usize];
        let made;
        let url = match spec.join_url(i, conns.region) {
            Some(shared) => shared,
            None => match base.join(&vars.render(&step.path)) {
                Ok(url) => {
                    made = url;
                    &made
                }
                Err(_) => {
                    unusable_path(conns, step);
                    return Err(());
                }
            },
        };
        let body = step.body.as_ref().map(|b| Bytes::from(vars.render(b)));
        conns.headers = headers_now(spec, &vars, Some(step)).map_err(|()| {
            conns.judged(Some(ErrorKind::ExtractFailed));
            step.extract_failures.fetch_add(1, Ordering::Relaxed);
        })?;
        let response = conns
            .request(step.method.clone(), url, body, step.keeps_body())
            .await
            .map_err(|_| ())?;
        let status_ok = match step.expect_status {
            Some(expected) => response.status == expected,
            None => (200..300).contains(&response.status),
        };
        if !status_ok {
            conns.judged(Some(ErrorKind::from_status(response.status)));
            return Err(());
        }
        if let Some(needle) = &step.expect_body {
            let found = response
                .body
                .as_ref()
                .is_some_and(|b| contains(b, needle.as_bytes()));
            if !found {
                conns.judged(Some(ErrorKind::BodyMismatch));
                return Err(());
            }
        }
        for x in &step.extract {
            match extract_one(&x.with, &response) {
                Some(v) => vars.values.push((x.name.clone(), v)),
                None => {
                    conns.judged(Some(ErrorKind::ExtractFailed));
                    step.extract_failures.fetch_add(1, Ordering::Relaxed);
                    return Err(());
                }
            }
        }
        conns.judged(None);
    }
    // What the viewer watches and chats with is made now, so an unusable value fails the join.
    let failed = |conns: &mut Connections| {
        conns.judged(Some(ErrorKind::ExtractFailed));
        if let Some(last) = spec.join.last() {
            last.extract_failures.fetch_add(1, Ordering::Relaxed);
        }
    };
    let base = &spec.region_base[conns.region as usize];
    let mut joined = Joined::default();
    if let Some(t) = &spec.watch_template {
        match base.join(&vars.render(t)) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => joined.watch_url = Some(u),
            _ => {
                failed(conns);
                return Err(());
            }
        }
    }
    if let Some(t) = &spec.chat_template {
        match super::chat::resolve_url(base, &vars.render(t)) {
            Ok(u) => joined.chat_url = Some(u),
            Err(_) => {
                failed(conns);
                return Err(());
            }
        }
    }
    match headers_now(spec, &vars, None) {
        Ok(h) => conns.headers = h,
        Err(()) => {
            failed(conns);
            return Err(());
        }
    }
    Ok(joined)
}

/// A step whose path made no URL: a path made from extracted values is their failure; a
/// written one is the URL's.
fn unusable_path(conns: &mut Connections, step: &PreparedStep) {
    if template_vars(&step.path).iter().all(|v| *v == "viewer_id") {
        conns.judged(Some(ErrorKind::UnusableUrl));
    } else {
        conns.judged(Some(ErrorKind::ExtractFailed));
        step.extract_failures.fetch_add(1, Ordering::Relaxed);
    }
}

/// The value at the extractor's place in the response; None when absent or empty.
fn extract_one(with: &ExtractWith, response: &Response) -> Option<String> {
    let value = match with {
        ExtractWith::Json(pointer) => {
            let doc: serde_json::Value = serde_json::from_slice(response.body.as_ref()?).ok()?;
            match doc.pointer(pointer)? {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => return None,
                other => other.to_string(),
            }
        }
        ExtractWith::Header(name) => response.header(name)?,
        ExtractWith::Regex(re) => {
            let text = std::str::from_utf8(response.body.as_ref()?).ok()?;
            let caps = re.captures(text)?;
            caps.get(1).or_else(|| caps.get(0))?.as_str().to_string()
        }
    };
    (!value.is_empty()).then_some(value)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
