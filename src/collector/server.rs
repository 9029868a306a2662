//! The collector's state and its HTTP routes: registrations and the start barrier, each
//! shard's streamed files (appended to `OUT/shards/I/`), the live merge, the stop request.
//! The stages around it (release, watch for lost shards, merge) are in `cmd::collect`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State as Ext};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::live::LiveMerge;
use super::proto::{Data, DataReply, Identity, Refusal, Register, RegisterReply};

/// What became of one shard index.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Registered, not released yet.
    Waiting,
    /// Released and streaming.
    Running,
    /// Sent its results.json.
    Finished,
    /// Ended without results.json (it said why).
    Failed(String),
    /// Silent for too long, or never came: why.
    Lost(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct ShardState {
    pub index: u64,
    #[serde(skip)]
    pub attempt: String,
    pub fate: Fate,
    /// Later attempts refused because the run had started (a pod restarted by Kubernetes).
    pub refused_restarts: u32,
    pub wake_late_ms: Option<f64>,
    #[serde(skip)]
    pub last_seen: Instant,
    pub seconds_received: u64,
}

pub struct Collector {
    pub expected: u64,
    /// `OUT/shards`: one directory per shard, byte copies of its files.
    pub shards_dir: PathBuf,
    pub identity: Option<Identity>,
    pub first_registration: Option<Instant>,
    pub start_at: Option<DateTime<Utc>>,
    pub shards: BTreeMap<u64, ShardState>,
    pub live: LiveMerge,
    pub stop: Option<String>,
    /// The merged results directory, once written (served by `GET /v1/results`).
    pub results: Option<PathBuf>,
}

#[derive(Clone)]
pub struct Shared(Arc<Mutex<Collector>>);

impl Shared {
    pub fn new(expected: u64, shards_dir: PathBuf) -> Shared {
        Shared(Arc::new(Mutex::new(Collector {
            expected,
            shards_dir,
            identity: None,
            first_registration: None,
            start_at: None,
            shards: BTreeMap::new(),
            live: LiveMerge::new(),
            stop: None,
            results: None,
        })))
    }

    pub fn lock(&self) -> MutexGuard<'_, Collector> {
        // A handler that panicked mid-update leaves counters, not broken invariants.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/register", post(register))
        .route("/v1/shards/{index}/data", post(data))
        .route("/v1/results", get(results_list))
        .route("/v1/results/{*file}", get(results_file))
        .with_state(state)
}

fn refuse(error: String) -> Response {
    (StatusCode::CONFLICT, Json(Refusal { error })).into_response()
}

async fn status(Ext(s): Ext<Shared>) -> Response {
    let st = s.lock();
    Json(serde_json::json!({
        "expected": st.expected,
        "start_at": st.start_at,
        "stop": st.stop,
        "shards": st.shards.values().collect::<Vec<_>>(),
        "results": st.results.as_ref().map(|p| p.display().to_string()),
    }))
    .into_response()
}

async fn register(Ext(s): Ext<Shared>, reg: Result<Json<Register>, JsonRejection>) -> Response {
    // Shards and collector are one binary; a registration this build cannot read comes from
    // another peakready (another scenario model), and the shard is told so rather than
    // retrying until it gives up on an HTTP 422.
    let Json(reg) = match reg {
        Ok(reg) => reg,
        Err(e) => {
            return refuse(format!(
                "this collector (peakready {}) cannot read the registration ({}): run the shards and the collector from the same peakready image",
                env!("CARGO_PKG_VERSION"),
                e.body_text()
            ))
        }
    };
    let mut st = s.lock();
    let n = st.expected;
    if reg.index == 0 || reg.index > n {
        return refuse(format!(
            "shard index {} is outside 1..={n}: this collector was started with --shards {n}",
            reg.index
        ));
    }
    if reg.identity.shard_count != n {
        return refuse(format!(
            "the shard runs 1/{} of the plan but this collector expects {n} shards (--shards {n}); render and collect with the same count",
            reg.identity.shard_count
        ));
    }
    if let Some(first) = &st.identity {
        if let Some(field) = first.difference(&reg.identity) {
            return refuse(format!(
                "its {field} differs from the shards already registered: every shard must run the same scenario file with the same --seed"
            ));
        }
    } else {
        st.identity = Some(reg.identity.clone());
    }
    let start_at = st.start_at;
    let registered = st.shards.len() as u64;
    match (st.shards.get_mut(&reg.index), start_at) {
        (Some(sh), Some(at)) if sh.attempt == reg.attempt => Json(RegisterReply {
            start_at: Some(at),
            registered,
            expected: n,
        })
        .into_response(),
        (existing, Some(at)) => {
            if let Some(sh) = existing {
                sh.refused_restarts += 1;
            }
            eprintln!(
                "collector: refused shard {} (a new attempt after the start): the run started at {} without it",
                reg.index,
                at.to_rfc3339()
            );
            refuse(format!(
                "the run started at {} and shard {}'s slice began then: a new attempt cannot join a run in progress. \
                 The merged results will name shard {} as missing",
                at.to_rfc3339(),
                reg.index,
                reg.index
            ))
        }
        (existing, None) => {
            if existing.as_ref().is_some_and(|e| e.attempt != reg.attempt) {
                eprintln!(
                    "collector: shard {} registered again (a new attempt before the start): the new one will run",
                    reg.index
                );
            }
            let first_time = existing.is_none();
            st.shards.insert(
                reg.index,
                ShardState {
                    index: reg.index,
                    attempt: reg.attempt,
                    fate: Fate::Waiting,
                    refused_restarts: 0,
                    wake_late_ms: None,
                    last_seen: Instant::now(),
                    seconds_received: 0,
                },
            );
            if first_time {
                eprintln!(
                    "collector: shard {} registered ({} of {n})",
                    reg.index,
                    st.shards.len()
                );
            }
            st.first_registration.get_or_insert_with(Instant::now);
            Json(RegisterReply {
                start_at: None,
                registered: st.shards.len() as u64,
                expected: n,
            })
            .into_response()
        }
    }
}

async fn data(Ext(s): Ext<Shared>, UrlPath(index): UrlPath<u64>, Json(d): Json<Data>) -> Response {
    let mut guard = s.lock();
    let st = &mut *guard;
    let Some(sh) = st.shards.get_mut(&index) else {
        return refuse(format!(
            "shard {index} never registered with this collector"
        ));
    };
    if sh.attempt != d.attempt {
        return refuse(format!(
            "this is not the attempt of shard {index} that was released (a restarted process?)"
        ));
    }
    match &sh.fate {
        Fate::Running => {}
        Fate::Lost(why) => {
            return refuse(format!(
                "shard {index} was counted as lost ({why}); its local results directory can be merged with `peakready merge`"
            ))
        }
        Fate::Waiting | Fate::Finished | Fate::Failed(_) => {
            return refuse(format!("shard {index} is not running"))
        }
    }
    sh.last_seen = Instant::now();
    if let Some(late) = d.wake_late_ms {
        sh.wake_late_ms = Some(late);
    }
    let dir = st.shards_dir.join(index.to_string());
    if let Err(e) = append(&dir, &d) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(Refusal {
                error: format!("the collector could not store shard {index}'s data: {e}"),
            }),
        )
            .into_response();
    }
    sh.seconds_received += d.csv.lines().filter(|l| l.contains(",all,")).count() as u64;
    st.live.add(index, &d.csv, &d.hlog);
    if d.results.is_some() {
        sh.fate = Fate::Finished;
        eprintln!("collector: shard {index} finished");
    } else if let Some(why) = d.failed {
        eprintln!("collector: shard {index} ended without results: {why}");
        sh.fate = Fate::Failed(why);
    }
    Json(DataReply {
        stop: st.stop.clone(),
    })
    .into_response()
}

