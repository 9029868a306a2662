//! `k8s render` and `collect`: the rendered manifests validate against the Kubernetes schemas
//! (kubernetes-validate, SKIP loudly when missing), no secret value is ever written, and the
//! rendered Job's container command and environment, run exactly as written as N local
//! processes (one per `JOB_COMPLETION_INDEX`, in a working directory laid out like the pod's)
//! plus the collector on loopback, give one merged results directory equal to offline `merge`
//! of the shards' own directories; a process killed mid-run gives a partial run naming it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

fn render(dir: &Path, scenario: &Path, shards: u64, extra: &[&str]) -> PathBuf {
    let out = dir.join("manifests");
    let o = bin()
        .args(["k8s", "render"])
        .arg(scenario)
        .args([
            "--shards",
            &shards.to_string(),
            "--image",
            "example.org/peakready:test",
        ])
        .args(["--seed", "5", "--out"])
        .arg(&out)
        .args(extra)
        .env("STAGING_TOKEN", "s3cr3t-value-never-written")
        .env("PR_TIMEOUT", "2s")
        .output()
        .expect("run k8s render");
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    out
}

fn docs(dir: &Path) -> Vec<(String, serde_yaml::Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("manifests dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("manifest");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v = <serde_yaml::Value as serde::Deserialize>::deserialize(doc).expect("YAML");
            out.push((f.display().to_string(), v));
        }
    }
    out
}

fn kind<'a>(docs: &'a [(String, serde_yaml::Value)], kind: &str) -> Vec<&'a serde_yaml::Value> {
    docs.iter()
        .filter(|(_, d)| d["kind"].as_str() == Some(kind))
        .map(|(_, d)| d)
        .collect()
}

fn scenario_with_secret(dir: &Path, url: &str, secs: u32, rate: u32) -> PathBuf {
    let yaml = scenario_yaml(
        url,
        secs,
        rate,
        "  headers: { X-Token: \"${STAGING_TOKEN}\" }",
    )
    // A configuration variable beside the secret: passed on as a plain value.
    .replace("timeout: 2s", "timeout: ${PR_TIMEOUT}");
    write(dir, "event.yaml", &yaml)
}

fn validator() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBERNETES_VALIDATE") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("kubernetes-validate"))
        .find(|p| p.is_file())
}

