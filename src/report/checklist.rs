//! `checklist.md`: the contingency checklist for the planned event, on a timeline (T−4 weeks,
//! T−1 week, T−24 h, during, T+1 day). Items derived from the findings come first in each stage
//! and cite the number behind them; the standing items of event readiness follow. With
//! `event.starts_at` every stage shows its actual date.

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};

use crate::analysis::network;
use crate::format;
use crate::metrics::result::{ScopeReadiness, Verdict};
use crate::metrics::{ErrorKind, Metric, RunResult};
use crate::scenario::SupportTier;

/// Stages of the timeline: title and offset from the event start.
const STAGES: [(&str, i64); 5] = [
    ("T−4 weeks", -28 * 24),
    ("T−1 week", -7 * 24),
    ("T−24 h", -24),
    ("During the event", 0),
    ("T+1 day", 24),
];

#[derive(Default)]
struct Stages([Vec<String>; 5]);

impl Stages {
    fn add(&mut self, stage: usize, item: String) {
        if let Some(s) = self.0.get_mut(stage) {
            s.push(item);
        }
    }
}

/// `quick` measured one URL: it rehearsed no event and no region, so there is no event checklist
/// to derive (a "region quick" on the event's timeline would be an invention).
fn quick(r: &RunResult) -> String {
    format!(
        "# Contingency checklist\n\nNo event checklist: this was `peakready quick` ({}), one URL under load, not a \
         rehearsal of an event. Rehearse the event with `peakready run SCENARIO` for a checklist \
         derived from its regions, plan and SLOs.\n",
        r.scenario
            .description
            .as_deref()
            .unwrap_or(&r.scenario.target)
    )
}

/// What to scale when a gate on `metric` breaks: the tier that metric measures.
fn component(metric: Metric) -> &'static str {
    metric.info().component
}

/// For an error-rate finding, the error classes behind it (`; 298 http_5xx`).
fn top_errors(r: &RunResult, scope: &str, metric: Metric) -> String {
    if metric != Metric::ErrorRate {
        return String::new();
    }
    let b = r
        .regions
        .iter()
        .chain(std::iter::once(&r.overall))
        .find(|b| b.name == scope);
    let mut classes: Vec<(&ErrorKind, &u64)> =
        b.map(|b| b.errors.iter().collect()).unwrap_or_default();
    classes.sort_by(|a, b| b.1.cmp(a.1));
    let top: Vec<String> = classes
        .iter()
        .take(2)
        .map(|(k, v)| format!("{} {k}", format::count(**v as f64)))
        .collect();
    if top.is_empty() {
        String::new()
    } else {
        format!("; errors over the run: {}", top.join(", "))
    }
}

fn support_targets(tier: Option<SupportTier>) -> String {
    match tier {
        Some(SupportTier::Basic) => "basic support: next business day — arrange paid event coverage or own every incident in-house".into(),
        Some(SupportTier::Enterprise) => "enterprise support: 4 h response — open a proactive event case in advance".into(),
        Some(SupportTier::Strategic) => "strategic support: 1 h response, P1 in 15 min — share the event plan with the account's TAM".into(),
        None => "no `event.support_tier` in the scenario: agree on a provider support tier and its response targets".into(),
    }
}

