//! `capacity` as a list of stages: read the `search:` block → start the embedded target once
//! (it must outlive the steps, like a real target) → for each level the search asks for, run
//! one step (the ordinary engine, recorder and results directory of `run`, on a generated
//! constant-level plan), judge its window, cool down → hold at the highest pass → write the
//! search into the results directory whose data is the hold, and render every report from it.
//!
//! Steps are separate runs in one process, so each step's window holds only that level's
//! traffic and nothing of the previous level's viewers (they left during the cooldown). Shards
//! and the Kubernetes collector do not drive searches yet: a search is single-process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::sync::watch;
use url::Url;

use super::run::{self, Finished, Outcome, RunOptions};
use crate::analysis::search::{self as decide, level_words, Next, Searcher};
use crate::analysis::step::{self, StepInput};
use crate::engine::progress::ProgressMode;
use crate::metrics::result::Verdict;
use crate::metrics::search::{CapacitySearch, SearchOutcome, SearchStep, StepVerdict};
use crate::plan::Plan;
use crate::scenario::{BaseUrl, Phase, Scenario, Search, SearchQuantity, WatchTime};
use crate::staging::{EmbeddedServer, StagingConfig};
use crate::sysinfo;

#[derive(Debug, Clone)]
pub struct CapacityOptions {
    pub out: Option<PathBuf>,
    pub seed: Option<u64>,
    /// No per-step lines on stderr.
    pub quiet: bool,
    /// How long a step's in-flight viewers may finish after its window.
    pub drain: Duration,
    /// Capacity of the embedded staging server, when the scenario targets it.
    pub embedded: StagingConfig,
}

/// One step's plan: the scenario with its phases (and, for concurrent viewers, its watch time)
/// replaced, the window in whole seconds from the step's start, and the arrivals it intends
/// before the window ends.
struct StepPlan {
    scenario: Scenario,
    window: (u64, u64),
    intended: f64,
}

fn step_plan(base: &Scenario, s: &Search, level: f64, window: Duration) -> StepPlan {
    let mut sc = base.clone();
    let settle = s.settle.as_secs_f64().round() as u64;
    let judged = window.as_secs_f64().round().max(1.0) as u64;
    let phase = |name: &str, secs: u64, rate: f64| Phase {
        name: name.into(),
        duration: Duration::from_secs(secs),
        joins_per_sec: rate,
        ramp_to: None,
    };
    let (phases, from, intended) = match s.quantity {
        SearchQuantity::ConcurrentViewers => {
            // Joins stay under the scenario's own cap: a higher level takes a longer ramp.
            let cap = base.load.max_joins_per_sec.max(1e-9);
            let ramp = s.ramp.as_secs_f64().max(level / cap).ceil().max(1.0) as u64;
            let total = ramp + settle + judged;
            // Nobody leaves on their own before the step ends: the level is held throughout.
            sc.viewer.watch.duration = WatchTime::Fixed {
                duration: Duration::from_secs(total + 60),
            };
            let mut p = vec![phase("ramp", ramp, level / ramp as f64)];
            if settle > 0 {
                p.push(phase("settle", settle, 0.0));
            }
            p.push(phase("window", judged, 0.0));
            (p, ramp + settle, level)
        }
        SearchQuantity::JoinsPerSec => {
            let mut p = Vec::new();
            if settle > 0 {
                p.push(phase("settle", settle, level));
            }
            p.push(phase("window", judged, level));
            (p, settle, level * (settle + judged) as f64)
        }
    };
    sc.load.phases = phases;
    // A step ends with its window: viewers still watching are cut, so the next level starts
    // from an idle target after the cooldown.
    sc.load.end = crate::scenario::End::Cut;
    StepPlan {
        scenario: sc,
        window: (from, from + judged),
        intended,
    }
}

