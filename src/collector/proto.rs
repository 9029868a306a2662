//! Messages between shards and the collector (JSON bodies; errors are HTTP 409 with
//! [`Refusal`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::plan::PlannedPhase;
use crate::scenario::{Scenario, SloGate};

/// What makes shards slices of one run: the collector refuses a shard whose identity differs
/// from the first one's ([`Identity::difference`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub scenario: String,
    pub seed: u64,
    pub shard_count: u64,
    /// The resolved scenario, typed as in results.json (header values never sent).
    pub resolved: Scenario,
    pub regions: Vec<String>,
    pub phases: Vec<PlannedPhase>,
    pub planned_s: f64,
    /// `load.abort_when`: (error rate, not before this many seconds).
    pub abort_when: Option<(f64, f64)>,
    /// `slo:` gates, judged live on the merged seconds.
    #[serde(default)]
    pub slo: Vec<SloGate>,
}

impl Identity {
    /// The first part where two shards' identities differ, in words; what may differ per
    /// machine (the scenario file's path, local source addresses) is not compared, as `merge`
    /// does not.
    pub fn difference(&self, other: &Identity) -> Option<String> {
        if self.scenario != other.scenario {
            Some("scenario name".into())
        } else if self.seed != other.seed {
            Some("--seed".into())
        } else if self.shard_count != other.shard_count {
            Some("shard count".into())
        } else if self.regions != other.regions || self.phases != other.phases {
            Some("regions or phases".into())
        } else {
            crate::scenario::differing_sections(&self.resolved, &other.resolved, PER_MACHINE)
                .into_iter()
                .next()
                .map(|section| format!("scenario content (`{section}`)"))
        }
    }
}

/// What may differ between the machines of one run: the path the scenario file was given by
/// and the local source addresses (`scenario::differing_sections` ignores these).
pub const PER_MACHINE: &[&str] = &["source", "target.source_addrs"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Register {
    /// 1-based shard index.
    pub index: u64,
    /// Random per process: a pod restarted by Kubernetes registers with a new attempt.
    pub attempt: String,
    pub identity: Identity,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterReply {
    /// `None`: keep polling. `Some`: time zero of the run, shared by every shard.
    pub start_at: Option<DateTime<Utc>>,
    pub registered: u64,
    pub expected: u64,
}

/// Once a second, and a last time with `results`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Data {
    pub attempt: String,
    /// How late this shard woke after the shared start, in milliseconds (first message).
    pub wake_late_ms: Option<f64>,
    /// Bytes appended to `timeseries.csv` since the last message (whole lines).
    pub csv: String,
    /// Bytes appended to `histograms.hlog` since the last message (whole lines).
    pub hlog: String,
    /// The last message: results.json as written.
    pub results: Option<String>,
    /// The last message of a shard that could not write results.json: why.
    pub failed: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DataReply {
    /// The fleet must stop (merged abort_when, Ctrl-C at the collector): the reason.
    pub stop: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refusal {
    pub error: String,
}
