//! The compact table printed on the terminal at the end of `run`.

use crate::metrics::{Metric, RunResult, Stat};

use super::table::{Align, Table};
use crate::format;

pub fn render(r: &RunResult) -> String {
    let mut t = Table::new(&[
        ("region", Align::Left),
        ("joins", Align::Right),
        ("failed", Align::Right),
        ("peak viewers", Align::Right),
        ("connect p99", Align::Right),
        ("join p95", Align::Right),
        ("first frame p95", Align::Right),
        ("errors", Align::Right),
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
            b.value(m, s)
                .map(|v| format::value(m, v))
                .unwrap_or_else(|| "–".into())
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
                .map(|s| format!("{} {}", s.metric, s.stat))
                .collect();
            format!("FAIL: {}", failed.join(", "))
        };
        t.row(vec![
            b.name.clone(),
            format::count(b.joins.attempted as f64),
            format::count(b.joins.failed as f64),
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
