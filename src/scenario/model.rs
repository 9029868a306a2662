//! The resolved scenario: what the rest of peakready sees after parsing and validation.
//!
//! Nothing here is a raw string from the YAML that still needs interpreting: durations are
//! `Duration`s, URLs are parsed, `${VAR}`s are substituted, presets are expanded. Everything
//! after `scenario/` (plan, engine, report) reads only these types.
//!
//! results.json carries the scenario as run (`scenario.resolved`), serialised from these types
//! and read back into them, so `report DIR`, `compare` and `merge` take a `&Scenario`, never
//! loose JSON: a renamed field is a compile error here and a refused file there, not a silent
//! default. What is `#[serde(skip)]` (header values, data-feeder rows) is never written and
//! reads back empty.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::metrics::{Metric, Stat};

/// A parsed, validated scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    /// The file it came from, for messages and results.json.
    pub source: String,
    pub event: Option<Event>,
    pub target: Target,
    pub regions: Vec<Region>,
    pub load: Load,
    pub viewer: Viewer,
    pub publishers: Option<Publishers>,
    pub slo: Slo,
    pub alerts: Option<Alerts>,
    /// Values that came from `${VAR}`s, env files or `--set`, with where each came from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
    /// `peakready capacity`'s search; ignored by `run`.
    pub search: Option<Search>,
}

