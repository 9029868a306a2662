//! `k8s render` as a list of stages: read the scenario (its `${VAR}` names recorded, their
//! values never read) → build the plan once per job slice → size the pods from each shard's
//! planned peak → write the manifests (or print them for `kubectl apply -f -`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::k8s::{dns_label, JobSpec, Render, Sizing, COLLECTOR_PORT};
use crate::plan::{Plan, Shard};
use crate::scenario::{self, Scenario};

pub struct RenderOptions {
    pub scenario: PathBuf,
    pub shards: u64,
    pub image: String,
    pub namespace: Option<String>,
    pub out: Option<PathBuf>,
    pub seed: Option<u64>,
    /// Where pods reach the collector; the Service's DNS name unless given.
    pub collector_url: Option<String>,
    /// One Job per region (`regions[].placement`, `run --region`).
    pub per_region: bool,
}

/// What was written, for the terminal.
pub struct Rendered {
    pub render: Render,
    pub files: Vec<PathBuf>,
}

pub fn render(opts: &RenderOptions) -> anyhow::Result<(Rendered, String)> {
    if opts.shards == 0 {
        bail!("--shards must be at least 1");
    }
    if let Some(ns) = &opts.namespace {
        if dns_label(ns, 63) != *ns {
            bail!(
                "--namespace `{ns}` is not a valid Kubernetes name; try `{}`",
                dns_label(ns, 63)
            );
        }
    }
    let (scenario, text, vars) = load_recording_vars(&opts.scenario)?;
    crate::cmd::run::check_hosts(&scenario)?;
    let seed = opts
        .seed
        .unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64 >> 16);
    let prefix = format!("peakready-{}", dns_label(&scenario.name, 30));
    let collector_url = match &opts.collector_url {
        Some(u) => u.clone(),
        None => {
            let ns = opts
                .namespace
                .as_ref()
                .map(|n| format!(".{n}.svc"))
                .unwrap_or_default();
            format!("http://{prefix}-collector{ns}:{COLLECTOR_PORT}")
        }
    };
    let jobs = if opts.per_region {
        region_jobs(&scenario, seed, opts.shards, &prefix)?
    } else {
        let plan = Plan::build(&scenario, seed).with_shard(Shard {
            index: 1,
            count: opts.shards,
        });
        vec![JobSpec {
            name: prefix.clone(),
            region: None,
            shards: opts.shards,
            sizing: Sizing::of(&scenario, &plan),
            node_selector: None,
            tolerations: None,
            context: None,
        }]
    };
    let render = Render {
        prefix,
        namespace: opts.namespace.clone(),
        image: opts.image.clone(),
        seed,
        scenario_text: text,
        secret_vars: vars.secret,
        config_env: vars.config,
        collector_url,
        total_shards: jobs.iter().map(|j| j.shards).sum(),
        jobs,
    };
    let manifests = render.manifests();
    let mut files = Vec::new();
    let mut stdout = String::new();
    match &opts.out {
        Some(dir) => {
            check_out(dir)?;
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for m in &manifests {
                let path = dir.join(&m.file);
                std::fs::write(&path, &m.text)
                    .with_context(|| format!("writing {}", path.display()))?;
                files.push(path);
            }
        }
        None => {
            for m in &manifests {
                stdout.push_str("---\n");
                stdout.push_str(&m.text);
            }
        }
    }
    Ok((Rendered { render, files }, stdout))
}

/// `${VAR}`s of the scenario, split the way pods must receive them.
pub struct Vars {
    /// Used in header values: secrets, sent to pods from a Secret by name only.
    pub secret: Vec<String>,
    /// Set in this environment and used outside headers: configuration, written into the Job
    /// as plain values so every pod draws the plan this render sized.
    pub config: Vec<(String, String)>,
}

/// One Job per region: `placement.shards` pods, else `--shards` split by weight (at least one).
fn region_jobs(
    scenario: &Scenario,
    seed: u64,
    shards: u64,
    prefix: &str,
) -> anyhow::Result<Vec<JobSpec>> {
    let counts: Vec<u64> = scenario
        .regions
        .iter()
        .map(|r| {
            r.placement
                .as_ref()
                .and_then(|p| p.shards)
                .unwrap_or_else(|| ((shards as f64 * r.share).round() as u64).max(1))
        })
        .collect();
    let total: u64 = counts.iter().sum();
    let mut jobs = Vec::new();
    for (i, (r, n)) in scenario.regions.iter().zip(&counts).enumerate() {
        let plan = Plan::build(scenario, seed)
            .with_shard(Shard {
                index: 1,
                count: total,
            })
            .with_region_slice(
                scenario.load.max_viewers,
                crate::plan::RegionSlice {
                    region: i as u16,
                    index: 1,
                    count: *n,
                },
            );
        let placement = r.placement.as_ref();
        jobs.push(JobSpec {
            name: format!("{prefix}-{}", dns_label(&r.name, 20)),
            region: Some(r.name.clone()),
            shards: *n,
            sizing: Sizing::of(scenario, &plan),
            node_selector: placement
                .filter(|p| !p.node_selector.is_empty())
                .map(|p| serde_json::json!(p.node_selector)),
            tolerations: placement.filter(|p| !p.tolerations.is_empty()).map(|p| {
                serde_json::Value::Array(
                    p.tolerations
                        .iter()
                        .map(|t| {
                            let mut o = serde_json::json!({"operator": t.operator});
                            for (k, v) in
                                [("key", &t.key), ("value", &t.value), ("effect", &t.effect)]
                            {
                                if let Some(v) = v {
                                    o[k] = serde_json::json!(v);
                                }
                            }
                            if let Some(s) = t.toleration_seconds {
                                o["tolerationSeconds"] = serde_json::json!(s);
                            }
                            o
                        })
                        .collect(),
                )
            }),
            context: placement.and_then(|p| p.context.clone()),
        });
    }
    if scenario.regions.iter().all(|r| r.placement.is_none()) {
        eprintln!(
            "peakready: warning: --per-region but no region has `placement`: every region's pods may land on any node"
        );
    }
    Ok(jobs)
}