/// What `validate` prints for a `search:` block: the levels, the step timing, the gates and the
/// longest the search can take.
pub fn describe(s: &Search) -> String {
    use crate::format::{num, pct};
    let ramp = match s.quantity {
        SearchQuantity::ConcurrentViewers => format!("{} s ramp + ", num(s.ramp.as_secs_f64())),
        SearchQuantity::JoinsPerSec => String::new(),
    };
    let per_step = s.ramp.as_secs_f64()
        * f64::from(u8::from(s.quantity == SearchQuantity::ConcurrentViewers))
        + (s.settle + s.step + s.cooldown).as_secs_f64();
    let longest = per_step * f64::from(s.max_steps) + s.hold.as_secs_f64();
    let gates: Vec<String> = s
        .gates
        .iter()
        .map(|g| crate::format::gate(g.metric, g.stat, g.threshold))
        .collect();
    format!(
        "{} from {} up to {} (doubling, then bisecting to {}); each step {ramp}{} s settle + {} s judged window, {} s cooldown; hold {} s; judged by {}; at most {} steps, about {} min at most",
        s.quantity.name(),
        num(s.start),
        num(s.max),
        pct(s.precision),
        num(s.settle.as_secs_f64()),
        num(s.step.as_secs_f64()),
        num(s.cooldown.as_secs_f64()),
        num(s.hold.as_secs_f64()),
        if gates.is_empty() { "no gate".to_string() } else { gates.join(", ") },
        s.max_steps,
        num((longest / 60.0).ceil()),
    )
}

/// The level the event needs, in the searched quantity, and where it came from.
fn target(sc: &Scenario, s: &Search, seed: u64) -> (f64, String) {
    // The planned peak and target rule of `validate` and the analysis.
    let t = crate::analysis::target::of_scenario(sc, &Plan::build(sc, seed));
    let forecast_joins = sc
        .event
        .as_ref()
        .and_then(|e| e.expected_peak_joins_per_sec);
    let basis = |from_event: bool| if from_event { "event" } else { "plan" }.to_string();
    match s.quantity {
        SearchQuantity::ConcurrentViewers => (t.viewers.round(), basis(t.from_event)),
        SearchQuantity::JoinsPerSec => (t.joins_per_sec, basis(forecast_joins.is_some())),
    }
}

/// The `capacity` verb: the search, each step in a line, then the summary of the hold; the exit
/// it earned.
pub async fn run(
    scenario: Scenario,
    opts: CapacityOptions,
    interrupts: watch::Receiver<u32>,
) -> anyhow::Result<super::Exit> {
    let finished = measure(scenario, opts, interrupts).await?;
    if let Some(steps) = crate::report::capacity::plain(&finished.result) {
        println!("{steps}");
    }
    Ok(run::print_finished(&finished))
}