/// A value the file did not hold as written: `${VAR}` (environment, env file or default) or
/// `--set`. Secrets (variables used in headers) show as `<hidden>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Override {
    /// Key path, like `load.phases[1].joins_per_sec`.
    pub key: String,
    pub value: String,
    /// `${STAGING_URL} from the environment`, `--set #2`, …
    pub from: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Event {
    pub name: String,
    /// RFC 3339 timestamp as written.
    pub starts_at: Option<String>,
    pub expected_peak_viewers: Option<u64>,
    pub expected_peak_joins_per_sec: Option<f64>,
    /// Capacity target = forecast × headroom; defaults to 1.0.
    pub headroom: f64,
    pub support_tier: SupportTier,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SupportTier {
    Basic,
    Enterprise,
    Strategic,
}

/// Where load goes. `base_url == Embedded` means "start the built-in staging server".
///
/// `Debug` is written by hand so header values (possibly secrets) print as `<redacted>`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Target {
    pub base_url: BaseUrl,
    /// Hosts load may be sent to. Always contains the embedded server's loopback host when used.
    pub allow_hosts: Vec<String>,
    /// Extra request headers. Values may hold secrets from `${VAR}`: never serialize or print them.
    #[serde(skip)]
    pub headers: Vec<(String, String)>,
    /// Header names only, safe to show.
    pub header_names: Vec<String>,
    pub insecure_tls: bool,
    /// `target.tls.resume`: new connections resume an earlier TLS session (as an app that
    /// connected before does) instead of a full handshake each (a new device).
    pub tls_resume: bool,
    #[serde(with = "crate::scenario::duration::serde_secs")]
    #[cfg_attr(test, schemars(with = "f64"))]
    pub timeout: Duration,
    /// Local source addresses to spread connections over (issue 4); empty = let the OS choose.
    pub source_addrs: Vec<std::net::IpAddr>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("Target")
            .field("base_url", &self.base_url)
            .field("allow_hosts", &self.allow_hosts)
            .field("headers", &headers)
            .field("header_names", &self.header_names)
            .field("insecure_tls", &self.insecure_tls)
            .field("tls_resume", &self.tls_resume)
            .field("timeout", &self.timeout)
            .field("source_addrs", &self.source_addrs)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum BaseUrl {
    Embedded,
    Url(Url),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Region {
    pub name: String,
    /// Share of arrivals, normalised so all regions sum to 1.0.
    pub share: f64,
    /// Weight as written.
    pub weight: f64,
    pub network: Option<NetworkProfile>,
    /// Regional edge; `None` = target.base_url.
    pub base_url: Option<BaseUrl>,
    /// Kubernetes placement of this region's generators (`k8s render --per-region`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
}

/// Where a region's load comes from: its own generator pods on nodes in that region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Placement {
    pub node_selector: std::collections::BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    /// Generator pods for this region; `None`: `--shards` split by weight.
    pub shards: Option<u64>,
    /// kubectl context of the cluster in that region (the Job is applied there).
    pub context: Option<String>,
    /// Keep the region's `network` profile on top of the real regional network.
    pub emulate_network: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: String,
    pub value: Option<String>,
    pub effect: Option<String>,
    pub toleration_seconds: Option<i64>,
}

/// A network profile: explicit values, or a named preset expanded to its values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct NetworkProfile {
    /// Preset name when it came from one.
    pub preset: Option<String>,
    pub rtt_ms: f64,
    pub jitter_ms: f64,
    pub loss_pct: f64,
    /// 0 = unlimited.
    pub down_kbps: u64,
    pub up_kbps: u64,
    /// Extra RTT between this region's viewers and the origin.
    pub origin_rtt_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Load {
    /// Fraction of the real event this run represents (1.0 = full scale).
    pub scale: f64,
    pub max_viewers: u64,
    pub max_joins_per_sec: f64,
    pub phases: Vec<Phase>,
    pub abort_when: Option<AbortWhen>,
    /// What happens to viewers still watching when the last phase ends.
    pub end: End,
}

/// The end of a run: viewers still watching when the last phase ends are cut then, or watch
/// to their own leave time for at most `within` (then they are cut).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum End {
    Cut,
    FinishWatching {
        #[serde(with = "crate::scenario::duration::serde_secs")]
        #[cfg_attr(test, schemars(with = "f64"))]
        within: Duration,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Phase {
    pub name: String,
    #[serde(with = "crate::scenario::duration::serde_secs")]
    #[cfg_attr(test, schemars(with = "f64"))]
    pub duration: Duration,
    /// Arrival rate at the start of the phase (all regions together).
    pub joins_per_sec: f64,
    /// Arrival rate at the end of the phase; `None` = constant.
    pub ramp_to: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct AbortWhen {
    /// Abort when the error rate over the last `window` exceeds this fraction.
    pub error_rate: f64,
    /// Not before this much of the run has elapsed.
    #[serde(with = "crate::scenario::duration::serde_secs")]
    #[cfg_attr(test, schemars(with = "f64"))]
    pub after: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Viewer {
    /// `viewer.data`: rows whose columns are `{{column}}` variables.
    pub data: Option<Data>,
    pub join: Vec<JoinStep>,
    pub watch: Watch,
    pub chat: Option<Chat>,
}

/// A data feeder. The values are never serialized (they are often credentials).
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Data {
    /// As written (relative to the scenario file's folder).
    pub file: String,
    pub pick: Pick,
    pub columns: Vec<String>,
    pub rows: usize,
    #[serde(skip)]
    pub values: std::sync::Arc<Vec<Vec<String>>>,
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Data")
            .field("file", &self.file)
            .field("pick", &self.pick)
            .field("columns", &self.columns)
            .field("rows", &self.rows)
            .finish()
    }
}

/// Which row a viewer takes. Under `--shard I/N` each shard takes only rows ≡ I−1 (mod N), so
/// shards never share a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Pick {
    /// Viewer k takes row k, wrapping around when the rows run out.
    Sequential,
    /// A row drawn from the seed and the viewer id (the same run, the same rows).
    Random,
    /// Viewer k takes row k, and a run with fewer rows than planned viewers does not start.
    Unique,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct JoinStep {
    pub name: String,
    pub method: HttpMethod,
    /// Path (relative to the region's base URL) or absolute URL. May contain `{{viewer_id}}`.
    pub path: String,
    /// Request body; may contain `{{viewer_id}}`.
    pub body: Option<String>,
    pub expect_status: Option<u16>,
    /// If set, the response body must contain this substring.
    pub expect_body: Option<String>,
    /// This step's own headers; values may hold `{{name}}`s and secrets: never serialized.
    #[serde(skip)]
    pub headers: Vec<(String, String)>,
    /// Header names only, safe to show.
    pub header_names: Vec<String>,
    /// Variables taken from the response for later steps, `watch.url`, `chat.url` and headers.
    pub extract: Vec<Extract>,
}

/// One variable taken from a join step's response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Extract {
    pub name: String,
    pub from: ExtractFrom,
}

/// Where in the response a variable is found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExtractFrom {
    /// A JSON Pointer (`/playback/url`), converted from the path syntax (`playback.url`,
    /// `items[0].id`) when written that way. Strings are taken as they are, other values as
    /// JSON text.
    Json(String),
    /// A response header (first value).
    Header(String),
    /// A regular expression over the body: its first capture group, or the whole match.
    Regex(String),
}

/// `{{name}}` references in `text`, in order.
pub fn template_vars(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    out
}

/// Replace every `{{name}}` found by `get`; unknown names stay as written.
pub fn render_template(text: &str, get: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        match get(after[..end].trim()) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[i..i + 4 + end]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Delete,
    Head,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Watch {
    pub protocol: WatchProtocol,
    /// Relative to the region's base URL, or absolute.
    pub url: String,
    pub duration: WatchTime,
    pub rendition: Rendition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum WatchProtocol {
    Hls,
    None,
}

/// How long a viewer stays.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WatchTime {
    Fixed {
        #[serde(with = "crate::scenario::duration::serde_secs")]
        #[cfg_attr(test, schemars(with = "f64"))]
        duration: Duration,
    },
    /// Log-normal fitted to a median and a 90th percentile.
    LogNormal {
        #[serde(with = "crate::scenario::duration::serde_secs")]
        #[cfg_attr(test, schemars(with = "f64"))]
        median: Duration,
        #[serde(with = "crate::scenario::duration::serde_secs")]
        #[cfg_attr(test, schemars(with = "f64"))]
        p90: Duration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Rendition {
    Lowest,
    Highest,
    Random,
    ByBandwidth,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Chat {
    /// Relative (`/chat`, resolved http→ws, https→wss) or absolute ws:// / wss:// URL.
    pub url: String,
    pub messages_per_min: f64,
    pub delivery: ChatDelivery,
}

/// What counts as a chat message delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ChatDelivery {
    /// A room server: a viewer's message is delivered when *other* viewers receive it.
    FanOut,
    /// An echo server (any WebSocket server that sends each message back to its sender): a
    /// viewer's own message coming back is its delivery.
    Echo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Publishers {
    pub protocol: String,
    pub url: String,
    pub streams: u32,
    pub bitrate_kbps: u32,
    #[serde(with = "crate::scenario::duration::serde_secs")]
    #[cfg_attr(test, schemars(with = "f64"))]
    pub duration: Duration,
    /// Publishers that stop for good mid-show (an encoder that dies).
    pub dying: Option<Dying>,
}

/// The first `streams` publishers drop their connection at `after` and do not come back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Dying {
    pub streams: u32,
    #[serde(with = "crate::scenario::duration::serde_secs")]
    #[cfg_attr(test, schemars(with = "f64"))]
    pub after: Duration,
}

/// Pass/fail gates. Each applies per region and overall.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Slo {
    pub gates: Vec<SloGate>,
}

/// One gate: `metric`'s `stat` must be ≤ `threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct SloGate {
    /// A gateable metric (`connect_ms`, `join_ms`, `error_rate`, …; see `metrics::names`).
    pub metric: Metric,
    /// `p50`, `p90`, `p95`, `p99`, `p99.9`, `max`, `mean`, or `value` for ratios.
    pub stat: Stat,
    /// In the metric's unit: milliseconds for `*_ms`, a fraction for ratios.
    pub threshold: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Alerts {
    pub latency_ms: Option<f64>,
    pub loss_pct: Option<f64>,
}

/// What a capacity search varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SearchQuantity {
    /// Viewers join during `ramp` and stay until the step ends.
    ConcurrentViewers,
    /// Viewers arrive at this rate for the whole step and watch as `viewer.watch` says.
    JoinsPerSec,
}

impl SearchQuantity {
    pub fn name(self) -> &'static str {
        match self {
            SearchQuantity::ConcurrentViewers => "concurrent_viewers",
            SearchQuantity::JoinsPerSec => "joins_per_sec",
        }
    }

    /// The unit after a level: "20 concurrent viewers", "150 joins/s".
    pub fn unit(self) -> &'static str {
        match self {
            SearchQuantity::ConcurrentViewers => "concurrent viewers",
            SearchQuantity::JoinsPerSec => "joins/s",
        }
    }
}