#[test]
fn rendered_manifests_validate_against_two_kubernetes_versions_and_hold_no_secret() {
    let tmp = tempfile::tempdir().expect("tmp");
    let scenario = scenario_with_secret(tmp.path(), "http://127.0.0.1:9", 3, 20);
    let out = render(tmp.path(), &scenario, 4, &["--namespace", "load"]);
    let all = docs(&out);
    for (file, _) in &all {
        let text = std::fs::read_to_string(file).expect("read");
        assert!(!text.contains("s3cr3t"), "{file} holds the secret's value");
    }
    let job = kind(&all, "Job")[0];
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    assert_eq!(spec["completions"].as_u64(), Some(4));
    assert_eq!(spec["parallelism"].as_u64(), Some(4));
    assert!(spec["backoffLimitPerIndex"].as_u64().is_some());
    let rules = spec["podFailurePolicy"]["rules"]
        .as_sequence()
        .expect("rules");
    let fail_index = rules
        .iter()
        .find(|r| r["action"].as_str() == Some("FailIndex"))
        .expect("FailIndex rule");
    let codes: Vec<u64> = fail_index["onExitCodes"]["values"]
        .as_sequence()
        .expect("codes")
        .iter()
        .filter_map(|c| c.as_u64())
        .collect();
    assert!(codes.contains(&1), "an SLO failure (exit 1) is not retried");
    let pod = &spec["template"]["spec"];
    let c = &pod["containers"][0];
    let env = c["env"].as_sequence().expect("env");
    let token = env
        .iter()
        .find(|e| e["name"].as_str() == Some("STAGING_TOKEN"))
        .expect("the ${VAR} comes from the Secret");
    assert!(token["valueFrom"]["secretKeyRef"]["name"]
        .as_str()
        .is_some());
    let timeout = env
        .iter()
        .find(|e| e["name"].as_str() == Some("PR_TIMEOUT"))
        .expect("a configuration ${VAR} is passed on");
    assert_eq!(timeout["value"].as_str(), Some("2s"));
    assert!(c["resources"]["requests"]["memory"].as_str().is_some());
    assert!(c["resources"]["limits"]["cpu"].as_str().is_some());
    assert_eq!(
        pod["securityContext"]["sysctls"][0]["name"].as_str(),
        Some("net.ipv4.ip_local_port_range")
    );
    let text = std::fs::read_to_string(
        all.iter()
            .find(|(_, d)| d["kind"].as_str() == Some("Job"))
            .expect("job")
            .0
            .clone(),
    )
    .expect("job file");
    assert!(
        text.contains("docs/performance.md"),
        "sizing cites its figures"
    );
    assert_eq!(kind(&all, "Deployment").len(), 1);
    assert_eq!(kind(&all, "Service").len(), 1);
    assert_eq!(kind(&all, "ConfigMap").len(), 1);

    let Some(tool) = validator() else {
        eprintln!(
            "\n*** SKIP rendered_manifests_validate…: kubernetes-validate (PyPI) is not on PATH \
             (nor KUBERNETES_VALIDATE); .ci/run installs it in a venv. The schema check did NOT run.\n"
        );
        return;
    };
    let files: Vec<PathBuf> = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    for version in ["1.35.0", "1.37.0"] {
        let o = Command::new(&tool)
            .args(["--strict", "-k", version])
            .args(&files)
            .output()
            .expect("run kubernetes-validate");
        assert!(
            o.status.success(),
            "Kubernetes {version}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).contains("passed"), "{}", stdout(&o));
    }
}

/// A child process killed (and reaped) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `$(NAME)` references expanded from `env`, as the kubelet does.
fn expand(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in env {
        out = out.replace(&format!("$({k})"), v);
    }
    assert!(!out.contains("$("), "unexpanded reference in {text}");
    out
}

/// The pods of the rendered Job, started as local processes exactly as the Job says.
fn start_pods(manifests: &Path, root: &Path, secret: &BTreeMap<&str, &str>) -> Vec<Proc> {
    start_pods_of(manifests, root, secret, None, "pod")
}

/// `only`: one completion index (Kubernetes' retry of that index, in a fresh pod);
/// `prefix` names the pods' working directories under `root`.
fn start_pods_of(
    manifests: &Path,
    root: &Path,
    secret: &BTreeMap<&str, &str>,
    only: Option<u64>,
    prefix: &str,
) -> Vec<Proc> {
    let all = docs(manifests);
    let jobs = kind(&all, "Job");
    let many = jobs.len() > 1;
    jobs.into_iter()
        .flat_map(|job| {
            let name = job["metadata"]["name"]
                .as_str()
                .expect("job name")
                .to_string();
            let pod_name = move |i: u64| {
                if many {
                    format!("{prefix}-{name}-{i}")
                } else {
                    format!("{prefix}-{i}")
                }
            };
            start_job_pods(&all, job, root, secret, only, pod_name)
        })
        .collect()
}

/// One Job's pods; `pod_name` names each pod's working directory under `root`.
fn start_job_pods(
    all: &[(String, serde_yaml::Value)],
    job: &serde_yaml::Value,
    root: &Path,
    secret: &BTreeMap<&str, &str>,
    only: Option<u64>,
    pod_name: impl Fn(u64) -> String,
) -> Vec<Proc> {
    let cm = kind(all, "ConfigMap")[0];
    let scenario = cm["data"]["scenario.yaml"]
        .as_str()
        .expect("scenario in the ConfigMap");
    let n = job["spec"]["completions"].as_u64().expect("completions");
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    let workdir = c["workingDir"].as_str().expect("workingDir");
    let mounts = c["volumeMounts"].as_sequence().expect("mounts");
    let scenario_mount = mounts
        .iter()
        .find(|m| m["name"].as_str() == Some("scenario"))
        .and_then(|m| m["mountPath"].as_str())
        .expect("scenario mount");
    let rel_mount = scenario_mount
        .strip_prefix(workdir)
        .expect("the scenario is mounted inside the working directory")
        .trim_start_matches('/');
    let command: Vec<String> = c["command"]
        .as_sequence()
        .expect("command")
        .iter()
        .chain(c["args"].as_sequence().expect("args"))
        .map(|a| a.as_str().expect("string").to_string())
        .collect();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_peakready"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    (0..n)
        .filter(|i| only.map_or(true, |o| o == *i))
        .map(|index| {
            let pod = root.join(pod_name(index));
            std::fs::create_dir_all(pod.join(rel_mount)).expect("pod dir");
            std::fs::write(pod.join(rel_mount).join("scenario.yaml"), scenario).expect("scenario");
            let mut env = BTreeMap::new();
            for e in c["env"].as_sequence().expect("env") {
                let name = e["name"].as_str().expect("name").to_string();
                let value = if let Some(v) = e["value"].as_str() {
                    v.to_string()
                } else if e["valueFrom"]["fieldRef"]["fieldPath"]
                    .as_str()
                    .is_some_and(|p| p.contains("job-completion-index"))
                {
                    index.to_string()
                } else if let Some(key) = e["valueFrom"]["secretKeyRef"]["key"].as_str() {
                    secret.get(key).expect("secret key").to_string()
                } else {
                    panic!("env {name}: unknown source {e:?}")
                };
                env.insert(name, value);
            }
            let argv: Vec<String> = command.iter().map(|a| expand(a, &env)).collect();
            let path = format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let child = Command::new(&argv[0])
                .args(&argv[1..])
                .current_dir(&pod)
                .env_clear()
                .env("PATH", path)
                .envs(&env)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a pod's command");
            Proc(child)
        })
        .collect()
}

/// `peakready collect` as the Deployment runs it, but on a loopback port; returns the
/// process and its URL.
fn start_collector(out: &Path, shards: u64, extra: &[&str]) -> (Proc, String) {
    let mut child = bin()
        .args([
            "collect",
            "--listen",
            "127.0.0.1:0",
            "--shards",
            &shards.to_string(),
            "--out",
        ])
        .arg(out)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn collect");
    let mut first = String::new();
    let mut so = BufReader::new(child.stdout.take().expect("stdout"));
    so.read_line(&mut first).expect("first line");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    // The rest of stdout is read at the end; keep the reader alive in a thread.
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut so, &mut s);
        s
    });
    REST.with(|r| r.borrow_mut().push(rest));
    (Proc(child), url)
}

