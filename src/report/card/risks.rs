//! The report card's "top risks": findings in plain words, worst first, derived from the
//! RunResult alone (failed SLOs, an early stop, a limited generator, errors by class, capped
//! arrivals, an untested peak, the rehearsal's scale).

use super::{gate_words, scale_words, Severity};
use crate::format;
use crate::metrics::{ErrorKind, Metric, RunResult, RunStatus, Stat};

/// The readiness target (concurrent viewers), the same figure the report and checklist print.
fn target_viewers(result: &RunResult) -> Option<f64> {
    result.readiness.as_ref().map(|r| r.overall.target_viewers)
}

/// Plain words for an error class.
fn class_words(class: ErrorKind) -> &'static str {
    match class {
        ErrorKind::Refused => "connections refused",
        ErrorKind::Timeout => "requests timed out",
        ErrorKind::Http5xx => "server errors (5xx)",
        ErrorKind::Http4xx => "rejected requests (4xx)",
        ErrorKind::Reset => "connections reset",
        ErrorKind::Tls => "TLS failures",
        ErrorKind::Dns => "DNS failures",
        ErrorKind::BodyMismatch => "unexpected responses",
        ErrorKind::HostNotAllowed => "refused before sending (host not in allow_hosts)",
        ErrorKind::UnusableUrl => "refused before sending (unusable URL)",
        ErrorKind::LiveEdge404 => "live-edge segments not found (404)",
        ErrorKind::NotHls => "playlists that were not HLS",
        ErrorKind::Protocol => "answers that were not HTTP",
        ErrorKind::Http3xx => "redirects not followed (3xx)",
        ErrorKind::Redirect => "redirect loops or disallowed redirects",
        ErrorKind::BodyTooLarge => "responses over the body cap",
        ErrorKind::PlaylistTooLarge => "playlists over the size cap",
        ErrorKind::Cut => "requests cut at the end of the run",
        _ => "other failures",
    }
}

