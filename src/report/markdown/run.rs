//! report.md's sections about the run itself rather than the target: the load generator's
//! health (and why it limited the run) and, for a merged run, its shards.

use std::fmt::Write;

use crate::format;
use crate::metrics::RunResult;

use super::super::table::{Align, Table};

pub(super) fn write_generator(out: &mut String, r: &RunResult) {
    let g = &r.generator;
    let _ = writeln!(out, "## Load generator health\n");
    if g.limited {
        let _ = writeln!(
            out,
            "**{}**\n",
            g.message
                .as_deref()
                .unwrap_or("The load generator, not the target, limited this run.")
        );
    }
    let mut t = Table::new(&[("reading", Align::Left), ("value", Align::Right)]);
    t.row(vec!["start lag p50".into(), format::ms(g.lag_p50_ms)]);
    t.row(vec!["start lag p99".into(), format::ms(g.lag_p99_ms)]);
    t.row(vec!["start lag max".into(), format::ms(g.lag_max_ms)]);
    t.row(vec![
        format!("viewers started > {}", format::ms(g.late_threshold_ms)),
        format::count(g.late_arrivals as f64),
    ]);
    t.row(vec![
        "CPU time (user + sys)".into(),
        format::secs(g.cpu_seconds),
    ]);
    t.row(vec![
        format!("CPU use of {} cores", g.cores),
        format::pct(g.cpu_utilisation),
    ]);
    t.row(vec!["peak RSS".into(), format::bytes(g.peak_rss_bytes)]);
    t.row(vec![
        "open files (peak / limit)".into(),
        format!("{} / {}", g.peak_open_files, g.open_files_limit),
    ]);
    if let Some(rt) = &g.runtime {
        t.row(vec![
            format!(
                "runtime threads busy, busiest second ({} threads)",
                rt.workers
            ),
            format::pct(rt.busy_max),
        ]);
        t.row(vec![
            "CPU use, busiest second".into(),
            format::pct(rt.cpu_max),
        ]);
        t.row(vec![
            "scheduling delay p99 / max".into(),
            format!(
                "{} / {}",
                format::ms(rt.scheduling_delay_p99_ms),
                format::ms(rt.scheduling_delay_max_ms)
            ),
        ]);
    }
    let _ = writeln!(out, "{}", t.markdown());
    if g.runtime.is_some() {
        let _ = writeln!(
            out,
            "Scheduling delay is how late a 10 ms timer task was polled: how long a ready task waited for a \
             runtime thread. Per second in `runtime.csv`.\n"
        );
    }
}

/// A merged run: which shard directories it came from, each with its own generator health
/// (the merged health above is the worst of them), and which shards are missing.
pub(super) fn write_shards(out: &mut String, r: &RunResult) {
    let Some(m) = &r.merge else {
        return;
    };
    let _ = writeln!(
        out,
        "## Shards
"
    );
    let _ = writeln!(
        out,
        "Merged from {} of {} shards (`peakready merge`); per-second rows aligned by wall-clock start \
         (start times differ by {}).\n",
        m.shards.len(),
        m.shard_count,
        format::secs(m.start_skew_s)
    );
    if !m.missing.is_empty() {
        let missing: Vec<String> = m.missing.iter().map(|i| i.to_string()).collect();
        let _ = writeln!(
            out,
            "**Incomplete: shard(s) {} of {} are missing.** Counts and concurrency cover only the shards below.\n",
            missing.join(", "),
            m.shard_count
        );
    }
    let mut t = Table::new(&[
        ("shard", Align::Left),
        ("directory", Align::Left),
        ("started", Align::Left),
        ("duration", Align::Right),
        ("status", Align::Left),
        ("joins", Align::Right),
        ("start lag p99", Align::Right),
        ("generator", Align::Left),
    ]);
    for s in &m.shards {
        t.row(vec![
            format!("{}/{}", s.index, m.shard_count),
            format!("`{}`", s.dir),
            format!(
                "{} (+{} s)",
                s.started_at.format("%H:%M:%S%.3f UTC"),
                s.offset_s
            ),
            format::secs(s.duration_s),
            format!("{:?}", s.status).to_lowercase(),
            format::count(s.joins_attempted as f64),
            format::ms(s.generator.lag_p99_ms),
            if s.generator.limited {
                "**limited**".into()
            } else {
                "kept up".into()
            },
        ]);
    }
    let _ = writeln!(out, "{}", t.markdown());
}
