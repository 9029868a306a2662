//! File → [`Scenario`]: defaults, presets, weights, and every check that serde cannot make.
//!
//! Owns the conversion from `file.rs`'s raw structs to `model.rs`'s resolved types. Errors are
//! collected, not returned at the first one, so a user fixes a file in one pass; each is located
//! through [`Ctx`] because serde's spans are gone by now. Target, region and host checks live
//! in `target.rs`.

use super::ctx::{capped, Ctx};
use super::error::{did_you_mean, ScenarioErrors};
use super::file::{self, ScenarioFile, WatchDurationFile};
use super::model::*;
use super::{data, extract, slo, target};

mod load;
use crate::metrics::Metric;
use load::load;

/// Resolve a parsed file; `cx` locates and collects the errors.
pub(crate) fn resolve(raw: ScenarioFile, mut cx: Ctx) -> Result<Scenario, ScenarioErrors> {
    if raw.name.trim().is_empty() {
        cx.expected("name", "a non-empty name", "\"\"");
    }
    let event = raw.event.map(|e| event(&mut cx, e));
    let target = target::target(&mut cx, raw.target);
    let regions = target::regions(&mut cx, raw.regions, &target);
    let load = load(&mut cx, raw.load);
    let viewer = viewer(&mut cx, raw.viewer, &target);
    let publishers = raw.publishers.map(|p| publishers(&mut cx, p, &target));
    let slo = raw.slo.map(|s| slo::slo(&mut cx, s)).unwrap_or_default();
    unmeasured_gates(&mut cx, &slo, &viewer, publishers.is_some());
    let alerts = raw.alerts.map(|a| Alerts {
        latency_ms: a
            .latency_ms
            .map(|v| cx.number("alerts.latency_ms", v, false)),
        loss_pct: a.loss_pct.map(|v| cx.number("alerts.loss_pct", v, false)),
    });
    let search = raw
        .search
        .map(|s| super::search::search(&mut cx, s, &load, &slo));
    if !cx.errors.is_empty() {
        let mut errors = cx.errors;
        errors.sort_by_key(|e| (e.line == 0, e.file != cx.file, e.line, e.col));
        let total = errors.len();
        return Err(ScenarioErrors(capped(errors, total, cx.file)).redact(&cx.secrets));
    }
    Ok(Scenario {
        name: raw.name,
        description: raw.description,
        source: cx.file.to_string(),
        event,
        target,
        regions,
        load,
        viewer,
        publishers,
        slo,
        alerts,
        overrides: Vec::new(),
        search,
    })
}

/// A gate on a metric this scenario never measures would fail every run for lack of samples
/// (a gated metric with no samples fails), so it is refused here with what would measure it.
fn unmeasured_gates(cx: &mut Ctx, slo: &Slo, viewer: &Viewer, has_publishers: bool) {
    let watches_hls = viewer.watch.protocol == WatchProtocol::Hls;
    for gate in &slo.gates {
        let missing = match gate.metric {
            Metric::JoinMs if viewer.join.is_empty() => Some((
                "join_ms times the viewer.join steps, and viewer.join has none",
                if watches_hls {
                    "add the app's join steps (token, room …) under viewer.join, or gate first_frame_ms instead"
                } else {
                    "add the app's join steps (token, room …) under viewer.join"
                },
            )),
            Metric::FirstFrameMs
            | Metric::SegmentMs
            | Metric::PlaylistMs
            | Metric::StallCount
            | Metric::StallRatio
            | Metric::VideoStartFailureRate
                if !watches_hls =>
            {
                Some((
                    "this metric comes from watching HLS, and viewer.watch.protocol is none",
                    "set viewer.watch.protocol: hls with a playlist url, or remove this gate",
                ))
            }
            Metric::ChatConnectMs | Metric::ChatDeliveryMs if viewer.chat.is_none() => Some((
                "this metric comes from chat, and viewer.chat is not set",
                "add viewer.chat (url, messages_per_min), or remove this gate",
            )),
            Metric::PublishConnectMs if !has_publishers => Some((
                "publish_connect_ms comes from publishers, and there are none",
                "add a publishers section, or remove this gate",
            )),
            _ => None,
        };
        if let Some((problem, hint)) = missing {
            cx.err(&format!("slo.{}", gate.metric), problem).hint(hint);
        }
    }
}