/// The search and its hold, to the results directory.
pub async fn measure(
    mut scenario: Scenario,
    opts: CapacityOptions,
    interrupts: watch::Receiver<u32>,
) -> anyhow::Result<Finished> {
    let Some(mut search) = scenario.search.clone() else {
        anyhow::bail!(
            "{}: no `search:` block, so there is nothing to search; add one at the top level, e.g.\n  {}",
            scenario.source,
            crate::scenario::search::EXAMPLE
        );
    };
    run::check_hosts(&scenario)?;
    // As in a run: a viewer gate applies even when the scenario sets none.
    let viewer_gate =
        |g: &crate::scenario::SloGate| g.metric == crate::metrics::Metric::ViewerFailureRate;
    if !scenario.slo.gates.iter().any(viewer_gate) && !search.gates.iter().any(viewer_gate) {
        search
            .gates
            .push(crate::analysis::slo::default_viewer_gate());
    }
    let original = scenario.clone();
    let seed = opts
        .seed
        .unwrap_or_else(|| Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64);
    let server = start_embedded(&mut scenario, &opts.embedded).await?;
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| run::default_out_dir(&scenario));
    std::fs::create_dir_all(dir.join("steps"))
        .with_context(|| format!("creating results directory {}", dir.display()))?;
    let (target, target_basis) = target(&scenario, &search, seed);
    let say = |line: String| {
        if !opts.quiet {
            eprintln!("{line}");
        }
    };
    say(format!(
        "capacity search: {} from {} up to {}, {} s steps, {}% precision; target {} ({})",
        search.quantity.name(),
        crate::format::num(search.start),
        crate::format::num(search.max),
        search.step.as_secs(),
        crate::format::num(search.precision * 100.0),
        level_words(search.quantity, target),
        target_basis
    ));

    let mut searcher = Searcher::new(&search);
    let mut steps: Vec<SearchStep> = Vec::new();
    let mut last: Option<Finished> = None;
    let outcome = loop {
        let (level, binary) = match searcher.next() {
            Next::Step { level, binary } => (level, binary),
            Next::Done(o) => break o,
        };
        if !steps.is_empty() && pause(search.cooldown, &interrupts).await {
            break SearchOutcome::Interrupted;
        }
        let index = steps.len() as u32 + 1;
        let stage = if binary { "binary" } else { "exponential" };
        let (st, finished) = run_step(
            &scenario,
            &search,
            &opts,
            &dir,
            index,
            stage,
            level,
            search.step,
            seed,
            &interrupts,
        )
        .await?;
        say(step_line(&st, search.quantity));
        searcher.record(level, st.verdict);
        steps.push(st);
        if let Some(f) = finished {
            last = Some(f);
        }
    };

    // The hold: the highest pass again, for `hold`, to confirm it is not a lucky step.
    let mut outcome = outcome;
    let mut hold = None;
    let mut lowest_fail = searcher.lowest_fail;
    if let (Some(p), false) = (
        searcher.highest_pass,
        search.hold.is_zero() || outcome == SearchOutcome::Interrupted,
    ) {
        if !pause(search.cooldown, &interrupts).await {
            let index = steps.len() as u32 + 1;
            let (st, finished) = run_step(
                &scenario,
                &search,
                &opts,
                &dir,
                index,
                "hold",
                p,
                search.hold,
                seed,
                &interrupts,
            )
            .await?;
            say(step_line(&st, search.quantity));
            match st.verdict {
                StepVerdict::Pass => {}
                StepVerdict::Fail => {
                    outcome = SearchOutcome::HoldFailed;
                    lowest_fail = Some(lowest_fail.map_or(p, |f| f.min(p)));
                }
                StepVerdict::GeneratorLimited => outcome = SearchOutcome::GeneratorLimited,
                StepVerdict::Incomplete => outcome = SearchOutcome::Interrupted,
            }
            hold = Some(st);
            if let Some(f) = finished {
                last = Some(f);
            }
        } else {
            outcome = SearchOutcome::Interrupted;
        }
    }
    if let Some(server) = server {
        server.shutdown().await;
    }

    let mut c = CapacitySearch {
        quantity: search.quantity,
        start: search.start,
        max: search.max,
        precision: search.precision,
        ramp_s: search.ramp.as_secs_f64(),
        settle_s: search.settle.as_secs_f64(),
        step_s: search.step.as_secs_f64(),
        cooldown_s: search.cooldown.as_secs_f64(),
        hold_s: search.hold.as_secs_f64(),
        gates: search.gates.clone(),
        steps,
        hold,
        outcome,
        highest_pass: searcher.highest_pass,
        lowest_fail,
        failing_region: None,
        sentence: String::new(),
        advice: None,
        target,
        target_basis,
    };
    if scenario.regions.len() > 1 {
        c.failing_region = decide::failing_step(&c).and_then(|s| {
            s.gates
                .iter()
                .find(|g| !g.passed && g.scope != "overall")
                .map(|g| g.scope.clone())
        });
    }
    let (sentence, advice) = decide::conclude(&c, sysinfo::cores());
    c.sentence = sentence;
    c.advice = advice;
    finish(dir, original, c, last)
}

/// Sleep `d` unless Ctrl-C comes first; true when interrupted.
async fn pause(d: Duration, interrupts: &watch::Receiver<u32>) -> bool {
    let mut rx = interrupts.clone();
    if *rx.borrow() >= 1 {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = rx.wait_for(|n| *n >= 1) => true,
    }
}