/// Parse the scenario as `run` will. Values come from this environment (to size the same plan
/// the pods will run); a variable unset here is answered with a placeholder on a second pass,
/// since header secrets need not exist where manifests are rendered. Secret values are read
/// but never written.
fn load_recording_vars(path: &Path) -> anyhow::Result<(Scenario, String, Vars)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the scenario file", path.display()))?;
    let source = path.display().to_string();
    let seen = RefCell::new(BTreeMap::<String, Option<String>>::new());
    let local = |name: &str| {
        let v = std::env::var(name).ok();
        seen.borrow_mut().insert(name.to_string(), v.clone());
        v
    };
    let scenario = match scenario::parse_str(&text, &source, &local) {
        Ok(s) => s,
        Err(first) => {
            let unset: BTreeSet<String> = seen
                .borrow()
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| k.clone())
                .collect();
            if unset.is_empty() {
                return Err(first.into());
            }
            let placeholder = |name: &str| {
                let v = std::env::var(name).ok();
                seen.borrow_mut().insert(name.to_string(), v.clone());
                v.or_else(|| {
                    unset
                        .contains(name)
                        .then(|| "peakready-render-placeholder".into())
                })
            };
            scenario::parse_str(&text, &source, &placeholder)?
        }
    };
    let seen = seen.into_inner();
    let names_in = |from: &str| -> Vec<String> {
        seen.keys()
            .filter(|n| from.contains(&format!("${{{n}}}")) || from.contains(&format!("${{{n}:-")))
            .cloned()
            .collect()
    };
    let mut secret = BTreeSet::new();
    let mut config = BTreeMap::new();
    for o in &scenario.overrides {
        for name in names_in(&o.from) {
            if o.key.starts_with("target.headers") {
                secret.insert(name);
            } else if let Some(Some(v)) = seen.get(&name) {
                config.insert(name, v.clone());
            }
        }
    }
    // A variable both in a header and elsewhere is a secret: never written.
    config.retain(|k, _| !secret.contains(k));
    let vars = Vars {
        secret: secret.into_iter().collect(),
        config: config.into_iter().collect(),
    };
    Ok((scenario, text, vars))
}

/// Manifests of two renders mixed in one directory would be applied together.
fn check_out(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).with_context(|| format!("reading --out {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "--out {} is not empty; `kubectl apply -f` would apply old manifests with the new: choose a new directory",
                dir.display()
            );
        }
    }
    Ok(())
}

/// The terminal summary: what to do next.
pub fn summary(r: &Rendered) -> String {
    let mut s = String::new();
    for f in &r.files {
        s.push_str(&format!("  wrote {}\n", f.display()));
    }
    for job in &r.render.jobs {
        let z = &job.sizing;
        s.push_str(&format!(
            "Job {}: {} pod(s), each ~{} viewers at peak, {:.0} joins/s: requests {}m CPU / {} MiB, limits {}m / {} MiB\n",
            job.name, job.shards, z.viewers, z.joins_per_sec, z.cpu_request_millis, z.memory_request_mib,
            z.cpu_limit_millis, z.memory_limit_mib
        ));
    }
    if !r.render.secret_vars.is_empty() {
        s.push_str(&format!(
            "The scenario reads {}: create Secret {} with those keys before applying.\n",
            r.render.secret_vars.join(", "),
            r.render.secret_name()
        ));
    }
    for (job, file) in r
        .render
        .jobs
        .iter()
        .zip(r.files.iter().rev().take(r.render.jobs.len()).rev())
    {
        if let Some(ctx) = &job.context {
            s.push_str(&format!(
                "Region {}: apply {} with --context {ctx}; the collector must be reachable from there (--collector-url)\n",
                job.region.as_deref().unwrap_or("-"),
                file.display()
            ));
        }
    }
    if let Some(dir) = r.files.first().and_then(|f| f.parent()) {
        s.push_str(&format!(
            "Next: kubectl apply -f {}   (docs/kubernetes.md)",
            dir.display()
        ));
    }
    s
}

/// `k8s render`: the manifests into `--out` (a summary on stdout), or onto stdout (the summary
/// on stderr, so `| kubectl apply -f -` reads manifests only).
pub fn run(opts: &RenderOptions) -> anyhow::Result<super::Exit> {
    let (rendered, stdout) = render(opts)?;
    if opts.out.is_some() {
        println!("{}", summary(&rendered));
    } else {
        print!("{stdout}");
        eprintln!("{}", summary(&rendered));
    }
    Ok(super::Exit::Success)
}