fn event(cx: &mut Ctx, e: file::EventFile) -> Event {
    if let Some(at) = &e.starts_at {
        if chrono::DateTime::parse_from_rfc3339(at).is_err() {
            cx.expected(
                "event.starts_at",
                "an RFC 3339 timestamp like 2027-03-05T15:30:00Z",
                format!("{at:?}"),
            );
        }
    }
    if let Some(j) = e.expected_peak_joins_per_sec {
        cx.number("event.expected_peak_joins_per_sec", j, false);
    }
    let headroom = e.headroom.unwrap_or(1.0);
    cx.number("event.headroom", headroom, true);
    Event {
        name: e.name,
        starts_at: e.starts_at,
        expected_peak_viewers: e.expected_peak_viewers,
        expected_peak_joins_per_sec: e.expected_peak_joins_per_sec,
        headroom,
        support_tier: match e.support_tier.unwrap_or(file::SupportTierFile::Basic) {
            file::SupportTierFile::Basic => SupportTier::Basic,
            file::SupportTierFile::Enterprise => SupportTier::Enterprise,
            file::SupportTierFile::Strategic => SupportTier::Strategic,
        },
    }
}

fn viewer(cx: &mut Ctx, v: file::ViewerFile, t: &Target) -> Viewer {
    let mut join: Vec<JoinStep> = Vec::new();
    let mut known: Vec<String> = extract::BUILTIN.map(String::from).into();
    let dir = std::path::Path::new(cx.file)
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let data = v.data.and_then(|d| data::data(cx, d, &dir));
    if let Some(d) = &data {
        known.extend(d.columns.iter().cloned());
    }
    for (i, s) in v.join.unwrap_or_default().into_iter().enumerate() {
        let key = format!("viewer.join[{i}]");
        let method = match s.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
            None | Some("GET") => HttpMethod::Get,
            Some("POST") => HttpMethod::Post,
            Some("PUT") => HttpMethod::Put,
            Some("DELETE") => HttpMethod::Delete,
            Some("HEAD") => HttpMethod::Head,
            Some(other) => {
                let valid: Vec<String> = ["GET", "POST", "PUT", "DELETE", "HEAD"]
                    .map(String::from)
                    .into();
                let hint = did_you_mean(other, &valid, "valid methods");
                cx.expected(
                    &format!("{key}.method"),
                    "one of GET, POST, PUT, DELETE, HEAD",
                    format!("`{other}`"),
                )
                .hint(hint);
                HttpMethod::Get
            }
        };
        if let Some(code) = s.expect_status {
            if !(100..=599).contains(&code) {
                cx.expected(
                    &format!("{key}.expect_status"),
                    "an HTTP status between 100 and 599",
                    code.to_string(),
                );
            }
        }
        let path = s.path;
        check_url(
            cx,
            &format!("{key}.path"),
            &path,
            t,
            &["http", "https"],
            &known,
        );
        if let Some(b) = &s.body {
            extract::check_templates(cx, &format!("{key}.body"), b, &known);
        }
        let headers = s.headers.map(|h| h.0).unwrap_or_default();
        for (hname, value) in &headers {
            let hkey = format!("{key}.headers.{hname}");
            if http::HeaderName::from_bytes(hname.as_bytes()).is_err() {
                cx.expected(
                    &hkey,
                    "an HTTP header name (letters, digits, `-`)",
                    format!("`{hname}`"),
                );
            }
            if http::HeaderValue::from_str(value).is_err() {
                cx.err(&hkey, "the value is not a valid HTTP header value");
            }
            extract::check_templates(cx, &hkey, value, &known);
        }
        let extract = extract::extracts(cx, &key, s.extract, &mut known);
        let name = s.name.unwrap_or_else(|| format!("step-{}", i + 1));
        if join.iter().any(|j| j.name == name) {
            cx.err(
                &format!("{key}.name"),
                format!("duplicate join step name `{name}`"),
            );
        }
        join.push(JoinStep {
            name,
            method,
            path,
            body: s.body,
            expect_status: s.expect_status,
            expect_body: s.expect_body,
            header_names: headers.iter().map(|(n, _)| n.clone()).collect(),
            headers,
            extract,
        });
    }
    for (name, value) in &t.headers {
        extract::check_templates(cx, &format!("target.headers.{name}"), value, &known);
    }
    let protocol = match v.watch.protocol.unwrap_or(file::WatchProtocolFile::Hls) {
        file::WatchProtocolFile::Hls => WatchProtocol::Hls,
        file::WatchProtocolFile::None => WatchProtocol::None,
    };
    let url = v.watch.url.unwrap_or_default();
    if protocol == WatchProtocol::Hls && url.is_empty() {
        cx.err("viewer.watch", "`url` is required when protocol is hls")
            .hint("add `url: /hls/stream.m3u8` (relative to the region's base_url)");
    } else if !url.is_empty() {
        check_url(cx, "viewer.watch.url", &url, t, &["http", "https"], &known);
    }
    let duration = match v.watch.duration {
        WatchDurationFile::Fixed(d) => {
            cx.nonzero_duration("viewer.watch.duration", d);
            WatchTime::Fixed { duration: d }
        }
        WatchDurationFile::LogNormal { median, p90 } => {
            cx.nonzero_duration("viewer.watch.duration.median", median);
            if p90 < median {
                cx.err("viewer.watch.duration.p90", "must be at least the median")
                    .hint("p90 is the watch time 90% of viewers stay less than; it cannot be below the median");
            }
            WatchTime::LogNormal { median, p90 }
        }
    };
    let rendition = match v.watch.rendition.unwrap_or(file::RenditionFile::Lowest) {
        file::RenditionFile::Lowest => Rendition::Lowest,
        file::RenditionFile::Highest => Rendition::Highest,
        file::RenditionFile::Random => Rendition::Random,
        file::RenditionFile::ByBandwidth => Rendition::ByBandwidth,
    };
    let chat = v.chat.map(|c| {
        let url = c.url;
        check_url(cx, "viewer.chat.url", &url, t, &["ws", "wss"], &known);
        let rate = c.messages_per_min.unwrap_or(0.0);
        cx.number("viewer.chat.messages_per_min", rate, false);
        Chat {
            url,
            messages_per_min: rate,
            delivery: match c.delivery {
                Some(file::ChatDeliveryFile::Echo) => ChatDelivery::Echo,
                Some(file::ChatDeliveryFile::FanOut) | None => ChatDelivery::FanOut,
            },
        }
    });
    Viewer {
        data,
        join,
        watch: Watch {
            protocol,
            url,
            duration,
            rendition,
        },
        chat,
    }
}

