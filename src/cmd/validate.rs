//! `validate`: the resolved plan a person checks before pointing load at anything.

use std::fmt::Write;

use crate::format;
use crate::plan::Plan;
use crate::report::table::{Align, Table};
use crate::scenario::{BaseUrl, Scenario};

/// `validate`: the hosts and the plan checked, then the resolved plan on stdout.
pub fn run(s: &Scenario, seed: u64) -> anyhow::Result<super::Exit> {
    super::run::check_hosts(s)?;
    check(s, seed)?;
    print!("{}", render(s, seed));
    Ok(super::Exit::Success)
}

/// Checks that need the plan: a `unique` feeder must have a row per planned viewer.
pub fn check(s: &Scenario, seed: u64) -> anyhow::Result<()> {
    if let Some(d) = &s.viewer.data {
        crate::engine::data::check_unique(d, &Plan::build(s, seed), &s.source)
            .map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

pub fn render(s: &Scenario, seed: u64) -> String {
    let plan = Plan::build(s, seed);
    let mut out = String::new();
    let target = match &s.target.base_url {
        BaseUrl::Embedded => {
            "embedded staging server (started in-process on a free loopback port)".to_string()
        }
        BaseUrl::Url(u) => u.to_string(),
    };
    let _ = writeln!(out, "{}: valid", s.source);
    let _ = writeln!(out, "  scenario   {}", s.name);
    let _ = writeln!(out, "  target     {target}");
    if !s.target.header_names.is_empty() {
        let _ = writeln!(
            out,
            "  headers    {} (values hidden)",
            s.target.header_names.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "  duration   {}",
        crate::scenario::duration::format_duration(plan.total)
    );
    let _ = writeln!(
        out,
        "  caps       {} concurrent viewers, {} joins/s",
        s.load.max_viewers, s.load.max_joins_per_sec
    );
    let _ = writeln!(out, "  scale      {}× of the event", s.load.scale);
    if let Some(d) = &s.viewer.data {
        let _ = writeln!(
            out,
            "  data       {}: {} rows of {} (values hidden), pick {:?}",
            d.file,
            d.rows,
            d.columns.join(", "),
            d.pick
        );
    }
    let _ = writeln!(
        out,
        "  watch      mean {} per viewer",
        format::secs(plan.mean_watch_secs())
    );
    if let Some(search) = &s.search {
        let _ = writeln!(
            out,
            "  search     {} (`peakready capacity`; `run` ignores it)",
            super::capacity::describe(search)
        );
    }
    out.push('\n');

    let mut t = Table::new(&[
        ("region", Align::Left),
        ("share", Align::Right),
        ("phase", Align::Left),
        ("expected arrivals", Align::Right),
        ("peak joins/s", Align::Right),
        ("expected peak viewers", Align::Right),
    ]);
    let shares: std::collections::HashMap<&str, f64> = s
        .regions
        .iter()
        .map(|r| (r.name.as_str(), r.share))
        .collect();
    for e in plan.expectations() {
        t.row(vec![
            e.region.clone(),
            format::pct(shares.get(e.region.as_str()).copied().unwrap_or(0.0)),
            e.phase.clone(),
            format::count(e.expected_arrivals),
            format::num(e.peak_joins_per_sec),
            format::count(e.expected_peak_concurrency),
        ]);
    }
    out.push_str(&t.plain());
    let conc = plan.concurrency();
    let peak = conc.peak;
    let _ = writeln!(
        out,
        "\n  total: {} arrivals, expected peak {} concurrent viewers (arrival rate convolved with watch time)",
        format::count(plan.expected_arrivals()),
        format::count(peak)
    );
    if peak > s.load.max_viewers as f64 {
        let _ = writeln!(
            out,
            "  warning: the plan expects {} concurrent viewers but load.max_viewers is {}: arrivals beyond it will be skipped",
            format::count(peak),
            s.load.max_viewers
        );
    }
    target_lines(&mut out, s, &plan);
    end_line(&mut out, s, conc.at_end);
    for phase in plan.phases.iter().filter(|p| p.capped) {
        let _ = writeln!(
            out,
            "  warning: phase `{}` exceeds load.max_joins_per_sec and is capped at {}",
            phase.name, s.load.max_joins_per_sec
        );
    }
    if !s.overrides.is_empty() {
        let _ = writeln!(out, "\n  values from outside the file:");
        let mut t = Table::new(&[
            ("key", Align::Left),
            ("value", Align::Left),
            ("from", Align::Left),
        ]);
        for o in &s.overrides {
            t.row(vec![o.key.clone(), o.value.clone(), o.from.clone()]);
        }
        for line in t.plain().lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    for notice in s.notices() {
        let _ = writeln!(out, "  notice: {notice}");
    }
    out
}

/// The readiness target (the figure every report judges the run against) and, when the plan
/// cannot reach it, a warning with the numbers: READY would be out of reach from the start.
fn target_lines(out: &mut String, s: &Scenario, plan: &Plan) {
    use crate::format::num;
    let planned = plan.peak();
    let (planned_viewers, planned_joins) = (planned.viewers, planned.joins_per_sec);
    let t = crate::analysis::target::of_scenario(s, plan);
    let _ = writeln!(
        out,
        "  readiness target: {}, {} joins/s",
        t.words(),
        num(t.joins_per_sec)
    );
    if !t.from_event {
        return;
    }
    if planned_viewers < t.viewers {
        let _ = writeln!(
            out,
            "  warning: the plan peaks at {} concurrent viewers, below the readiness target of {} ({:.2}×): the run cannot be READY; raise the phases' joins_per_sec or the watch time, or lower event.headroom",
            num(planned_viewers),
            num(t.viewers),
            planned_viewers / t.viewers.max(1e-9)
        );
    }
    if planned_joins < t.joins_per_sec {
        let _ = writeln!(
            out,
            "  warning: the plan peaks at {} joins/s, below the readiness target of {} joins/s: the run cannot be READY",
            num(planned_joins),
            num(t.joins_per_sec)
        );
    }
}

/// What happens to the viewers the plan expects to be watching when its last phase ends.
fn end_line(out: &mut String, s: &Scenario, at_end: f64) {
    let watching = at_end.min(s.load.max_viewers as f64);
    let what = match s.load.end {
        crate::scenario::End::Cut => "are stopped then (load.end: cut)".to_string(),
        crate::scenario::End::FinishWatching { within } => format!(
            "watch to their own leave time, for at most {} (load.end: finish-watching)",
            crate::scenario::duration::format_duration(within)
        ),
    };
    let _ = writeln!(
        out,
        "  end of run: about {} planned viewers are still watching when the last phase ends; they {what}",
        crate::format::num(watching)
    );
}