thread_local! {
    static REST: std::cell::RefCell<Vec<std::thread::JoinHandle<String>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Wait (bounded) for the collector to exit; its stdout and stderr.
fn finish_collector(mut p: Proc, limit: Duration) -> (Option<i32>, String, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = p.0.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = p.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            let out = REST
                .with(|r| r.borrow_mut().pop())
                .and_then(|h| h.join().ok())
                .unwrap_or_default();
            return (status.code(), out, err);
        }
        assert!(
            started.elapsed() < limit,
            "the collector did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the two merges must agree on: every breakdown (histograms included), SLO results,
/// status and the readiness verdicts. Readiness `reasons` quote shard directories, which differ
/// by design (the collector's copies vs the pods' own), so they are left out.
fn metric_summaries(dir: &Path) -> Vec<(&'static str, Value)> {
    let r = results(dir);
    let mut readiness = r["readiness"].clone();
    strip(&mut readiness, "reasons");
    vec![
        ("regions", r["regions"].clone()),
        ("overall", r["overall"].clone()),
        ("slo", r["slo"].clone()),
        ("slo_passed", r["slo_passed"].clone()),
        ("status", r["status"].clone()),
        ("readiness", readiness),
    ]
}

fn strip(v: &mut Value, key: &str) {
    match v {
        Value::Object(o) => {
            o.remove(key);
            o.values_mut().for_each(|v| strip(v, key));
        }
        Value::Array(a) => a.iter_mut().for_each(|v| strip(v, key)),
        _ => {}
    }
}

#[test]
fn the_rendered_job_run_locally_merges_live_exactly_as_offline_merge() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start(&[]);
    let scenario = scenario_with_secret(tmp.path(), &server.url, 3, 20);
    let merged = tmp.path().join("merged");
    let (collector, url) = start_collector(&merged, 3, &[]);
    let manifests = render(tmp.path(), &scenario, 3, &["--collector-url", &url]);
    let secret = BTreeMap::from([("STAGING_TOKEN", "t0ken")]);
    let pods = start_pods(&manifests, tmp.path(), &secret);
    let (code, out, err) = finish_collector(collector, Duration::from_secs(90));
    for (i, mut p) in pods.into_iter().enumerate() {
        let status = p.0.wait().expect("pod");
        let mut e = String::new();
        if let Some(mut s) = p.0.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut s, &mut e);
        }
        assert_eq!(status.code(), Some(0), "pod {i}: {e}");
    }
    assert_eq!(code, Some(0), "collector:\n{out}\n{err}");
    // The barrier released everyone together.
    let skew: f64 = err
        .lines()
        .find_map(|l| l.split("shards woke within ").nth(1))
        .and_then(|r| r.split(" ms").next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no start skew reported:\n{err}"));
    assert!(skew < 50.0, "start skew {skew} ms:\n{err}");
    // The live line showed merged figures: 60 joins planned over the whole fleet.
    let live = err
        .lines()
        .find(|l| l.contains("merged live figures"))
        .unwrap_or_else(|| panic!("no live line:\n{err}"));
    assert!(
        live.contains("join p99") && !live.contains("join p99        –"),
        "{live}"
    );
    // The fleet's peak: 3 s at 20 joins/s, each watching 3 s, so all 60 were live together
    // only across shards (each shard held about 20).
    let peak: u64 = live
        .split("(peak ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no merged peak in {live}"));
    assert!(peak > 30, "merged peak {peak}: {live}");
    // One results directory, every report in it.
    for f in [
        "results.json",
        "report.md",
        "timeseries.csv",
        "histograms.hlog",
    ] {
        assert!(
            merged.join(f).is_file(),
            "{f} missing from {}",
            merged.display()
        );
    }
    let r = results(&merged);
    assert_eq!(r["merge"]["shard_count"], 3);
    assert_eq!(r["merge"]["missing"], serde_json::json!([]));
    let joins = r["overall"]["joins"]["attempted"].as_u64().expect("joins");
    assert!(
        (55..=65).contains(&joins),
        "3 s at 20 joins/s over 3 shards: {joins}"
    );
    // Equal to offline merge of the pods' own results directories.
    let offline = tmp.path().join("offline");
    let dirs: Vec<PathBuf> = (0..3)
        .map(|i| tmp.path().join(format!("pod-{i}/results/shard-{i}")))
        .collect();
    let o = bin()
        .arg("merge")
        .args(&dirs)
        .arg("--out")
        .arg(&offline)
        .output()
        .expect("merge");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for ((key, live), (_, off)) in metric_summaries(&merged)
        .into_iter()
        .zip(metric_summaries(&offline))
    {
        // Printed whole only when they differ, and then only that key.
        assert!(
            live == off,
            "{key} differs:\ncollector: {live}\noffline:   {off}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(merged.join("timeseries.csv")).expect("csv"),
        std::fs::read_to_string(offline.join("timeseries.csv")).expect("csv")
    );
}