/// A path or URL, or a `{{name}}` template that becomes one per viewer (checked when sent:
/// hosts against target.allow_hosts, a value that is no URL as `extract_failed`).
fn check_url(cx: &mut Ctx, key: &str, s: &str, t: &Target, schemes: &[&str], known: &[String]) {
    if template_vars(s).is_empty() {
        target::check_path_or_url(cx, key, s, t, schemes);
    } else {
        extract::check_templates(cx, key, s, known);
    }
}

fn publishers(cx: &mut Ctx, p: file::PublishersFile, t: &Target) -> Publishers {
    let protocol = p.protocol.unwrap_or_else(|| "rtmp".to_string());
    if protocol != "rtmp" {
        cx.expected("publishers.protocol", "`rtmp`", format!("`{protocol}`"));
    }
    let url = p.url;
    target::check_path_or_url(cx, "publishers.url", &url, t, &["rtmp", "rtmps"]);
    let streams = p.streams.unwrap_or(1);
    if streams == 0 {
        cx.expected("publishers.streams", "at least 1", "0");
    }
    let bitrate_kbps = p.bitrate_kbps.unwrap_or(2500);
    if bitrate_kbps == 0 {
        cx.expected("publishers.bitrate_kbps", "at least 1", "0");
    }
    cx.nonzero_duration("publishers.duration", p.duration.0);
    let dying = p.dying.map(|d| {
        let n = d.streams.unwrap_or(1);
        if n == 0 || n > streams {
            cx.expected(
                "publishers.dying.streams",
                format!("between 1 and publishers.streams ({streams})"),
                n.to_string(),
            );
        }
        if d.after.0 >= p.duration.0 {
            cx.err(
                "publishers.dying.after",
                "must be shorter than publishers.duration, or the publisher never dies",
            );
        }
        Dying {
            streams: n,
            after: d.after.0,
        }
    });
    Publishers {
        dying,
        protocol,
        url,
        streams,
        bitrate_kbps,
        duration: p.duration.0,
    }
}
