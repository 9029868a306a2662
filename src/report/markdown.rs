//! `report.md`: what a person reads first. One method per section; every number has a unit and
//! comes from the RunResult.

use std::fmt::Write;

use crate::metrics::{Breakdown, ErrorKind, Metric, RunResult, RunStatus, Stat, METRICS};
use crate::scenario::ChatDelivery;

use super::table::{Align, Table};
use crate::format;

mod run;
use run::{write_generator, write_shards};

pub fn render(r: &RunResult) -> String {
    let mut out = String::new();
    write_header(&mut out, r);
    write_readiness(&mut out, r);
    super::capacity::write_markdown(&mut out, r);
    write_slo(&mut out, r);
    write_regions(&mut out, r);
    write_networks(&mut out, r);
    write_latency(&mut out, r);
    write_chat(&mut out, r);
    write_publishers(&mut out, r);
    write_errors(&mut out, r);
    write_phases(&mut out, r);
    write_generator(&mut out, r);
    write_shards(&mut out, r);
    write_notices(&mut out, r);
    out
}

fn status_words(r: &RunResult) -> String {
    let slo = if r.slo.is_empty() {
        "no SLOs set".to_string()
    } else if r.slo_passed {
        "all SLOs passed".to_string()
    } else {
        format!(
            "{} of {} SLO checks failed",
            r.slo.iter().filter(|s| !s.passed).count(),
            r.slo.len()
        )
    };
    let status = match r.status {
        RunStatus::Completed => "completed",
        RunStatus::Aborted => "ABORTED",
        RunStatus::Interrupted => "INTERRUPTED",
    };
    format!("{status}, {slo}")
}