fn derived(r: &RunResult, s: &ScopeReadiness, st: &mut Stages) {
    let name = &s.scope;
    if let Some(k) = &s.knee {
        let b = &k.broken[0];
        let ratio = k.active_viewers as f64 / s.target_viewers.max(1e-9);
        let gate = format::gate(b.metric, b.stat, b.threshold);
        let cause = network::explains_knee(r, name, b.metric, b.stat, b.measured);
        if let (Some(cause), Verdict::NotReady) = (&cause, s.verdict) {
            st.add(0, format!(
                "**{name}** broke {gate} ({} measured) at {} concurrent viewers — {cause}. Re-run {name} without that emulated impairment (or accept it as the region's real network) before scaling any {}",
                format::value(b.metric, b.measured),
                format::num(k.active_viewers as f64),
                component(b.metric)
            ));
        } else if s.verdict == Verdict::NotReady {
            // Scale so the knee lands at the target, rounded up to a tenth.
            let factor = (s.target_viewers / (k.active_viewers.max(1) as f64) * 10.0).ceil() / 10.0;
            st.add(0, format!(
                "**{name}** broke {gate} ({} measured{}) at {} concurrent viewers, {ratio:.2}× the target of {} → pre-scale its {} by ≥ {factor:.1}× and re-test",
                format::value(b.metric, b.measured),
                top_errors(r, name, b.metric),
                format::num(k.active_viewers as f64),
                format::num(s.target_viewers),
                component(b.metric)
            ));
            st.add(1, format!("Re-run the rehearsal: **{name}** must hold {gate} at {} concurrent viewers (it broke at {})", format::num(s.target_viewers), format::num(k.active_viewers as f64)));
        }
        st.add(3, format!(
            "Watch {gate} in **{name}** first: it was the first SLO to break in the rehearsal, at {ratio:.2}× the target load; page on-call when it nears the threshold"
        ));
    }
    for f in r.slo.iter().filter(|x| &x.scope == name && !x.passed) {
        if s.knee.as_ref().is_some_and(|k| {
            k.broken
                .iter()
                .any(|b| b.metric == f.metric && b.stat == f.stat)
        }) {
            continue;
        }
        let measured = f
            .measured
            .map(|v| format::value(f.metric, v))
            .unwrap_or_else(|| "no samples".into());
        match network::explains(r, name, f.metric, f.stat, f.measured) {
            Some(cause) => st.add(0, format!("**{name}** failed {} over the whole run ({measured}) — {cause}: not a finding about the platform; re-test without that emulated impairment, or accept it as the region's real network", format::gate(f.metric, f.stat, f.threshold))),
            None => st.add(0, format!("**{name}** failed {} over the whole run ({measured}) → find the cause in its {} and re-test", format::gate(f.metric, f.stat, f.threshold), component(f.metric))),
        }
    }
    if s.verdict == Verdict::AtRisk {
        if let Some(h) = s.held_viewers.filter(|&h| (h as f64) < s.target_viewers) {
            st.add(0, format!("**{name}** held {} concurrent viewers, {:.2}× the target of {}: run it at the target load before T−1 week", format::num(h as f64), h as f64 / s.target_viewers.max(1e-9), format::num(s.target_viewers)));
        }
    }
}