fn append(dir: &Path, d: &Data) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let open = |name: &str| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(name))
    };
    if !d.csv.is_empty() {
        open("timeseries.csv")?.write_all(d.csv.as_bytes())?;
    }
    if !d.hlog.is_empty() {
        open("histograms.hlog")?.write_all(d.hlog.as_bytes())?;
    }
    if let Some(r) = &d.results {
        crate::report::write_atomic(&dir.join("results.json"), r.as_bytes())
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    }
    Ok(())
}

async fn results_list(Ext(s): Ext<Shared>) -> Response {
    let Some(dir) = s.lock().results.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "the run is not over: no results yet\n",
        )
            .into_response();
    };
    let mut files = Vec::new();
    list(&dir, &dir, &mut files);
    files.sort();
    (files.join("\n") + "\n").into_response()
}

fn list(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            list(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.display().to_string());
        }
    }
}

async fn results_file(Ext(s): Ext<Shared>, UrlPath(file): UrlPath<String>) -> Response {
    let Some(dir) = s.lock().results.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "the run is not over: no results yet\n",
        )
            .into_response();
    };
    let rel = Path::new(&file);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return (
            StatusCode::BAD_REQUEST,
            "a path inside the results directory\n",
        )
            .into_response();
    }
    match tokio::fs::read(dir.join(rel)).await {
        Ok(bytes) => bytes.into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "no such file; GET /v1/results lists them\n",
        )
            .into_response(),
    }
}

/// Release the barrier when everyone is here, or at the deadline with whoever is.
/// Returns the start instant and the indexes that missed it.
pub fn maybe_release(
    st: &mut Collector,
    lead: Duration,
    deadline: Duration,
) -> Option<(DateTime<Utc>, Vec<u64>)> {
    if st.start_at.is_some() {
        return None;
    }
    let first = st.first_registration?;
    let all_here = st.shards.len() as u64 == st.expected;
    if !all_here && first.elapsed() < deadline {
        return None;
    }
    let at = Utc::now() + chrono::Duration::from_std(lead).unwrap_or_default();
    st.start_at = Some(at);
    for sh in st.shards.values_mut() {
        sh.fate = Fate::Running;
        // Silence is counted from the start, not from registration.
        sh.last_seen = Instant::now() + lead;
    }
    let missing: Vec<u64> = (1..=st.expected)
        .filter(|i| !st.shards.contains_key(i))
        .collect();
    for i in &missing {
        st.shards.insert(
            *i,
            ShardState {
                index: *i,
                attempt: String::new(),
                fate: Fate::Lost(format!(
                    "not registered when the start barrier's deadline ({} s after the first shard) passed",
                    deadline.as_secs()
                )),
                refused_restarts: 0,
                wake_late_ms: None,
                last_seen: Instant::now(),
                seconds_received: 0,
            },
        );
    }
    Some((at, missing))
}