fn write_header(out: &mut String, r: &RunResult) {
    let s = &r.scenario;
    let _ = writeln!(out, "# peakready report: {}\n", s.name);
    if let Some(d) = &s.description {
        let _ = writeln!(out, "{d}\n");
    }
    let _ = writeln!(out, "- **Result:** {}", status_words(r));
    if let Some(reason) = &r.status_reason {
        let _ = writeln!(out, "- **Stopped early:** {reason}");
    }
    let _ = writeln!(out, "- **Target:** {}", s.target);
    if let Some(end) = r.notices.iter().find(|n| n.starts_with("load.end: ")) {
        let _ = writeln!(out, "- **End of run:** {}", &end["load.end: ".len()..]);
    }
    let _ = writeln!(
        out,
        "- **Scale:** {} of the planned event{}",
        format::pct(s.scale),
        if s.scale < 1.0 {
            " (a rehearsal: absolute numbers are not the event's)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "- **When:** {} → {} ({} of {} planned)",
        r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        r.ended_at.format("%H:%M:%S UTC"),
        format::secs(r.duration_s),
        format::secs(r.planned_duration_s)
    );
    let _ = writeln!(
        out,
        "- **Scenario:** `{}`, seed {} (replay with `--seed {}`)",
        s.source, r.seed, r.seed
    );
    let _ = writeln!(
        out,
        "- **Caps:** {} concurrent viewers, {} joins/s",
        s.max_viewers, s.max_joins_per_sec
    );
    let _ = writeln!(out, "- **Tool:** {}\n", r.tool);
}

/// Verdict per region and overall (as words), capacity, knee, headroom and what was not tested.
fn write_readiness(out: &mut String, r: &RunResult) {
    let Some(rd) = &r.readiness else { return };
    let _ = writeln!(out, "## Readiness: {}\n", rd.overall.verdict.words());
    let _ = writeln!(out, "{}\n", rd.headroom_words);
    let mut t = Table::new(&[
        ("scope", Align::Left),
        ("verdict", Align::Left),
        ("target", Align::Right),
        ("peak reached", Align::Right),
        ("held (all SLOs)", Align::Right),
        ("held joins", Align::Right),
        ("knee", Align::Right),
        ("first SLO broken", Align::Left),
        ("headroom", Align::Right),
    ]);
    for s in rd.regions.iter().chain(std::iter::once(&rd.overall)) {
        let viewers = |v: f64| format!("{} viewers", format::num(v));
        t.row(vec![
            s.scope.clone(),
            s.verdict.words().to_string(),
            viewers(s.target_viewers),
            viewers(s.peak_viewers as f64),
            s.held_viewers
                .map(|v| viewers(v as f64))
                .unwrap_or_else(|| "–".into()),
            s.held_joins_per_sec
                .map(|j| format!("{} joins/s", format::num(j)))
                .unwrap_or_else(|| "–".into()),
            s.knee
                .as_ref()
                .map(|k| viewers(k.active_viewers as f64))
                .unwrap_or_else(|| "none".into()),
            s.knee
                .as_ref()
                .and_then(|k| k.broken.first())
                .map(|b| {
                    format!(
                        "{} {} {} > {}",
                        b.metric,
                        b.stat,
                        format::value(b.metric, b.measured),
                        format::value(b.metric, b.threshold)
                    )
                })
                .unwrap_or_else(|| "–".into()),
            s.headroom
                .map(|h| format!("{h:.2}×"))
                .unwrap_or_else(|| "–".into()),
        ]);
    }
    let _ = writeln!(out, "{}", t.markdown());
    for s in rd.regions.iter().chain(std::iter::once(&rd.overall)) {
        let _ = writeln!(
            out,
            "- **{}: {}** — {}",
            s.scope,
            s.verdict.words(),
            s.reasons.join("; ")
        );
    }
    let _ = writeln!(
        out,
        "\nCapacity is judged per second against every SLO with a per-second column; a held or broken verdict counts only after {} consecutive seconds. The knee is the concurrent viewers at the first such broken second. Target: {}.",
        rd.sustain_s,
        if rd.target_basis == "event" { "the event forecast × scale × headroom" } else { "the run's own planned peak (no `event` forecast)" }
    );
    if !rd.whole_run_gates.is_empty() {
        let _ = writeln!(
            out,
            "Judged on the whole run only (no per-second column): {}.",
            rd.whole_run_gates.join(", ")
        );
    }
    if !rd.not_tested.is_empty() {
        let _ = writeln!(out, "\n### Not tested by this run\n");
        for n in &rd.not_tested {
            let _ = writeln!(out, "- {n}");
        }
    }
    out.push('\n');
}

fn write_slo(out: &mut String, r: &RunResult) {
    let _ = writeln!(out, "## SLOs\n");
    if r.slo.is_empty() {
        let _ = writeln!(out, "No SLOs in the scenario: nothing was gated.\n");
        return;
    }
    let mut t = Table::new(&[
        ("scope", Align::Left),
        ("metric", Align::Left),
        ("stat", Align::Left),
        ("threshold", Align::Right),
        ("measured", Align::Right),
        ("result", Align::Left),
    ]);
    for s in &r.slo {
        let fmt = |v: f64| format::value(s.metric, v);
        t.row(vec![
            s.scope.clone(),
            if s.default {
                format!("{} (default)", s.metric)
            } else {
                s.metric.to_string()
            },
            s.stat.to_string(),
            format!("≤ {}", fmt(s.threshold)),
            s.measured.map(fmt).unwrap_or_else(|| "no samples".into()),
            if s.passed {
                "PASS".into()
            } else {
                "**FAIL**".into()
            },
        ]);
    }
    let _ = writeln!(out, "{}", t.markdown());
}

fn write_regions(out: &mut String, r: &RunResult) {
    let _ = writeln!(out, "## Viewers by region\n");
    let _ = writeln!(
        out,
        "Every started viewer is counted once, in the outcome its visit ended with. The viewer failure rate is failed ÷ started viewers; the request error rate (below) is failed ÷ attempted requests.\n"
    );
    let _ = writeln!(out, "{}", super::viewers::table(r).markdown());
    if r.overall.viewers.failed > 0 {
        let _ = writeln!(
            out,
            "**{} of {} viewers could not watch** ({}).\n",
            format::count(r.overall.viewers.failed as f64),
            format::count(r.overall.viewers.started as f64),
            super::viewers::failure_words(&r.overall)
        );
    }
    let _ = writeln!(out, "### Requests\n");
    let _ = writeln!(out, "{}", super::viewers::requests_table(r).markdown());
}

/// Chat per region and overall: connect time, delivery time and the delivery ratio, with the
/// delivery mode that defines them.
fn write_chat(out: &mut String, r: &RunResult) {
    let Some(chat) = r
        .scenario
        .resolved
        .as_ref()
        .and_then(|s| s.viewer.chat.as_ref())
    else {
        return;
    };
    let echo = chat.delivery == ChatDelivery::Echo;
    let _ = writeln!(out, "## Chat\n");
    let _ = writeln!(
        out,
        "Delivery mode `{}`: {}\n",
        if echo { "echo" } else { "fan-out" },
        if echo {
            "a viewer's own message coming back is its delivery; the ratio is own messages back ÷ own messages sent."
        } else {
            "a message is delivered when other viewers of the room receive it; the ratio is messages received from others ÷ messages they sent while the viewer was connected."
        }
    );
    let mut t = Table::new(&[
        ("region", Align::Left),
        ("connect p50", Align::Right),
        ("connect p99", Align::Right),
        ("delivery p50", Align::Right),
        ("delivery p99", Align::Right),
        ("delivery ratio (mean)", Align::Right),
        ("viewers chatting", Align::Right),
    ]);
    let get = |b: &Breakdown, m: Metric, s: Stat| {
        b.value(m, s)
            .map(|v| format::value(m, v))
            .unwrap_or_else(|| "no samples".into())
    };
    for b in r.regions.iter().chain(std::iter::once(&r.overall)) {
        t.row(vec![
            b.name.clone(),
            get(b, Metric::ChatConnectMs, Stat::P50),
            get(b, Metric::ChatConnectMs, Stat::P99),
            get(b, Metric::ChatDeliveryMs, Stat::P50),
            get(b, Metric::ChatDeliveryMs, Stat::P99),
            get(b, Metric::ChatDeliveryRatio, Stat::Mean),
            format::count(
                b.metrics
                    .get(&Metric::ChatReconnects)
                    .map_or(0, |m| m.count) as f64,
            ),
        ]);
    }
    let _ = writeln!(out, "{}", t.markdown());
    let o = &r.overall;
    let connected = o.metrics.contains_key(&Metric::ChatConnectMs);
    if connected && !o.metrics.contains_key(&Metric::ChatDeliveryMs) && !echo {
        let _ = writeln!(
            out,
            "**No message from another viewer arrived**, so no delivery was measured. In fan-out mode only other viewers' messages count: against an echo server (one that sends each message back to its sender only) set `viewer.chat.delivery: echo`.\n"
        );
    }
}

/// Publishers are their own group (not a viewer region): connect time and ingest rate.
fn write_publishers(out: &mut String, r: &RunResult) {
    let o = &r.overall;
    let Some(connect) = o.metrics.get(&Metric::PublishConnectMs) else {
        return;
    };
    let _ = writeln!(out, "## Publishers\n");
    let mut t = Table::new(&[
        ("reading", Align::Left),
        ("p50", Align::Right),
        ("p99", Align::Right),
        ("min", Align::Right),
        ("max", Align::Right),
        ("samples", Align::Right),
    ]);
    t.row(vec![
        "publish connect".into(),
        format::ms(connect.p50),
        format::ms(connect.p99),
        format::ms(connect.min),
        format::ms(connect.max),
        format::count(connect.count as f64),
    ]);
    if let Some(k) = o.metrics.get(&Metric::IngestKbps) {
        let kbps = |v: f64| format::value(Metric::IngestKbps, v);
        t.row(vec![
            "ingest rate".into(),
            kbps(k.p50),
            kbps(k.p99),
            kbps(k.min),
            kbps(k.max),
            format::count(k.count as f64),
        ]);
    }
    let _ = writeln!(out, "{}", t.markdown());
    let failures: Vec<String> = [ErrorKind::PublishRejected, ErrorKind::PublishDisconnect]
        .iter()
        .filter_map(|k| {
            o.errors
                .get(k)
                .map(|n| format!("{} {k}", format::count(*n as f64)))
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "Publisher failures: {}.\n", failures.join(", "));
    }
}

/// The network each region's viewers ran through: findings it explains are attributed to it in
/// the readiness reasons and the checklist.
fn write_networks(out: &mut String, r: &RunResult) {
    use crate::analysis::network;
    let _ = writeln!(out, "## Networks\n");
    let mut t = Table::new(&[
        ("region", Align::Left),
        ("emulated network", Align::Left),
        ("source addresses", Align::Left),
    ]);
    let sources = network::source_addrs(r);
    for (region, profile) in network::profiles(r) {
        t.row(vec![
            region,
            profile.map_or("none: this machine's own network".to_string(), |p| {
                p.words()
            }),
            sources.clone(),
        ]);
    }
    let _ = writeln!(out, "{}", t.markdown());
}

/// One scope's latency table (report.md's, and `quick`'s in the terminal); `None` without
/// timing samples.
pub fn latency_table(b: &Breakdown) -> Option<Table> {
    let mut t = Table::new(&[
        ("metric", Align::Left),
        ("count", Align::Right),
        ("min", Align::Right),
        ("p50", Align::Right),
        ("p90", Align::Right),
        ("p95", Align::Right),
        ("p99", Align::Right),
        ("p99.9", Align::Right),
        ("max", Align::Right),
    ]);
    let mut any = false;
    for info in METRICS.iter().filter(|i| i.latency_table) {
        let Some(m) = b.metrics.get(&info.metric) else {
            continue;
        };
        any = true;
        t.row(vec![
            info.name.to_string(),
            super::viewers::over_viewers(b, info.metric)
                .unwrap_or_else(|| format::count(m.count as f64)),
            format::ms(m.min),
            format::ms(m.p50),
            format::ms(m.p90),
            format::ms(m.p95),
            format::ms(m.p99),
            format::ms(m.p99_9),
            format::ms(m.max),
        ]);
    }
    any.then_some(t)
}

fn write_latency(out: &mut String, r: &RunResult) {
    let _ = writeln!(out, "## Latency\n");
    let _ = writeln!(
        out,
        "Measured from each viewer's *intended* arrival instant (coordinated omission corrected); HdrHistogram, 3 significant digits.\n"
    );
    for b in std::iter::once(&r.overall).chain(r.regions.iter()) {
        let _ = writeln!(out, "### {}\n", b.name);
        match latency_table(b) {
            Some(t) => {
                let _ = writeln!(out, "{}", t.markdown());
            }
            None => {
                let _ = writeln!(out, "No timing samples.\n");
            }
        }
    }
}

fn write_errors(out: &mut String, r: &RunResult) {
    let _ = writeln!(out, "## Errors by class\n");
    let classes: std::collections::BTreeSet<ErrorKind> = r
        .regions
        .iter()
        .flat_map(|b| b.errors.keys().copied())
        .collect();
    if classes.is_empty() {
        let _ = writeln!(out, "No errors.\n");
        return;
    }
    let mut headers: Vec<(&str, Align)> = vec![("region", Align::Left)];
    headers.extend(classes.iter().map(|c| (c.name(), Align::Right)));
    let mut t = Table::new(&headers);
    for b in r.regions.iter().chain(std::iter::once(&r.overall)) {
        let mut row = vec![b.name.clone()];
        row.extend(
            classes
                .iter()
                .map(|c| format::count(b.errors.get(c).copied().unwrap_or(0) as f64)),
        );
        t.row(row);
    }
    let _ = writeln!(out, "{}", t.markdown());
    // What a class was, not only how often (the first example of each).
    for (class, detail) in &r.error_details {
        let _ = writeln!(out, "- `{class}`: {}", detail.replace('|', "\\|"));
    }
    if !r.error_details.is_empty() {
        out.push('\n');
    }
}

fn write_phases(out: &mut String, r: &RunResult) {
    let _ = writeln!(out, "## Phases\n");
    let mut t = Table::new(&[
        ("phase", Align::Left),
        ("start", Align::Right),
        ("duration", Align::Right),
        ("planned joins/s", Align::Right),
        ("joins attempted", Align::Right),
        ("join p95", Align::Right),
        ("join p99", Align::Right),
        ("request error rate", Align::Right),
    ]);
    for (plan, b) in r.phases.iter().zip(&r.overall.phases) {
        let rate = match plan.ramp_to {
            Some(to) => format!("{} → {}", plan.joins_per_sec, to),
            None => format!("{}", plan.joins_per_sec),
        };
        let join = b.metrics.get(&Metric::JoinMs);
        t.row(vec![
            plan.name.clone(),
            format!("{:.0} s", plan.start_s),
            format!("{:.0} s", plan.duration_s),
            if plan.capped {
                format!("{rate} (capped)")
            } else {
                rate
            },
            format::count(b.joins.attempted as f64),
            join.map(|m| format::ms(m.p95))
                .unwrap_or_else(|| "–".into()),
            join.map(|m| format::ms(m.p99))
                .unwrap_or_else(|| "–".into()),
            format::pct(b.error_rate),
        ]);
    }
    let _ = writeln!(out, "{}", t.markdown());
}

fn write_notices(out: &mut String, r: &RunResult) {
    if r.notices.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Notices\n");
    for n in &r.notices {
        let _ = writeln!(out, "- {n}");
    }
    out.push('\n');
}
