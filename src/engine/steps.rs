//! The join steps as a run prepares them once from the scenario (methods, header names and
//! extraction patterns parsed, templates kept for each viewer to render), with the counts of
//! viewers each step stopped: what [`super::spec::ViewerSpec`] holds and every viewer's
//! [`super::join`] reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::{HeaderName, HeaderValue};

use crate::scenario::{template_vars, ExtractFrom, JoinStep};

/// Headers a viewer sends with each request, made from its own variables.
pub type ViewerHeaders = Arc<[(HeaderName, HeaderValue)]>;

pub struct PreparedStep {
    pub name: String,
    pub method: http::Method,
    pub path: String,
    pub body: Option<String>,
    pub expect_status: Option<u16>,
    pub expect_body: Option<String>,
    /// This step's own headers, values possibly templated.
    pub headers: Vec<(HeaderName, String)>,
    pub extract: Vec<Extractor>,
    /// Viewers whose extraction failed at this step.
    pub extract_failures: AtomicU64,
}

pub struct Extractor {
    pub name: Arc<str>,
    pub with: ExtractWith,
}

pub enum ExtractWith {
    Json(String),
    Header(String),
    Regex(regex::Regex),
}

impl PreparedStep {
    pub fn from_step(step: &JoinStep) -> Result<PreparedStep, String> {
        use crate::scenario::HttpMethod::*;
        let method = match step.method {
            Get => http::Method::GET,
            Post => http::Method::POST,
            Put => http::Method::PUT,
            Delete => http::Method::DELETE,
            Head => http::Method::HEAD,
        };
        let headers = step
            .headers
            .iter()
            .map(|(n, v)| {
                HeaderName::from_bytes(n.as_bytes())
                    .map(|h| (h, v.clone()))
                    .map_err(|_| format!("join step `{}`: bad header name {n}", step.name))
            })
            .collect::<Result<_, _>>()?;
        let extract = step
            .extract
            .iter()
            .map(|e| {
                let with = match &e.from {
                    ExtractFrom::Json(p) => ExtractWith::Json(p.clone()),
                    ExtractFrom::Header(h) => ExtractWith::Header(h.clone()),
                    ExtractFrom::Regex(r) => ExtractWith::Regex(
                        regex::Regex::new(r)
                            .map_err(|e| format!("join step `{}`: {e}", step.name))?,
                    ),
                };
                Ok(Extractor {
                    name: e.name.as_str().into(),
                    with,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(PreparedStep {
            name: step.name.clone(),
            method,
            path: step.path.clone(),
            body: step.body.clone(),
            expect_status: step.expect_status,
            expect_body: step.expect_body.clone(),
            headers,
            extract,
            extract_failures: AtomicU64::new(0),
        })
    }

    /// Whether the response body must be kept (to check or extract from it).
    pub(super) fn keeps_body(&self) -> bool {
        // A header is kept with the body, so every extraction keeps it.
        self.expect_body.is_some() || !self.extract.is_empty()
    }
}

/// The parts of a scenario's viewer journey that depend on join variables, separated from the
/// parts that do not (which are resolved once per region, as before).
pub struct JourneyParts {
    pub steps: Vec<PreparedStep>,
    /// `target.headers` without `{{…}}`: sent by every connection as configured.
    pub static_headers: Vec<(String, String)>,
    pub header_templates: Vec<(HeaderName, String)>,
    pub watch_template: Option<String>,
    pub chat_template: Option<String>,
}

impl JourneyParts {
    pub fn new(s: &crate::scenario::Scenario) -> Result<JourneyParts, String> {
        let templated = |t: &str| !template_vars(t).is_empty();
        let (tpl, static_headers): (Vec<_>, Vec<_>) = s
            .target
            .headers
            .iter()
            .cloned()
            .partition(|(_, v)| templated(v));
        let header_templates = tpl
            .into_iter()
            .map(|(n, v)| {
                HeaderName::from_bytes(n.as_bytes())
                    .map(|h| (h, v))
                    .map_err(|_| format!("target.headers: bad header name {n}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(JourneyParts {
            steps: s
                .viewer
                .join
                .iter()
                .map(PreparedStep::from_step)
                .collect::<Result<_, _>>()?,
            static_headers,
            header_templates,
            watch_template: Some(s.viewer.watch.url.clone()).filter(|u| templated(u)),
            chat_template: s
                .viewer
                .chat
                .as_ref()
                .map(|c| c.url.clone())
                .filter(|u| templated(u)),
        })
    }
}

/// One line per join step whose extraction failed, for the run's notices.
pub fn failure_notices(steps: &[PreparedStep]) -> Vec<String> {
    steps
        .iter()
        .filter_map(|s| {
            let n = s.extract_failures.load(Ordering::Relaxed);
            let names: Vec<&str> = s.extract.iter().map(|x| &*x.name).collect();
            (n > 0).then(|| {
                format!(
                    "join step `{}`: {n} viewers stopped with extract_failed ({} not found, empty, or not usable where it is used)",
                    s.name,
                    if names.is_empty() { "a templated value".to_string() } else { names.join(", ") }
                )
            })
        })
        .collect()
}