/// Start the embedded server once for the whole search and point the scenario at it.
async fn start_embedded(
    scenario: &mut Scenario,
    config: &StagingConfig,
) -> anyhow::Result<Option<EmbeddedServer>> {
    let uses = scenario.target.base_url == BaseUrl::Embedded
        || scenario
            .regions
            .iter()
            .any(|r| r.base_url == Some(BaseUrl::Embedded));
    if !uses {
        return Ok(None);
    }
    let server = EmbeddedServer::start(config.clone())
        .await
        .context("starting the embedded staging server")?;
    let url = Url::parse(&server.base_url()).context("embedded server address")?;
    if scenario.target.base_url == BaseUrl::Embedded {
        scenario.target.base_url = BaseUrl::Url(url.clone());
    }
    for r in &mut scenario.regions {
        if r.base_url == Some(BaseUrl::Embedded) {
            r.base_url = Some(BaseUrl::Url(url.clone()));
        }
    }
    for host in ["127.0.0.1", "localhost"] {
        if !scenario.target.allow_hosts.iter().any(|h| h == host) {
            scenario.target.allow_hosts.push(host.into());
        }
    }
    Ok(Some(server))
}

/// Run one step (or the hold) and judge its window.
#[allow(clippy::too_many_arguments)]
async fn run_step(
    scenario: &Scenario,
    search: &Search,
    opts: &CapacityOptions,
    dir: &Path,
    index: u32,
    stage: &str,
    level: f64,
    window: Duration,
    seed: u64,
    interrupts: &watch::Receiver<u32>,
) -> anyhow::Result<(SearchStep, Option<Finished>)> {
    let plan = step_plan(scenario, search, level, window);
    let rel = format!("steps/{index:02}-{}", level_dir(level));
    let mut st = SearchStep {
        index,
        stage: stage.into(),
        level,
        dir: rel.clone(),
        duration_s: plan.window.1 as f64,
        window_from_s: plan.window.0 as f64,
        window_to_s: plan.window.1 as f64,
        verdict: StepVerdict::Incomplete,
        gates: Vec::new(),
        min_viewers_in_window: 0,
        intended_arrivals: plan.intended,
        achieved_arrivals: 0,
        lag_p99_ms: 0.0,
        reason: String::new(),
    };
    // A level this machine cannot open enough sockets for is the generator's limit.
    let built = Plan::build(&plan.scenario, seed);
    if let Err(e) = run::preflight(&plan.scenario, &built, sysinfo::raise_open_files_limit()) {
        st.verdict = StepVerdict::GeneratorLimited;
        st.reason = format!("not started: {e:#}");
        return Ok((st, None));
    }
    let run_opts = RunOptions {
        out: Some(dir.join(&rel)),
        seed: Some(seed.wrapping_add(index as u64)),
        progress: ProgressMode::Quiet,
        drain: opts.drain,
        embedded: StagingConfig::default(),
        shard: None,
        region: None,
        live: Default::default(),
        start: crate::collector::StartGate::Now,
        render: false,
    };
    let finished = run::measure(plan.scenario.clone(), run_opts, interrupts.clone())
        .await
        .with_context(|| {
            format!(
                "capacity step {index} at {}",
                level_words(search.quantity, level)
            )
        })?;
    let r = &finished.result;
    st.lag_p99_ms = r.generator.lag_p99_ms;
    if let Some(why) = &r.incomplete {
        st.reason = format!("not judged: {why}");
        return Ok((st, Some(finished)));
    }
    match r.status {
        crate::metrics::RunStatus::Interrupted => {
            st.reason = "interrupted before its window ended".into();
            return Ok((st, Some(finished)));
        }
        crate::metrics::RunStatus::Aborted => {
            st.verdict = StepVerdict::Fail;
            st.reason = r.status_reason.clone().unwrap_or_else(|| "aborted".into());
            return Ok((st, Some(finished)));
        }
        crate::metrics::RunStatus::Completed => {}
    }
    let regions: Vec<String> = plan
        .scenario
        .regions
        .iter()
        .map(|r| r.name.clone())
        .collect();
    let shares: Vec<f64> = plan.scenario.regions.iter().map(|r| r.share).collect();
    let mut w = step::read_window(&finished.dir, &regions, plan.window.0, plan.window.1)
        .map_err(|e| anyhow::anyhow!("capacity step {index}: {e}"))?;
    // Viewer outcomes are counted when a visit ends, mostly after the window: they are taken
    // per arrival instead. A concurrent-viewer step's viewers all belong to its level (the
    // whole step run); a join-rate step's are those that arrived in its window (the `window`
    // phase).
    let scopes = r.regions.iter().chain(std::iter::once(&r.overall));
    for (i, b) in scopes.enumerate() {
        let viewers = match search.quantity {
            SearchQuantity::ConcurrentViewers => Some(b.viewers.clone()),
            SearchQuantity::JoinsPerSec => b
                .phases
                .iter()
                .find(|p| p.name == "window")
                .map(|p| p.viewers.clone()),
        };
        if let (Some(v), Some(win), Some(whole)) = (viewers, w.window.get_mut(i), w.step.get_mut(i))
        {
            win.viewers = v.clone();
            whole.viewers = v;
        }
    }
    st.achieved_arrivals = w.arrivals;
    st.min_viewers_in_window = w.min_active.last().copied().unwrap_or(0);
    let input = StepInput {
        quantity: search.quantity,
        level,
        shares: &shares,
        gates: &search.gates,
        intended_arrivals: plan.intended,
        lag_p99_ms: r.generator.lag_p99_ms,
        late_threshold_ms: r.generator.late_threshold_ms,
        late_arrivals: r.generator.late_arrivals,
    };
    let (verdict, gates, reason) = step::judge(&w, &input);
    st.verdict = verdict;
    st.gates = gates;
    st.reason = reason;
    Ok((st, Some(finished)))
}

