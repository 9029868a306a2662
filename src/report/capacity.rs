//! The capacity search in report.md and on the terminal: the answer in one sentence, what to
//! change when the search could not finish, and the step table (level, window, verdict, the
//! gate that failed with its value, the generator check). Read from `RunResult::capacity` only.

use std::fmt::Write;

use crate::analysis::search::level_words;
use crate::format::{ms, num, pct};
use crate::metrics::search::{CapacitySearch, SearchStep, StepVerdict};
use crate::metrics::RunResult;

use super::table::{Align, Table};

fn table(c: &CapacitySearch) -> Table {
    let mut t = Table::new(&[
        ("step", Align::Right),
        ("stage", Align::Left),
        ("level", Align::Right),
        ("window", Align::Right),
        ("verdict", Align::Left),
        ("why", Align::Left),
        ("sent", Align::Right),
        ("lag p99", Align::Right),
        ("data", Align::Left),
    ]);
    for s in c.steps.iter().chain(c.hold.iter()) {
        t.row(row(c, s));
    }
    t
}

fn row(c: &CapacitySearch, s: &SearchStep) -> Vec<String> {
    let why = match s.verdict {
        StepVerdict::Pass => "every gate held".to_string(),
        _ => s.reason.clone(),
    };
    vec![
        s.index.to_string(),
        s.stage.clone(),
        level_words(c.quantity, s.level),
        format!("{}–{} s", num(s.window_from_s), num(s.window_to_s)),
        s.verdict.words().to_string(),
        why,
        pct(s.send_ratio()),
        ms(s.lag_p99_ms),
        s.dir.clone(),
    ]
}

/// The `## Capacity search` section of report.md (nothing for an ordinary run).
pub fn write_markdown(out: &mut String, r: &RunResult) {
    let Some(c) = &r.capacity else { return };
    let _ = writeln!(out, "## Capacity search\n");
    let _ = writeln!(out, "**{}.**\n", capitalised(&c.sentence));
    if let Some(a) = &c.advice {
        let _ = writeln!(out, "What to change: {a}.\n");
    }
    let gates: Vec<String> = c
        .gates
        .iter()
        .map(|g| crate::format::gate(g.metric, g.stat, g.threshold))
        .collect();
    let _ = writeln!(
        out,
        "Searched {} from {} to {} (doubling, then halving the bracket to {} precision). Each step: {}{} s settling, then a {} s window judged on its own data against {} per region and overall{}; {} s cooldown between steps; hold {} s at the answer. A step the generator could not drive (a viewer of the level not started when the window opened, or under 95% of a join rate's arrivals sent; or a failure only on join_ms / first_frame_ms, which include the generator's lag, while lag p99 was over 50 ms for 3+ viewers) is not judged and stops the search.\n",
        c.quantity.name(),
        num(c.start),
        num(c.max),
        pct(c.precision),
        if c.quantity == crate::scenario::SearchQuantity::ConcurrentViewers {
            format!("viewers join over {} s and stay; ", num(c.ramp_s))
        } else {
            String::new()
        },
        num(c.settle_s),
        num(c.step_s),
        gates.join(", "),
        if c.quantity == crate::scenario::SearchQuantity::ConcurrentViewers {
            ", and every viewer of the level must still be watching (metrics measured only as viewers join are judged on the step's joins)"
        } else {
            ""
        },
        num(c.cooldown_s),
        num(c.hold_s),
    );
    let _ = writeln!(out, "{}", table(c).markdown());
    let _ = writeln!(
        out,
        "Target: {} ({}). Chart: charts/capacity-steps.png. The sections below describe the run in `{}` (this directory's per-second data).\n",
        level_words(c.quantity, c.target),
        if c.target_basis == "event" {
            "event forecast × scale × headroom"
        } else {
            "the scenario's planned peak; no event forecast"
        },
        c.hold
            .as_ref()
            .or(c.steps.last())
            .map(|s| s.dir.as_str())
            .unwrap_or("–"),
    );
}

/// The step table and the answer for the terminal.
pub fn plain(r: &RunResult) -> Option<String> {
    let c = r.capacity.as_ref()?;
    let mut out = format!("\n{}\n  {}.\n", table(c).plain(), capitalised(&c.sentence));
    if let Some(a) = &c.advice {
        out.push_str(&format!("  What to change: {a}.\n"));
    }
    Some(out)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