/// "eu join_ms p95", "overall error_rate": how the collector names a gate in its live line.
fn gate_name(g: &Value) -> String {
    let (scope, metric, stat) = (
        g["scope"].as_str().expect("scope"),
        g["metric"].as_str().expect("metric"),
        g["stat"].as_str().expect("stat"),
    );
    if stat == "value" {
        format!("{scope} {metric}")
    } else {
        format!("{scope} {metric} {stat}")
    }
}

#[test]
fn the_collector_judges_slos_live_on_the_merged_seconds_and_ends_on_merges_verdict() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start(&[]);
    // A join in under 10 µs: a gate that breaks in every region from the first join.
    let yaml = scenario_yaml(&server.url, 3, 20, "")
        .replace("join_ms: { p95: 3000 }", "join_ms: { p95: 0.01 }");
    assert!(yaml.contains("p95: 0.01"), "fixture changed: {yaml}");
    let scenario = write(tmp.path(), "slo.yaml", &yaml);
    let merged = tmp.path().join("merged");
    let (collector, url) = start_collector(&merged, 2, &[]);
    let manifests = render(tmp.path(), &scenario, 2, &["--collector-url", &url]);
    let pods = start_pods(&manifests, tmp.path(), &BTreeMap::new());
    let (code, out, err) = finish_collector(collector, Duration::from_secs(90));
    drop(pods);
    assert_eq!(code, Some(1), "an SLO failed:\n{out}\n{err}");
    // Said while the run went, with the value, for the fleet as a whole.
    assert!(
        err.contains("collector: SLO failing on the merged data at")
            && err.contains("overall: join_ms p95 ≤"),
        "{err}"
    );
    // The live line at the end names exactly the gates merge's verdict failed, and the count
    // of those that held.
    let r = results(&merged);
    let slo = r["slo"].as_array().expect("slo");
    let failed: Vec<String> = slo
        .iter()
        .filter(|g| g["passed"] == false)
        .map(gate_name)
        .collect();
    for scope in ["eu", "sea", "overall"] {
        assert!(
            failed.contains(&format!("{scope} join_ms p95")),
            "{scope}: {failed:?}"
        );
    }
    assert!(
        slo.iter().all(|g| !g["measured"].is_null()),
        "every gate measured: {slo:?}"
    );
    let held = slo.len() - failed.len();
    let words = format!(
        "SLO {held} hold, {} fail: {}",
        failed.len(),
        failed.join(", ")
    );
    let live = err
        .lines()
        .find(|l| l.contains("merged live figures"))
        .unwrap_or_else(|| panic!("no live line:\n{err}"));
    assert!(
        live.contains(&format!("{words}  (peak")),
        "live: {live}\nmerge: {words}"
    );
    // And that verdict is offline merge's of the pods' own directories.
    let offline = tmp.path().join("offline");
    let o = bin()
        .arg("merge")
        .args((0..2).map(|i| tmp.path().join(format!("pod-{i}/results/shard-{i}"))))
        .arg("--out")
        .arg(&offline)
        .output()
        .expect("merge");
    // `merge` exits 0 whatever the verdict (it reports; the verdict is in the results).
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for ((key, live), (_, off)) in metric_summaries(&merged)
        .into_iter()
        .zip(metric_summaries(&offline))
    {
        assert!(
            live == off,
            "{key} differs:\ncollector: {live}\noffline:   {off}"
        );
    }
}