/// `300`, `12.5`: a directory name for a level.
fn level_dir(level: f64) -> String {
    if level.fract() == 0.0 {
        format!("{level:.0}")
    } else {
        format!("{level:.1}")
    }
}

fn step_line(s: &SearchStep, q: SearchQuantity) -> String {
    format!(
        "  {} {:>2}  {:<24} {:<17} sent {:>6}  lag p99 {:>8}  {}",
        if s.stage == "hold" { "hold" } else { "step" },
        s.index,
        level_words(q, s.level),
        s.verdict.words(),
        crate::format::pct(s.send_ratio()),
        crate::format::ms(s.lag_p99_ms),
        s.reason
    )
}

/// The results directory: the hold's (or the last step's) data, the search attached, the
/// verdict from the search, every report rendered.
fn finish(
    dir: PathBuf,
    original: Scenario,
    c: CapacitySearch,
    last: Option<Finished>,
) -> anyhow::Result<Finished> {
    let Some(last) = last else {
        anyhow::bail!(
            "the capacity search ran no step ({}): {}",
            c.outcome.words(),
            c.sentence
        );
    };
    for file in ["timeseries.csv", "histograms.hlog"] {
        std::fs::copy(last.dir.join(file), dir.join(file))
            .with_context(|| format!("copying {} from {}", file, last.dir.display()))?;
    }
    let mut result = last.result;
    let source = last
        .dir
        .strip_prefix(&dir)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| last.dir.display().to_string());
    result.notices.push(format!(
        "capacity search: the per-second data, latency tables and charts of this directory are the run in {source}; every step's own data is under steps/"
    ));
    result.scenario.resolved = Some(original.clone());
    let outcome_ok = matches!(
        c.outcome,
        SearchOutcome::Bracket | SearchOutcome::NoKneeUpToMax
    );
    result.capacity = Some(c);
    crate::analysis::assess_dir(&dir, &mut result);
    let not_written = run::record(&dir, &result);
    let not_ready = result
        .readiness
        .as_ref()
        .is_some_and(|r| r.overall.verdict == Verdict::NotReady);
    let outcome = if result.incomplete.is_some() || !not_written.is_empty() {
        Outcome::Unrecorded
    } else if outcome_ok && !not_ready {
        Outcome::Passed
    } else {
        Outcome::SloFailed
    };
    Ok(Finished {
        outcome,
        dir,
        result,
        not_written,
    })
}