/// `search:`: levels from `start` doubling up to `max` until a step fails, then halving the
/// bracket to `precision`, then a `hold` at the highest passing level.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Search {
    pub quantity: SearchQuantity,
    pub start: f64,
    pub max: f64,
    /// Concurrent viewers: how long the level's viewers take to join (longer when
    /// `load.max_joins_per_sec` would be exceeded).
    #[serde(with = "crate::scenario::duration::serde_secs")]
    #[cfg_attr(test, schemars(with = "f64"))]
    pub ramp: Duration,
    /// Time at the level before its window is judged.
    #[serde(with = "crate::scenario::duration::serde_secs")]
    #[cfg_attr(test, schemars(with = "f64"))]
    pub settle: Duration,
    /// The judged window of each step.
    #[serde(with = "crate::scenario::duration::serde_secs")]
    #[cfg_attr(test, schemars(with = "f64"))]
    pub step: Duration,
    /// Pause between steps, with no viewers, so a lower level starts from an idle target.
    #[serde(with = "crate::scenario::duration::serde_secs")]
    #[cfg_attr(test, schemars(with = "f64"))]
    pub cooldown: Duration,
    /// Stop when (lowest fail − highest pass) ≤ precision × highest pass (a fraction).
    pub precision: f64,
    /// Judged window of the final run at the answer; zero = no hold.
    #[serde(with = "crate::scenario::duration::serde_secs")]
    #[cfg_attr(test, schemars(with = "f64"))]
    pub hold: Duration,
    /// The gates that judge a step (default: every `slo` gate).
    pub gates: Vec<SloGate>,
    /// Hard bound on the number of steps (the hold not included).
    pub max_steps: u32,
}