#[test]
fn abort_when_on_the_merged_seconds_stops_every_shard() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start(&[]);
    // Every join fails (no such path): the fleet's error rate is 100% from the first second.
    let yaml = scenario_yaml(&server.url, 20, 20, "")
        .replace("path: /api/v1/token", "path: /api/v1/no-such-path")
        .replace(
            "  max_joins_per_sec: 200\n",
            "  max_joins_per_sec: 200\n  abort_when: { error_rate: 0.5, after: 1s }\n",
        );
    assert!(
        yaml.contains("no-such-path") && yaml.contains("abort_when"),
        "{yaml}"
    );
    let scenario = write(tmp.path(), "down.yaml", &yaml);
    let merged = tmp.path().join("merged");
    let (collector, url) = start_collector(&merged, 2, &[]);
    let manifests = render(tmp.path(), &scenario, 2, &["--collector-url", &url]);
    let pods = start_pods(&manifests, tmp.path(), &BTreeMap::new());
    let (code, out, err) = finish_collector(collector, Duration::from_secs(90));
    drop(pods);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        err.contains("(merged over every shard): stopping every shard"),
        "{err}"
    );
    let r = results(&merged);
    assert_eq!(r["status"], "aborted", "{out}");
    assert!(
        r["notices"]
            .to_string()
            .contains("the collector stopped every shard: aborted: error rate"),
        "{}",
        r["notices"]
    );
    // Stopped long before the plan's 400 joins.
    let joins = r["overall"]["joins"]["attempted"].as_u64().expect("joins");
    assert!(
        joins < 300,
        "{joins} joins attempted: the fleet was not stopped"
    );
}

