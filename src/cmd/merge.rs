//! `merge` as a list of stages: refuse an `--out` that holds anything → load every shard
//! directory → check they are slices of one run and that none is duplicated or missing → line
//! their clocks up → merge the per-second files → merge the results → judge SLOs and readiness
//! from the merged directory exactly as `report DIR` does → write results.json and render.
//!
//! **Alignment.** Shards are lined up by the wall-clock start each recorded (`started_at` in
//! results.json): a shard's second `s` becomes merged second `s + round(start − earliest
//! start)`. Shards started together (the normal case) therefore line up on their run-relative
//! seconds, and shards started apart still sum the viewers that were live at the same time. The
//! plan's phases follow the earliest shard; when starts differ by more than
//! [`SKEW_WARNING_S`] the merge says so, since the target then never saw the plan's combined load.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};

use crate::metrics::merge::{merge_results, MergePlan, ShardInput};
use crate::metrics::series_merge::{merge_series, SeriesSource};
use crate::metrics::RunResult;
use crate::plan::Shard;
use crate::scenario::Scenario;

/// Start-time differences above this are reported: rows of one merged second then came from
/// different moments of the plan.
pub const SKEW_WARNING_S: f64 = 1.0;

pub struct MergeOptions {
    pub dirs: Vec<PathBuf>,
    pub out: PathBuf,
    /// Merge the shards present even when some are missing (recorded in the result).
    pub allow_partial: bool,
}

pub struct Merged {
    pub result: RunResult,
    /// Things the user should see on the terminal too (they are also notices in the report).
    pub warnings: Vec<String>,
}

/// A shard directory, loaded.
struct Loaded {
    dir: PathBuf,
    result: RunResult,
    shard: Shard,
}

/// `merge`: the merged directory written, its warnings on stderr and a summary on stdout.
pub fn run(opts: &MergeOptions) -> anyhow::Result<super::Exit> {
    let merged = merge(opts)?;
    for w in &merged.warnings {
        eprintln!("peakready: warning: {w}");
    }
    println!("{}", summary(&merged, &opts.out));
    Ok(super::Exit::Success)
}

pub fn merge(opts: &MergeOptions) -> anyhow::Result<Merged> {
    check_out_is_free(&opts.out)?;
    let shards = load_all(&opts.dirs)?;
    let missing = check_complete(&shards, opts.allow_partial)?;
    let clocks = Clocks::of(&shards);
    let mut warnings: Vec<String> = clocks.warning(&shards).into_iter().collect();
    let tools: Vec<&str> = shards.iter().map(|s| s.result.tool.as_str()).collect();
    if tools.iter().any(|t| *t != tools[0]) {
        warnings.push(format!(
            "the shards were run by different peakready versions ({})",
            tools.join(", ")
        ));
    }
    let plan = MergePlan {
        shard_count: shards[0].shard.count,
        missing,
        start_skew_s: clocks.skew_s,
    };
    let existed = opts.out.exists();
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating results directory {}", opts.out.display()))?;
    let result = match write_merged(&shards, &clocks, plan, &warnings, &opts.out) {
        Ok(r) => r,
        Err(e) => {
            // A half-written directory would pass for a result; the inputs are untouched, so
            // the merge can simply be run again once the cause is fixed.
            let _ = std::fs::remove_dir_all(&opts.out);
            if existed {
                let _ = std::fs::create_dir(&opts.out);
            }
            return Err(e);
        }
    };
    // results.json is on disk: a chart that fails to render is re-rendered by `report DIR`.
    crate::report::render_all(&opts.out, &result)?;
    Ok(Merged { result, warnings })
}

