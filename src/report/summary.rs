//! The compact table printed on the terminal at the end of `run`.

use crate::metrics::{Metric, RunResult, Stat};

use super::table::{Align, Table};
use super::viewers::{failure_words, over_viewers};
use crate::format;

pub fn render(r: &RunResult) -> String {
    let mut t = Table::new(&[
        ("region", Align::Left),
        ("viewers", Align::Right),
        ("failed", Align::Right),
        ("viewer failure", Align::Right),
        ("peak viewers", Align::Right),
        ("connect p99", Align::Right),
        ("join p95", Align::Right),
        ("first frame p95", Align::Right),
        ("request errors", Align::Right),
        ("verdict", Align::Left),
        ("SLOs", Align::Left),
    ]);
    let verdict = |scope: &str| {
        let rd = r.readiness.as_ref();
        let s = rd.and_then(|rd| {
            rd.regions
                .iter()
                .chain(std::iter::once(&rd.overall))
                .find(|s| s.scope == scope)
        });
        s.map(|s| s.verdict.words().to_string())
            .unwrap_or_else(|| "–".into())
    };
    for b in r.regions.iter().chain(std::iter::once(&r.overall)) {
        let stat = |m: Metric, s: Stat| {
            let Some(v) = b.value(m, s) else {
                return "–".to_string();
            };
            match over_viewers(b, m) {
                Some(over) => format!("{} (over {over})", format::value(m, v)),
                None => format::value(m, v),
            }
        };
        let checks: Vec<_> = r.slo.iter().filter(|s| s.scope == b.name).collect();
        let slo = if checks.is_empty() {
            "–".to_string()
        } else if checks.iter().all(|s| s.passed) {
            "pass".to_string()
        } else {
            let failed: Vec<String> = checks
                .iter()
                .filter(|s| !s.passed)
                .map(|s| match s.stat {
                    Stat::Value => s.metric.to_string(),
                    stat => format!("{} {stat}", s.metric),
                })
                .collect();
            format!("FAIL: {}", failed.join(", "))
        };
        t.row(vec![
            b.name.clone(),
            format::count(b.viewers.started as f64),
            format::count(b.viewers.failed as f64),
            format::pct(b.viewers.viewer_failure_rate),
            format::count(b.peak_concurrent_viewers as f64),
            stat(Metric::ConnectMs, Stat::P99),
            stat(Metric::JoinMs, Stat::P95),
            stat(Metric::FirstFrameMs, Stat::P95),
            format::pct(b.error_rate),
            verdict(&b.name),
            slo,
        ]);
    }
    let mut out = t.plain();
    let o = &r.overall;
    if o.viewers.failed > 0 {
        out.push_str(&format!(
            "\n  {} of {} viewers could not watch ({}).\n",
            format::count(o.viewers.failed as f64),
            format::count(o.viewers.started as f64),
            failure_words(o)
        ));
    }
    if let Some(rd) = &r.readiness {
        out.push_str(&format!(
            "\n  Readiness: {}. {}\n",
            rd.overall.verdict.words(),
            rd.headroom_words
        ));
    }
    if r.generator.limited {
        if let Some(m) = &r.generator.message {
            out.push_str(&format!("\n  warning: {m}\n"));
        }
    }
    out
}