#[test]
fn a_shard_killed_mid_run_and_retried_leaves_a_partial_run_that_names_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start(&[]);
    let scenario = scenario_with_secret(tmp.path(), &server.url, 5, 20);
    let merged = tmp.path().join("merged");
    let (collector, url) = start_collector(&merged, 3, &["--shard-timeout", "2s"]);
    let manifests = render(tmp.path(), &scenario, 3, &["--collector-url", &url]);
    let secret = BTreeMap::from([("STAGING_TOKEN", "t0ken")]);
    let mut pods = start_pods(&manifests, tmp.path(), &secret);
    // Wait until the run is under way (the shard has streamed a few seconds), then kill pod 1
    // (shard 2) as a node loss would.
    let csv = tmp.path().join("pod-1/results/shard-1/timeseries.csv");
    let started = Instant::now();
    while std::fs::read_to_string(&csv).map_or(0, |t| t.lines().count()) < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "shard 2 never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    pods[1].0.kill().expect("kill pod 1");
    // Kubernetes retries the index (a new pod, the same command): the run has started, so the
    // collector refuses it (exit 2, which the Job's podFailurePolicy does not retry again).
    let mut retry = start_pods_of(&manifests, tmp.path(), &secret, Some(1), "retry").remove(0);
    let status = retry.0.wait().expect("retry");
    let mut retry_err = String::new();
    if let Some(mut e) = retry.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut retry_err);
    }
    assert_eq!(status.code(), Some(2), "{retry_err}");
    assert!(
        retry_err.contains("refused shard 2")
            && retry_err.contains("cannot join a run in progress"),
        "{retry_err}"
    );
    let (code, out, err) = finish_collector(collector, Duration::from_secs(90));
    assert_eq!(code, Some(1), "a partial run is not a pass:\n{out}\n{err}");
    assert!(out.contains("shard 2 missing"), "{out}");
    assert!(out.contains("1 restarted attempt(s) refused"), "{out}");
    assert!(
        err.contains("counts what shard(s) 2 sent before they were lost"),
        "{err}"
    );
    assert!(out.contains("INCOMPLETE"), "{out}");
    let r = results(&merged);
    assert_eq!(r["merge"]["missing"], serde_json::json!([2]));
    let notices = r["notices"].to_string();
    assert!(notices.contains("shard 2 of 3 is missing"), "{notices}");
    assert!(notices.contains("restarted attempt"), "{notices}");
    let report = std::fs::read_to_string(merged.join("report.md")).expect("report.md");
    assert!(
        report.contains("INCOMPLETE"),
        "report.md does not say the run is partial"
    );
    for p in pods.iter_mut() {
        let _ = p.0.wait();
    }
}

#[test]
fn start_at_makes_the_plans_time_zero_a_given_instant() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start(&[]);
    let scenario = write(tmp.path(), "s.yaml", &scenario_yaml(&server.url, 1, 5, ""));
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(2500);
    let at_text = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let began = Instant::now();
    let o = bin()
        .args([
            "run",
            "--seed",
            "1",
            "--drain",
            "1s",
            "--start-at",
            &at_text,
            "--out",
        ])
        .arg(tmp.path().join("out"))
        .arg(&scenario)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        began.elapsed() >= Duration::from_millis(2000),
        "did not wait for --start-at"
    );
    let r = results(&tmp.path().join("out"));
    let started: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(r["started_at"].clone()).expect("started_at");
    assert_eq!(started.timestamp_millis(), at.timestamp_millis());
    // An instant already past is refused before anything is sent.
    let o = bin()
        .args([
            "run",
            "--seed",
            "1",
            "--start-at",
            "2020-01-01T00:00:00Z",
            "--out",
        ])
        .arg(tmp.path().join("late"))
        .arg(&scenario)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--start-at"), "{}", stderr(&o));
}