/// Load every directory, check they are slices of one run, and sort them by shard index.
fn load_all(dirs: &[PathBuf]) -> anyhow::Result<Vec<Loaded>> {
    let mut shards = dirs
        .iter()
        .map(|d| load_shard(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let Some(first) = shards.first() else {
        bail!("merge needs at least one shard results directory");
    };
    for s in &shards[1..] {
        check_same_run(first, s)?;
    }
    shards.sort_by_key(|s| s.shard.index);
    Ok(shards)
}

/// Refuse a shard given twice; return the missing indexes (refused unless `allow_partial`).
fn check_complete(shards: &[Loaded], allow_partial: bool) -> anyhow::Result<Vec<u64>> {
    let count = shards.first().map_or(0, |s| s.shard.count);
    for pair in shards.windows(2) {
        if pair[0].shard.index == pair[1].shard.index {
            bail!(
                "shard {}/{count} is given twice: {} and {}; pass each shard's directory once",
                pair[0].shard.index,
                pair[0].dir.display(),
                pair[1].dir.display()
            );
        }
    }
    let missing: Vec<u64> = (1..=count)
        .filter(|i| !shards.iter().any(|s| s.shard.index == *i))
        .collect();
    if !missing.is_empty() && !allow_partial {
        let have: Vec<String> = shards
            .iter()
            .map(|s| format!("{} ({})", s.shard.index, s.dir.display()))
            .collect();
        bail!(
            "shard(s) {} of {count} missing: got {}; pass every shard's results directory, or \
             --allow-partial to merge what is present (the merged results then record the missing shards)",
            join(&missing),
            have.join(", ")
        );
    }
    Ok(missing)
}

/// Where each shard's clock sits relative to the earliest start (see the module docs).
struct Clocks {
    earliest: DateTime<Utc>,
    /// Per shard, in shard order: (exact seconds after `earliest`, the whole-second shift).
    offsets: Vec<(f64, u64)>,
    skew_s: f64,
}

impl Clocks {
    fn of(shards: &[Loaded]) -> Clocks {
        let starts = shards.iter().map(|s| s.result.started_at);
        let earliest = starts.clone().min().unwrap_or_default();
        let offsets: Vec<(f64, u64)> = starts
            .map(|t| {
                let o = (t - earliest).num_milliseconds() as f64 / 1000.0;
                (o, o.round() as u64)
            })
            .collect();
        let skew_s = offsets.iter().map(|o| o.0).fold(0.0, f64::max);
        Clocks {
            earliest,
            offsets,
            skew_s,
        }
    }

    fn warning(&self, shards: &[Loaded]) -> Option<String> {
        if self.skew_s <= SKEW_WARNING_S {
            return None;
        }
        let starts: Vec<String> = shards
            .iter()
            .zip(&self.offsets)
            .map(|(s, o)| format!("shard {} +{}", s.shard.index, crate::format::secs(o.0)))
            .collect();
        Some(format!(
            "shard start times differ by {} ({}): per-second rows were aligned by wall clock, so \
             concurrency sums viewers live at the same time, but the target never saw the plan's combined \
             load and phase labels follow the earliest shard; start every shard at the same moment for a faithful merge",
            crate::format::secs(self.skew_s),
            starts.join(", ")
        ))
    }
}

/// Merge the per-second files and the results into `out`, judge the merged run, and write
/// results.json.
fn write_merged(
    shards: &[Loaded],
    clocks: &Clocks,
    plan: MergePlan,
    warnings: &[String],
    out: &Path,
) -> anyhow::Result<RunResult> {
    let base = &shards[0].result;
    let regions: Vec<String> = base.regions.iter().map(|b| b.name.clone()).collect();
    let phases = base
        .phases
        .iter()
        .map(|p| (p.name.clone(), p.start_s, p.start_s + p.duration_s))
        .collect();
    let sources: Vec<SeriesSource> = shards
        .iter()
        .zip(&clocks.offsets)
        .map(|(s, o)| SeriesSource {
            dir: &s.dir,
            offset_s: o.1,
        })
        .collect();
    let start_epoch_s = clocks.earliest.timestamp_millis() as f64 / 1000.0;
    let peaks = merge_series(&sources, out, &regions, phases, start_epoch_s)?;

    let inputs: Vec<ShardInput> = shards
        .iter()
        .zip(&clocks.offsets)
        .map(|(s, o)| ShardInput {
            result: &s.result,
            index: s.shard.index,
            dir: s.dir.display().to_string(),
            offset_exact_s: o.0,
            offset_s: o.1,
        })
        .collect();
    let mut result = merge_results(&inputs, &peaks, plan)?;
    result.notices.extend(warnings.iter().cloned());

    // From here on, the same judgement as a single run's (`run::run`) and `report DIR`.
    crate::analysis::judge(&mut result, Some(out));
    crate::report::write_results(out, &result)?;
    Ok(result)
}

/// The terminal summary: the same table as `run` and `report`, then where the shards went.
pub fn summary(merged: &Merged, out: &Path) -> String {
    let mut text = crate::report::summary::render(&merged.result);
    if let Some(m) = &merged.result.merge {
        if !m.missing.is_empty() {
            text.push_str(&format!(
                "\n  INCOMPLETE: shard(s) {} of {} missing",
                join(&m.missing),
                m.shard_count
            ));
        }
        text.push_str(&format!(
            "\nMerged {} of {} shards into {}",
            m.shards.len(),
            m.shard_count,
            out.display()
        ));
    }
    text.push_str(&format!("\n  Report: {}", out.join("report.md").display()));
    text
}

fn join(ids: &[u64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Merge writes a fresh directory: mixing its files with an earlier run's would be a report
/// nobody can trust.
fn check_out_is_free(out: &Path) -> anyhow::Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        bail!(
            "--out {} exists and is not a directory; choose a new path for the merged results",
            out.display()
        );
    }
    let mut entries =
        std::fs::read_dir(out).with_context(|| format!("reading --out {}", out.display()))?;
    if entries.next().is_some() {
        bail!(
            "--out {} already exists and is not empty; merge writes a fresh results directory: choose a new path or empty it",
            out.display()
        );
    }
    Ok(())
}

fn load_shard(dir: &Path) -> anyhow::Result<Loaded> {
    let shown = dir.display();
    if !dir.is_dir() {
        bail!("{shown} is not a directory; give the --out directory of each `peakready run --shard I/N`");
    }
    if !dir.join("results.json").is_file() {
        bail!(
            "{shown} is not a peakready results directory: it has no results.json; give the --out directory of each `peakready run --shard I/N`"
        );
    }
    let result = crate::report::load(dir)?;
    for file in ["timeseries.csv", "histograms.hlog"] {
        if !dir.join(file).is_file() {
            bail!(
                "{shown}/{file} is missing: merge rebuilds the per-second series from every shard's {file}; restore it or re-run that shard"
            );
        }
    }
    let shard = match result.shard.or_else(|| shard_from_notices(&result)) {
        Some(s) => s,
        None if result.merge.is_some() => bail!(
            "{shown}/results.json is already a merged result (field `merge`); merge the shard directories it came from instead"
        ),
        None => bail!(
            "{shown}/results.json has no `shard` field: it is a whole run, not a slice; merge combines the directories of \
             `peakready run SCENARIO --seed S --shard I/N`"
        ),
    };
    Ok(Loaded {
        dir: dir.to_path_buf(),
        result,
        shard,
    })
}

/// Results written before the `shard` field existed name the shard in a notice
/// (`shard 2 of 4: this process ran …`).
fn shard_from_notices(r: &RunResult) -> Option<Shard> {
    r.notices.iter().find_map(|n| {
        let rest = n.strip_prefix("shard ")?;
        let (head, _) = rest.split_once(':')?;
        let (i, count) = head.split_once(" of ")?;
        Some(Shard {
            index: i.trim().parse().ok()?,
            count: count.trim().parse().ok()?,
        })
    })
}

/// Shards of one run share the scenario, seed and shard count; anything else would add up
/// numbers from different experiments.
fn check_same_run(first: &Loaded, other: &Loaded) -> anyhow::Result<()> {
    let (a, b) = (&first.result, &other.result);
    let regions = |r: &RunResult| {
        r.regions
            .iter()
            .map(|b| b.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let phases = |r: &RunResult| serde_json::to_string(&r.phases).unwrap_or_default();
    let fields = [
        (
            "scenario.name",
            b.scenario.name.clone(),
            a.scenario.name.clone(),
        ),
        ("seed", b.seed.to_string(), a.seed.to_string()),
        (
            "shard.count",
            other.shard.count.to_string(),
            first.shard.count.to_string(),
        ),
        ("regions", regions(b), regions(a)),
        ("phases", phases(b), phases(a)),
    ];
    for (field, theirs, ours) in fields {
        if theirs != ours {
            bail!(
                "{}/results.json: {field} is `{theirs}` but {}/results.json has `{ours}`: shards to merge must come from \
                 one scenario, one --seed and one shard count (`peakready run SCENARIO --seed S --shard I/N`)",
                other.dir.display(),
                first.dir.display()
            );
        }
    }
    if let Some(key) =
        resolved_difference(a.scenario.resolved.as_ref(), b.scenario.resolved.as_ref())
    {
        bail!(
            "{}/results.json: scenario.resolved.{key} differs from {}/results.json: the shards ran different \
             versions of the scenario; run every shard from the same file with the same --seed",
            other.dir.display(),
            first.dir.display()
        );
    }
    Ok(())
}

/// The first top-level key of the resolved scenario that differs, ignoring what may
/// legitimately differ between machines: the path the file was given by and the local
/// source addresses.
fn resolved_difference(a: Option<&Scenario>, b: Option<&Scenario>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => {
            crate::scenario::differing_sections(a, b, crate::collector::proto::PER_MACHINE)
                .into_iter()
                .next()
        }
        (None, None) => None,
        _ => Some("(the whole scenario)".into()),
    }
}
