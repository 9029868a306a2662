//! Kubernetes manifests for a sharded run: what `peakready k8s render` writes.
//!
//! One scenario becomes plain YAML that `kubectl apply -f DIR` accepts with nothing else
//! installed: the scenario in a ConfigMap, an Indexed Job of generator pods (one shard each,
//! `JOB_COMPLETION_INDEX` → `--shard I/N --shard-base 0`), and the collector (`peakready
//! collect`) as a Deployment behind a Service. `${VAR}`s of the scenario come from a Secret the
//! user creates; only its name and keys are written, never a value.
//!
//! Every pod runs in a working directory (`/work`, an emptyDir) holding the scenario at
//! `scenario/scenario.yaml` (the ConfigMap mounted there), so the container's command line uses
//! relative paths only: a test runs exactly those lines as local processes in a temp directory
//! laid out the same way.

pub mod sizing;

use serde_json::{json, Value};

pub use sizing::Sizing;

/// Port the collector listens on inside its pod and behind its Service.
pub const COLLECTOR_PORT: u16 = 7000;
/// Where pods work: an emptyDir; the scenario ConfigMap is mounted at `scenario/` under it.
pub const WORKDIR: &str = "/work";
pub const SCENARIO_PATH: &str = "scenario/scenario.yaml";
/// Wide ephemeral port range: a namespaced sysctl in Kubernetes' "safe" set, allowed on every
/// cluster without kubelet flags. The kernel default (32768-60999) caps one source address at
/// ~28k connections to one target.
pub const PORT_RANGE: &str = "1024 65535";
/// Retries per index for infrastructure failures (OOM kill, node loss, image pull…).
pub const BACKOFF_LIMIT_PER_INDEX: u32 = 2;
/// Non-root user of the image (see Dockerfile).
pub const RUN_AS_USER: u64 = 65532;

/// One Indexed Job: all shards, or one region's shards with `--per-region`.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub name: String,
    /// `Some(region)` with `--per-region`: pods run `--region NAME`.
    pub region: Option<String>,
    pub shards: u64,
    pub sizing: Sizing,
    /// `regions[].placement`: node selector and tolerations (already JSON).
    pub node_selector: Option<Value>,
    pub tolerations: Option<Value>,
    /// `placement.context`: the kubectl context this Job is applied with.
    pub context: Option<String>,
}

/// Everything needed to write the manifests.
#[derive(Debug, Clone)]
pub struct Render {
    /// DNS-1123 prefix of every object name (`peakready-<scenario>`).
    pub prefix: String,
    pub namespace: Option<String>,
    pub image: String,
    pub seed: u64,
    /// The scenario file as written (the ConfigMap's content; `${VAR}`s stay unresolved).
    pub scenario_text: String,
    /// `${VAR}` names the scenario reads: env from the Secret `<prefix>-secrets`.
    pub secret_vars: Vec<String>,
    /// Other `${VAR}`s, with the values this render used (configuration, not secrets).
    pub config_env: Vec<(String, String)>,
    pub collector_url: String,
    /// Shards in total (every job's together): the collector's barrier count.
    pub total_shards: u64,
    pub jobs: Vec<JobSpec>,
}

/// One manifest file: its name and YAML text (comments first).
pub struct Manifest {
    pub file: String,
    pub text: String,
}

/// A DNS-1123 label from any text: lower case, `a-z0-9-`, at most `max` characters.
pub fn dns_label(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out.trim_matches('-').chars().take(max).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("run");
    }
    out
}

impl Render {
    pub fn secret_name(&self) -> String {
        format!("{}-secrets", self.prefix)
    }

    pub fn configmap_name(&self) -> String {
        format!("{}-scenario", self.prefix)
    }

    pub fn collector_name(&self) -> String {
        format!("{}-collector", self.prefix)
    }

    fn metadata(&self, name: &str, component: &str) -> Value {
        let mut m = json!({
            "name": name,
            "labels": self.labels(component),
        });
        if let Some(ns) = &self.namespace {
            m["namespace"] = json!(ns);
        }
        m
    }

    fn labels(&self, component: &str) -> Value {
        json!({
            "app.kubernetes.io/name": "peakready",
            "app.kubernetes.io/instance": self.prefix,
            "app.kubernetes.io/component": component,
        })
    }