/// Mark running shards silent for longer than `timeout` as lost; returns those just marked.
pub fn mark_silent(st: &mut Collector, timeout: Duration) -> Vec<u64> {
    let mut lost = Vec::new();
    for sh in st.shards.values_mut() {
        if sh.fate == Fate::Running && sh.last_seen.elapsed() > timeout {
            sh.fate = Fate::Lost(format!(
                "no data for {} s after {} s of the run (process or pod died?)",
                timeout.as_secs(),
                sh.seconds_received
            ));
            lost.push(sh.index);
        }
    }
    lost
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            scenario: "s".into(),
            seed: 1,
            shard_count: 2,
            resolved: crate::scenario::Scenario::fixture(),
            regions: vec!["eu".into()],
            phases: Vec::new(),
            planned_s: 1.0,
            abort_when: None,
            slo: Vec::new(),
        }
    }

    async fn reg(s: &Shared, index: u64, attempt: &str) -> StatusCode {
        reg_as(s, index, attempt, identity()).await.0
    }

    async fn reg_as(
        s: &Shared,
        index: u64,
        attempt: &str,
        identity: Identity,
    ) -> (StatusCode, String) {
        let r = Register {
            index,
            attempt: attempt.into(),
            identity,
        };
        said(register(Ext(s.clone()), Ok(Json(r))).await).await
    }

    async fn said(r: Response) -> (StatusCode, String) {
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_shard_of_another_scenario_or_another_build_is_refused_in_words() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = Shared::new(2, dir.path().to_path_buf());
        assert_eq!(reg(&s, 1, "a").await, StatusCode::OK);
        // Another machine: another path to the file, other source addresses. The same run.
        let mut elsewhere = identity();
        elsewhere.resolved.source = "/elsewhere/fixture.yaml".into();
        elsewhere.resolved.target.source_addrs = vec!["127.0.0.2".parse().expect("ip")];
        assert_eq!(reg_as(&s, 2, "b", elsewhere).await.0, StatusCode::OK);

        let mut edited = identity();
        edited.resolved.load.max_viewers += 1;
        let (status, why) = reg_as(&s, 2, "c", edited).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(
            why.contains("its scenario content (`load`) differs"),
            "{why}"
        );

        // What another peakready sends: a registration whose scenario this build cannot read.
        use axum::extract::FromRequest;
        let mut body = serde_json::to_value(Register {
            index: 2,
            attempt: "d".into(),
            identity: identity(),
        })
        .expect("encodes");
        body["identity"]["resolved"]["load"] = "a load section of another shape".into();
        let req = http::Request::post("/v1/register")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        let rejection = Json::<Register>::from_request(req, &())
            .await
            .expect_err("not this build's registration");
        let (status, why) = said(register(Ext(s.clone()), Err(rejection)).await).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(
            why.contains("cannot read the registration") && why.contains("same peakready image"),
            "{why}"
        );
    }

    async fn send(s: &Shared, index: u64, attempt: &str) -> StatusCode {
        let d = Data {
            attempt: attempt.into(),
            ..Data::default()
        };
        data(Ext(s.clone()), UrlPath(index), Json(d)).await.status()
    }

    /// Kubernetes retries a pod with the same index: before the start the new attempt takes
    /// the slot; after it the attempt is refused and counted, and the first one runs on.
    #[tokio::test]
    async fn a_restart_before_the_start_replaces_the_attempt_and_one_after_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = Shared::new(2, dir.path().to_path_buf());
        assert_eq!(reg(&s, 1, "first").await, StatusCode::OK);
        assert_eq!(reg(&s, 1, "retry").await, StatusCode::OK);
        assert_eq!(reg(&s, 2, "only").await, StatusCode::OK);
        let (_, missing) = maybe_release(&mut s.lock(), Duration::ZERO, Duration::from_secs(60))
            .expect("everyone registered: released");
        assert!(missing.is_empty());
        assert_eq!(send(&s, 1, "first").await, StatusCode::CONFLICT);
        assert_eq!(send(&s, 1, "retry").await, StatusCode::OK);
        assert_eq!(reg(&s, 2, "restarted").await, StatusCode::CONFLICT);
        assert_eq!(send(&s, 2, "restarted").await, StatusCode::CONFLICT);
        assert_eq!(send(&s, 2, "only").await, StatusCode::OK);
        let st = s.lock();
        assert_eq!(st.shards[&1].refused_restarts, 0);
        assert_eq!(st.shards[&2].refused_restarts, 1);
        assert_eq!(st.shards[&2].fate, Fate::Running);
    }
}