#[test]
fn per_region_jobs_run_only_their_region_on_its_real_network_and_merge_into_one_run() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start(&[]);
    // eu has an emulated 40 ms network: its placed pods must not apply it.
    let regions = "  - name: eu
    weight: 60
    network: { rtt_ms: 40 }
    placement:
      node_selector: { topology.kubernetes.io/region: eu-west-1 }
      tolerations: [ { key: dedicated, operator: Equal, value: loadgen, effect: NoSchedule } ]
      shards: 2
  - name: sea
    weight: 40
    placement: { node_selector: { topology.kubernetes.io/region: ap-southeast-3 } }";
    let yaml = scenario_yaml(&server.url, 3, 20, "").replace(
        "  - { name: eu, weight: 60 }\n  - { name: sea, weight: 40 }",
        regions,
    );
    assert!(yaml.contains("placement"), "fixture changed: {yaml}");
    let scenario = write(tmp.path(), "regions.yaml", &yaml);
    let merged = tmp.path().join("merged");
    let (collector, url) = start_collector(&merged, 3, &[]);
    let manifests = render(
        tmp.path(),
        &scenario,
        3,
        &["--per-region", "--collector-url", &url],
    );
    let all = docs(&manifests);
    let jobs = kind(&all, "Job");
    assert_eq!(jobs.len(), 2, "one Job per region");
    let job_named = |suffix: &str| {
        jobs.iter()
            .copied()
            .find(|j| {
                j["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with(suffix))
            })
            .expect("region job")
    };
    let eu = job_named("-eu");
    assert_eq!(eu["spec"]["completions"].as_u64(), Some(2));
    let pod = &eu["spec"]["template"]["spec"];
    assert_eq!(
        pod["nodeSelector"]["topology.kubernetes.io/region"].as_str(),
        Some("eu-west-1")
    );
    assert_eq!(pod["tolerations"][0]["key"].as_str(), Some("dedicated"));
    if let Some(tool) = validator() {
        let files: Vec<PathBuf> = std::fs::read_dir(&manifests)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        let o = Command::new(&tool)
            .args(["--strict", "-k", "1.35.0"])
            .args(&files)
            .output()
            .expect("kubernetes-validate");
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    }
    let sea_job = job_named("-sea")["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let pods = start_pods(&manifests, tmp.path(), &BTreeMap::new());
    let (code, out, err) = finish_collector(collector, Duration::from_secs(90));
    drop(pods);
    assert!(code.is_some(), "{out}\n{err}");
    let r = results(&merged);
    assert_eq!(r["merge"]["missing"], serde_json::json!([]), "{out}\n{err}");
    let joins = |v: &Value, region: &str| {
        v["regions"]
            .as_array()
            .expect("regions")
            .iter()
            .find(|b| b["name"] == region)
            .and_then(|b| b["joins"]["attempted"].as_u64())
            .expect("joins")
    };
    // 3 s at 20 joins/s: 36 eu, 24 sea, every one run by its own region's pods.
    assert!(
        (33..=39).contains(&joins(&r, "eu")),
        "eu {}",
        joins(&r, "eu")
    );
    assert!(
        (21..=27).contains(&joins(&r, "sea")),
        "sea {}",
        joins(&r, "sea")
    );
    let sea_pod = results(&tmp.path().join(format!("pod-{sea_job}-0/results/shard-0")));
    assert_eq!(joins(&sea_pod, "eu"), 0, "the sea pod ran eu viewers");
    assert!(joins(&sea_pod, "sea") > 0);
    // eu's pods measured the real (loopback) network: no emulated 40 ms on connect.
    let eu_connect = r["regions"][0]["metrics"]["connect_ms"]["p99"]
        .as_f64()
        .expect("eu connect p99");
    assert!(
        eu_connect < 40.0,
        "eu connect p99 {eu_connect} ms: emulation was on"
    );
    assert!(
        r["notices"].to_string().contains("network emulation off"),
        "{}",
        r["notices"]
    );
}