pub fn render(r: &RunResult) -> String {
    if super::is_quick(r) {
        return quick(r);
    }
    let ev = r.scenario.resolved.as_ref().and_then(|s| s.event.as_ref());
    let start = ev
        .and_then(|e| e.starts_at.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let mut st = Stages::default();
    let regions: Vec<String> = r.regions.iter().map(|b| b.name.clone()).collect();

    if let Some(rd) = &r.readiness {
        for s in &rd.regions {
            derived(r, s, &mut st);
        }
        // Overall repeats the regions' findings; it adds something only when no region broke.
        if rd.regions.iter().all(|s| s.knee.is_none()) {
            derived(r, &rd.overall, &mut st);
        }
        for n in &rd.not_tested {
            st.add(
                0,
                format!("Not tested by this run — cover it or accept the risk in writing: {n}"),
            );
        }
    }
    if r.generator.limited {
        st.add(0, format!("The load generator was the bottleneck (start lag p99 {}): re-run with more cores or shards before trusting the capacity numbers", format::ms(r.generator.lag_p99_ms)));
    }
    if r.scenario.scale < 1.0 {
        st.add(1, format!("This was a {} rehearsal: schedule a larger-scale run against production-sized capacity, or document why the scale extrapolates", format::pct(r.scenario.scale)));
    }

    // Standing items.
    let all = regions.join(", ");
    st.add(0, format!("Request quota increases (instances, load balancers, bandwidth, connections) in every region — {all} — **and in each failover region**, sized for the target × headroom"));
    st.add(
        0,
        format!(
            "Escalation matrix with response targets: {}",
            support_targets(ev.map(|e| e.support_tier))
        ),
    );
    st.add(0, format!("On-call rota across the viewers' time zones ({all}): primary and secondary per shift, names and phone numbers"));
    st.add(0, "Status-page plan: owner, templates for degraded / partial outage / resolved, update cadence".into());
    st.add(0, "Announce the change-freeze window (T−1 week to T+1 day) to every team that deploys to the platform".into());
    st.add(1, "Change freeze begins: only fixes for the findings above, each re-tested with `peakready run` and `peakready compare`".into());
    st.add(1, "Failover drill: fail one region's edge over to its failover region under load and time the recovery".into());
    st.add(1, "Kill switches tested end-to-end: chat and gifts off, bitrate ladder capped, new-viewer admission (waiting room)".into());
    st.add(1, alert_item(r));
    st.add(2, "Pre-warm load balancers (ask the provider to pre-scale for the expected connection rate) and the CDN (warm playlists and segments in every region)".into());
    st.add(
        2,
        "Confirm every quota increase was granted and is visible in the console".into(),
    );
    st.add(2, "War room booked: bridge, chat channel, dashboards on screen, decision owner for go/no-go and kill switches".into());
    st.add(
        2,
        "Status-page templates loaded; on-call confirmed reachable".into(),
    );
    st.add(
        3,
        "War room staffed from 1 h before the start until the peak has passed".into(),
    );
    st.add(
        3,
        format!(
            "Escalate per the matrix ({})",
            support_targets(ev.map(|e| e.support_tier))
        ),
    );
    st.add(
        3,
        "Status page updated within 10 min of any confirmed user impact, then every 30 min".into(),
    );
    st.add(4, "Post-event review (blameless): actual peak vs forecast, every alert and page, what the rehearsal missed".into());
    st.add(4, "Lift the change freeze; keep this results directory and compare the next rehearsal against it".into());

    let mut out = String::new();
    let name = ev.map_or(r.scenario.name.as_str(), |e| e.name.as_str());
    let _ = writeln!(out, "# Contingency checklist: {name}\n");
    match start {
        Some(t) => {
            let _ = writeln!(out, "Event starts **{}**. ", t.format("%Y-%m-%d %H:%M UTC"));
        }
        None => {
            let _ = writeln!(
                out,
                "No `event.starts_at` in the scenario: stages are relative to the event start (T)."
            );
        }
    }
    if let Some(rd) = &r.readiness {
        let _ = writeln!(
            out,
            "Readiness: **{}** overall. {}\n",
            rd.overall.verdict.words(),
            rd.headroom_words
        );
    }
    for (i, (title, hours)) in STAGES.iter().enumerate() {
        let date = start
            .map(|t| {
                format!(
                    " ({})",
                    (t + Duration::hours(*hours)).format("%a %Y-%m-%d %H:%M UTC")
                )
            })
            .unwrap_or_default();
        let _ = writeln!(out, "## {title}{date}\n");
        for item in &st.0[i] {
            let _ = writeln!(out, "- [ ] {item}");
        }
        out.push('\n');
    }
    out
}

fn alert_item(r: &RunResult) -> String {
    let a = r.scenario.resolved.as_ref().and_then(|s| s.alerts.as_ref());
    let mut parts = Vec::new();
    if let Some(v) = a.and_then(|a| a.latency_ms) {
        parts.push(format!("latency > {}", format::ms(v)));
    }
    if let Some(v) = a.and_then(|a| a.loss_pct) {
        parts.push(format!("packet loss > {}", format::pct(v / 100.0)));
    }
    let slo: Vec<String> = r
        .scenario
        .slo
        .iter()
        .map(|g| format::gate(g.metric, g.stat, g.threshold))
        .collect();
    let slo = if slo.is_empty() {
        String::new()
    } else {
        format!("; page on the SLOs too: {}", slo.join(", "))
    };
    if parts.is_empty() {
        format!("No `alerts` in the scenario: set alert thresholds below the SLOs and test that they page{slo}")
    } else {
        format!(
            "Alert thresholds from the scenario configured and tested (they page): {}{slo}",
            parts.join(", ")
        )
    }
}