/// Risks in plain words, worst first: failed SLOs, an early stop, a limited generator, errors,
/// capped arrivals, an untested peak, and the rehearsal's scale. At most `n`.
pub fn top_risks(result: &RunResult, n: usize) -> Vec<(Severity, String)> {
    let mut risks: Vec<(Severity, f64, String)> = Vec::new();
    if let (RunStatus::Aborted | RunStatus::Interrupted, reason) =
        (result.status, &result.status_reason)
    {
        let why = reason
            .as_deref()
            .unwrap_or("stopped before the plan finished");
        risks.push((
            Severity::Critical,
            f64::MAX,
            format!("The run stopped early ({why}): later phases were not tested."),
        ));
    }
    let region_failures: Vec<_> = result
        .slo
        .iter()
        .filter(|s| !s.passed && s.scope != "overall")
        .collect();
    let failures: Vec<_> = result
        .slo
        .iter()
        .filter(|s| !s.passed && (s.scope != "overall" || region_failures.is_empty()))
        .collect();
    // One risk per broken SLO, naming every region that broke it: three regions failing the
    // same gate is one finding, not three.
    let mut gates: Vec<(Metric, Stat)> = Vec::new();
    for f in &failures {
        if !gates.contains(&(f.metric, f.stat)) {
            gates.push((f.metric, f.stat));
        }
    }
    // Viewers who could not watch get their own risk below, with how their visits ended.
    if result.overall.viewers.failed > 0 {
        gates.retain(|g| g.0 != Metric::ViewerFailureRate);
    }
    for (metric, stat) in gates {
        let group: Vec<_> = failures
            .iter()
            .filter(|f| f.metric == metric && f.stat == stat)
            .collect();
        let ratio =
            |f: &&&crate::metrics::SloResult| f.measured.map_or(1e6, |m| m / f.threshold.max(1e-9));
        let worst = group.iter().map(ratio).fold(0.0, f64::max);
        let text = match group.as_slice() {
            // A region's name is shown as written ("latam-sao-paulo", never "Latam-sao-paulo").
            [f] => format!(
                "{}: {} ({worst:.1}× the limit).",
                scope_words(&f.scope),
                gate_words(metric, stat, f.measured, f.threshold)
            ),
            _ => {
                let words =
                    capitalised(&gate_words(metric, stat, None, 0.0).replace(": no samples", ""));
                let fmt = |v: f64| format::value(metric, v);
                let each: Vec<String> = group
                    .iter()
                    .map(|f| {
                        format!(
                            "{} {}",
                            f.scope,
                            f.measured.map_or("no samples".into(), fmt)
                        )
                    })
                    .collect();
                let limit = group.first().map_or(String::new(), |f| fmt(f.threshold));
                format!(
                    "{words} over its {limit} SLO in {} regions: {}.",
                    group.len(),
                    each.join(", ")
                )
            }
        };
        risks.push((Severity::Critical, worst, text));
    }
    let g = &result.generator;
    if g.limited {
        let msg = g.message.as_deref().map(capitalised).unwrap_or_else(|| {
            format!("The load generator fell behind its schedule (start lag p99 {}): the target may do better than measured.", format::ms(g.lag_p99_ms))
        });
        risks.push((Severity::Warning, 3.0, msg));
    }
    let o = &result.overall;
    if o.viewers.failed > 0 {
        let gate_failed = result
            .slo
            .iter()
            .any(|s| s.scope == "overall" && s.metric == Metric::ViewerFailureRate && !s.passed);
        let sev = if gate_failed {
            Severity::Critical
        } else {
            Severity::Warning
        };
        risks.push((
            sev,
            // Viewers who could not watch come before any single SLO's ratio.
            if gate_failed { f64::MAX / 2.0 } else { 2.5 },
            format!(
                "{} of {} viewers could not watch ({}): {}.",
                format::count(o.viewers.failed as f64),
                format::count(o.viewers.started as f64),
                format::pct(o.viewers.viewer_failure_rate),
                crate::report::viewers::failure_words(o)
            ),
        ));
    }
    let requests = o.errors.iter().filter(|(k, _)| k.is_request());
    if let Some((class, count)) = requests.max_by_key(|e| *e.1) {
        let failed = crate::report::viewers::request_errors(o);
        let sev = if o.error_rate >= 0.01 {
            Severity::Critical
        } else {
            Severity::Warning
        };
        risks.push((
            sev,
            2.0,
            format!(
                "{} of requests failed: {} of {}, {} of them {}.",
                format::pct(o.error_rate),
                format::count(failed as f64),
                format::count(o.requests as f64),
                format::count(*count as f64),
                class_words(*class),
            ),
        ));
    }
    if o.joins.capped > 0 {
        risks.push((
            Severity::Warning,
            1.5,
            format!(
                "{} planned arrivals were not started because max_viewers ({}) was reached: the planned load was not fully applied.",
                format::count(o.joins.capped as f64),
                format::count(result.scenario.max_viewers as f64)
            ),
        ));
    }
    let peak = result
        .readiness
        .as_ref()
        .map_or(o.peak_concurrent_viewers, |r| r.overall.peak_viewers) as f64;
    if let Some(target) = target_viewers(result).filter(|t| peak < t * 0.95) {
        risks.push((
            Severity::Warning,
            1.2,
            format!(
                "Peak concurrency was {} viewers, {} of the readiness target of {}: the target load was not tested.",
                format::count(peak),
                format::pct(peak / target),
                format::num(target)
            ),
        ));
    }
    if result.scenario.scale < 1.0 {
        risks.push((
            Severity::Warning,
            1.0,
            format!(
                "This was a {}: it shows behaviour up to {} concurrent viewers, not at the event's full size.",
                scale_words(result.scenario.scale),
                format::count(o.peak_concurrent_viewers as f64)
            ),
        ));
    }
    // Worst first: severity, then how far over (ratios for SLOs, fixed ranks for the others).
    risks.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)));
    let mut out: Vec<(Severity, String)> = risks.into_iter().take(n).map(|r| (r.0, r.2)).collect();
    if out.is_empty() {
        // "Every SLO held" only when there was one to hold (`quick` sets none).
        let words = if result.slo.is_empty() {
            "No risks found, but no SLO was set: nothing was judged against a limit."
        } else {
            "No risks found: every SLO held at the tested load."
        };
        out.push((Severity::Ok, words.into()));
    }
    out
}

/// A scope at the start of a sentence: a region as written, `overall` capitalised.
fn scope_words(scope: &str) -> String {
    if scope == "overall" {
        "Overall".into()
    } else {
        scope.to_string()
    }
}

/// Our own words at the start of a sentence (never a region's name: see [`scope_words`]).
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
}