    pub fn manifests(&self) -> Vec<Manifest> {
        let mut out = Vec::new();
        if let Some(ns) = &self.namespace {
            out.push(Manifest {
                file: "00-namespace.yaml".into(),
                text: yaml(
                    "",
                    &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                ),
            });
        }
        out.push(Manifest {
            file: "01-scenario-configmap.yaml".into(),
            text: yaml(
                "# The scenario, unchanged: ${VAR}s are resolved in each pod from the Secret below.\n",
                &json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": self.metadata(&self.configmap_name(), "scenario"),
                    "data": {"scenario.yaml": self.scenario_text},
                }),
            ),
        });
        out.push(Manifest {
            file: "02-collector.yaml".into(),
            text: format!(
                "{}---\n{}",
                yaml(
                    &format!(
                        "# The collector: start barrier for all {} shards, live merge, the merged results\n\
                         # directory (served at /v1/results once the run is over).\n",
                        self.total_shards
                    ),
                    &self.collector_deployment()
                ),
                yaml("", &self.collector_service())
            ),
        });
        for (i, job) in self.jobs.iter().enumerate() {
            out.push(Manifest {
                file: format!("{:02}-job-{}.yaml", 3 + i, job.name),
                text: yaml(&self.job_comment(job), &self.job(job)),
            });
        }
        out
    }

    fn job_comment(&self, job: &JobSpec) -> String {
        let what = match &job.region {
            Some(r) => format!(
                "only region {r}'s viewers: pod I runs slice I+1 of {} of that region",
                job.shards
            ),
            None => "pod I runs shard I+1 of the plan".to_string(),
        };
        let mut c = format!(
            "# Indexed Job: {} generator pods, {what} (seed {}).\n\
             # Exit 1 (an SLO failed or the run aborted), 2 (bad input) and 3 (results incomplete) are\n\
             # verdicts, not accidents: the index fails without a retry. Anything else (OOM kill, node\n\
             # lost, eviction) is retried up to {BACKOFF_LIMIT_PER_INDEX} times; a retry after the start barrier\n\
             # released is refused by the collector and the merged run names that shard as missing.\n",
            job.shards, self.seed
        );
        if !self.secret_vars.is_empty() {
            c.push_str(&format!(
                "# Create the Secret first (values never appear in these files):\n\
                 #   kubectl create secret generic {}{} {}\n",
                self.secret_name(),
                self.namespace
                    .as_ref()
                    .map(|n| format!(" -n {n}"))
                    .unwrap_or_default(),
                self.secret_vars
                    .iter()
                    .map(|v| format!("--from-literal={v}=..."))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        c.push_str(&job.sizing.comment());
        c
    }

    /// The generator container's argument list (after `peakready`).
    pub fn run_args(&self, job: &JobSpec) -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            SCENARIO_PATH,
            "--shard",
            &format!("$(JOB_COMPLETION_INDEX)/{}", job.shards),
            "--shard-base",
            "0",
            "--seed",
            &self.seed.to_string(),
            "--collector",
            "$(PEAKREADY_COLLECTOR)",
            "--out",
            "results/shard-$(JOB_COMPLETION_INDEX)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(region) = &job.region {
            let layout: Vec<String> = self
                .jobs
                .iter()
                .filter_map(|j| Some(format!("{}={}", j.region.as_ref()?, j.shards)))
                .collect();
            args.extend([
                "--region".into(),
                region.clone(),
                "--region-shards".into(),
                layout.join(","),
            ]);
        }
        args
    }

    fn job(&self, job: &JobSpec) -> Value {
        let mut env = vec![
            json!({
                "name": "JOB_COMPLETION_INDEX",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}
            }),
            json!({"name": "PEAKREADY_COLLECTOR", "value": self.collector_url}),
            // Logs read as CI logs: one progress line every few seconds, no terminal bar.
            json!({"name": "CI", "value": "1"}),
        ];
        for (name, value) in &self.config_env {
            env.push(json!({"name": name, "value": value}));
        }
        for var in &self.secret_vars {
            env.push(json!({
                "name": var,
                "valueFrom": {"secretKeyRef": {"name": self.secret_name(), "key": var}}
            }));
        }
        let mut labels = self.labels("generator");
        if let Some(r) = &job.region {
            labels["peakready.dev/region"] = json!(dns_label(r, 63));
        }
        let mut pod = json!({
            "restartPolicy": "Never",
            "securityContext": self.pod_security(true),
            "containers": [{
                "name": "peakready",
                "image": self.image,
                "imagePullPolicy": "IfNotPresent",
                "workingDir": WORKDIR,
                "command": ["peakready"],
                "args": self.run_args(job),
                "env": env,
                "resources": {
                    "requests": {
                        "cpu": format!("{}m", job.sizing.cpu_request_millis),
                        "memory": format!("{}Mi", job.sizing.memory_request_mib),
                    },
                    "limits": {
                        "cpu": format!("{}m", job.sizing.cpu_limit_millis),
                        "memory": format!("{}Mi", job.sizing.memory_limit_mib),
                    },
                },
                "securityContext": container_security(),
                "volumeMounts": self.mounts(),
            }],
            "volumes": self.volumes(),
        });
        if let Some(sel) = &job.node_selector {
            pod["nodeSelector"] = sel.clone();
        }
        if let Some(t) = &job.tolerations {
            pod["tolerations"] = t.clone();
        }
        let mut meta = self.metadata(&job.name, "generator");
        meta["labels"] = labels.clone();
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta,
            "spec": {
                "completionMode": "Indexed",
                "completions": job.shards,
                "parallelism": job.shards,
                "backoffLimitPerIndex": BACKOFF_LIMIT_PER_INDEX,
                "podFailurePolicy": {"rules": [
                    {"action": "FailIndex", "onExitCodes": {"containerName": "peakready", "operator": "In", "values": [1, 2, 3]}},
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                ]},
                "ttlSecondsAfterFinished": 86400,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": pod,
                },
            },
        })
    }

    fn collector_deployment(&self) -> Value {
        let name = self.collector_name();
        let labels = self.labels("collector");
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": self.metadata(&name, "collector"),
            "spec": {
                "replicas": 1,
                // Two collectors would each hold half the registrations.
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "securityContext": self.pod_security(false),
                        "containers": [{
                            "name": "collector",
                            "image": self.image,
                            "imagePullPolicy": "IfNotPresent",
                            "workingDir": WORKDIR,
                            "command": ["peakready"],
                            "args": self.collect_args(),
                            "env": [{"name": "CI", "value": "1"}],
                            "ports": [{"name": "collector", "containerPort": COLLECTOR_PORT}],
                            "readinessProbe": {"httpGet": {"path": "/v1/status", "port": COLLECTOR_PORT}, "periodSeconds": 2},
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "128Mi"},
                                "limits": {"cpu": "1", "memory": "512Mi"},
                            },
                            "securityContext": container_security(),
                            "volumeMounts": [{"name": "work", "mountPath": WORKDIR}],
                        }],
                        "volumes": [{"name": "work", "emptyDir": {}}],
                    },
                },
            },
        })
    }

    /// The collector container's argument list (after `peakready`).
    pub fn collect_args(&self) -> Vec<String> {
        vec![
            "collect".into(),
            "--listen".into(),
            format!("0.0.0.0:{COLLECTOR_PORT}"),
            "--shards".into(),
            self.total_shards.to_string(),
            "--out".into(),
            "results/merged".into(),
            "--keep-serving".into(),
        ]
    }

    fn collector_service(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self.metadata(&self.collector_name(), "collector"),
            "spec": {
                "selector": self.labels("collector"),
                "ports": [{"name": "collector", "port": COLLECTOR_PORT, "targetPort": COLLECTOR_PORT}],
            },
        })
    }

    fn pod_security(&self, generator: bool) -> Value {
        let mut s = json!({
            "runAsNonRoot": true,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        });
        if generator {
            s["sysctls"] = json!([{"name": "net.ipv4.ip_local_port_range", "value": PORT_RANGE}]);
        }
        s
    }

    fn mounts(&self) -> Value {
        json!([
            {"name": "work", "mountPath": WORKDIR},
            {"name": "scenario", "mountPath": format!("{WORKDIR}/scenario"), "readOnly": true},
        ])
    }

    fn volumes(&self) -> Value {
        json!([
            {"name": "work", "emptyDir": {}},
            {"name": "scenario", "configMap": {"name": self.configmap_name()}},
        ])
    }
}

fn container_security() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": {"drop": ["ALL"]},
    })
}

fn yaml(comment: &str, value: &Value) -> String {
    let body = serde_yaml::to_string(value).unwrap_or_default();
    format!("{comment}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_dns_safe() {
        assert_eq!(dns_label("Gala Night_2026!", 63), "gala-night-2026");
        assert_eq!(dns_label("---", 63), "run");
        assert_eq!(dns_label("abcdef-ghij", 7), "abcdef");
    }
}
