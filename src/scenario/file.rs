//! The scenario file exactly as written: serde structs mirroring `scenario-reference.yaml`.
//!
//! Owns the YAML shape only. Every struct denies unknown keys (so typos are errors with a
//! suggestion), durations are parsed here so serde_yaml attaches `line:col` to a bad one, and
//! keys that take two shapes (`network`, `watch.duration`, `slo.*`) get hand-written visitors
//! instead of `#[serde(untagged)]`, whose "did not match any variant" would drop the real cause.
//! Defaults, cross-key checks and secrets are `resolve.rs`'s job, not this file's.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::duration::{parse_duration, EXPECTED};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    pub description: Option<String>,
    pub event: Option<EventFile>,
    pub target: TargetFile,
    pub regions: Option<Vec<RegionFile>>,
    pub load: LoadFile,
    pub viewer: ViewerFile,
    pub publishers: Option<PublishersFile>,
    pub slo: Option<OrderedMap<SloValue>>,
    pub alerts: Option<AlertsFile>,
    pub search: Option<SearchFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFile {
    pub name: String,
    pub starts_at: Option<String>,
    pub expected_peak_viewers: Option<u64>,
    pub expected_peak_joins_per_sec: Option<f64>,
    pub headroom: Option<f64>,
    pub support_tier: Option<SupportTierFile>,
}

#[derive(Debug, Clone, Copy)]
pub enum SupportTierFile {
    Basic,
    Enterprise,
    Strategic,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    pub base_url: String,
    pub allow_hosts: Option<Vec<String>>,
    /// Values are raw: `${VAR}` is substituted later, in resolve, never here.
    pub headers: Option<OrderedMap<String>>,
    pub insecure_tls: Option<bool>,
    pub tls: Option<TlsFile>,
    pub timeout: Option<Dur>,
    pub source_addrs: Option<OneOrMany>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub resume: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionFile {
    pub name: String,
    pub weight: Option<f64>,
    pub network: Option<NetworkFile>,
    pub origin_rtt_ms: Option<f64>,
    pub base_url: Option<String>,
    pub placement: Option<PlacementFile>,
}

/// `regions[].placement`: where this region's load comes from on Kubernetes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementFile {
    pub node_selector: Option<std::collections::BTreeMap<String, String>>,
    pub tolerations: Option<Vec<TolerationFile>>,
    pub shards: Option<u64>,
    pub context: Option<String>,
    pub emulate_network: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TolerationFile {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
    pub toleration_seconds: Option<i64>,
}

/// `network: 3g` or `network: { rtt_ms: 90, … }`.
#[derive(Debug)]
pub enum NetworkFile {
    Preset(String),
    Explicit(NetworkMap),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkMap {
    pub rtt_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub loss_pct: Option<f64>,
    pub down_kbps: Option<u64>,
    pub up_kbps: Option<u64>,
    pub origin_rtt_ms: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadFile {
    pub scale: Option<f64>,
    /// Required, but optional here so resolve can suggest a value computed from the phases.
    pub max_viewers: Option<u64>,
    pub max_joins_per_sec: Option<f64>,
    pub phases: Vec<PhaseFile>,
    pub abort_when: Option<AbortWhenFile>,
    pub end: Option<EndFile>,
    pub end_within: Option<Dur>,
}

#[derive(Debug, Clone, Copy)]
pub enum EndFile {
    Cut,
    FinishWatching,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseFile {
    pub name: Option<String>,
    pub duration: Dur,
    pub joins_per_sec: f64,
    pub ramp_to: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbortWhenFile {
    pub error_rate: f64,
    pub after: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewerFile {
    pub data: Option<DataFile>,
    pub join: Option<Vec<JoinStepFile>>,
    pub watch: WatchFile,
    pub chat: Option<ChatFile>,
}

/// `data: { file: accounts.csv, pick: unique }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    pub file: String,
    pub pick: Option<PickFile>,
}

#[derive(Debug, Clone, Copy)]
pub enum PickFile {
    Sequential,
    Random,
    Unique,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinStepFile {
    pub name: Option<String>,
    pub method: Option<String>,
    pub path: String,
    pub body: Option<String>,
    pub expect_status: Option<u16>,
    pub expect_body: Option<String>,
    /// Sent with this step only; values may use `{{name}}`s from earlier steps.
    pub headers: Option<OrderedMap<String>>,
    /// Variables taken from this step's response, in file order.
    pub extract: Option<OrderedMap<ExtractFile>>,
}

/// `{ json: /token }`, `{ header: Location }` or `{ regex: 'room=(\w+)' }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractFile {
    pub json: Option<String>,
    pub header: Option<String>,
    pub regex: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchFile {
    pub protocol: Option<WatchProtocolFile>,
    pub url: Option<String>,
    pub duration: WatchDurationFile,
    pub rendition: Option<RenditionFile>,
}

#[derive(Debug, Clone, Copy)]
pub enum WatchProtocolFile {
    Hls,
    None,
}

#[derive(Debug, Clone, Copy)]
pub enum RenditionFile {
    Lowest,
    Highest,
    Random,
    ByBandwidth,
}

/// `duration: 3m` or `duration: { median: 3m, p90: 10m }`.
#[derive(Debug)]
pub enum WatchDurationFile {
    Fixed(Duration),
    LogNormal { median: Duration, p90: Duration },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogNormalFile {
    median: Dur,
    p90: Dur,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatFile {
    pub url: String,
    pub messages_per_min: Option<f64>,
    pub delivery: Option<ChatDeliveryFile>,
}

#[derive(Debug, Clone, Copy)]
pub enum ChatDeliveryFile {
    FanOut,
    Echo,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishersFile {
    pub protocol: Option<String>,
    pub url: String,
    pub streams: Option<u32>,
    pub bitrate_kbps: Option<u32>,
    pub duration: Dur,
    pub dying: Option<DyingFile>,
}

/// `dying: { streams: 1, after: 90s }`: publishers whose encoder dies mid-show.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DyingFile {
    pub streams: Option<u32>,
    pub after: Dur,
}

/// `stall_ratio: 0.02` or `connect_ms: { p99: 600 }` (stat → threshold, in file order).
#[derive(Debug)]
pub enum SloValue {
    Number(f64),
    Stats(OrderedMap<f64>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsFile {
    pub latency_ms: Option<f64>,
    pub loss_pct: Option<f64>,
}

/// `search:`, read by `peakready capacity` (see `scenario/search.rs`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchFile {
    pub quantity: Option<String>,
    pub start: f64,
    pub max: f64,
    pub ramp: Option<Dur>,
    pub settle: Option<Dur>,
    pub step: Option<Dur>,
    pub cooldown: Option<Dur>,
    /// `5%` or a fraction like 0.05; checked in resolve.
    pub precision: Option<serde_yaml::Value>,
    pub hold: Option<Dur>,
    pub slo: Option<Vec<String>>,
    pub max_steps: Option<u32>,
}

/// A key that takes one of a few words. serde's derived enums, read from a parsed YAML tree,
/// answer a list or a map with "expected a YAML tag starting with '!'", which names YAML's
/// syntax for externally tagged enums and says nothing about the key; these read a string and
/// name the words instead (`invalid type: sequence, expected one of `basic`, …`).
macro_rules! str_enum {
    ($name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                const NAMES: &[&str] = &[$($text),+];
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        let names: Vec<String> = NAMES.iter().map(|n| format!("`{n}`")).collect();
                        write!(f, "one of {}", names.join(", "))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        match v {
                            $($text => Ok($name::$variant),)+
                            _ => Err(E::unknown_variant(v, NAMES)),
                        }
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

str_enum!(SupportTierFile { Basic = "basic", Enterprise = "enterprise", Strategic = "strategic" });
str_enum!(EndFile { Cut = "cut", FinishWatching = "finish-watching" });
str_enum!(PickFile { Sequential = "sequential", Random = "random", Unique = "unique" });
str_enum!(WatchProtocolFile { Hls = "hls", None = "none" });
str_enum!(RenditionFile { Lowest = "lowest", Highest = "highest", Random = "random", ByBandwidth = "by-bandwidth" });
str_enum!(ChatDeliveryFile { FanOut = "fan-out", Echo = "echo" });

/// A duration string, parsed while deserializing so a bad one carries serde_yaml's location.
#[derive(Debug, Clone, Copy)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurVisitor).map(Dur)
    }
}

struct DurVisitor;

impl<'de> Visitor<'de> for DurVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(EXPECTED)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }
    // YAML reads `duration: 10` as a number; the duration parser explains the missing unit.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        parse_duration(&v.to_string()).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        parse_duration(&v.to_string()).map_err(E::custom)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        parse_duration(&v.to_string()).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for NetworkFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NetworkFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a preset name like `4g-typical`, or a map like { rtt_ms: 90, down_kbps: 12000 }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NetworkFile, E> {
                Ok(NetworkFile::Preset(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NetworkFile, A::Error> {
                NetworkMap::deserialize(MapAccessDeserializer::new(map)).map(NetworkFile::Explicit)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for WatchDurationFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WatchDurationFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "{EXPECTED}, or a map like {{ median: 3m, p90: 10m }}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                DurVisitor.visit_str(v).map(WatchDurationFile::Fixed)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                DurVisitor.visit_u64(v).map(WatchDurationFile::Fixed)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                DurVisitor.visit_i64(v).map(WatchDurationFile::Fixed)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                DurVisitor.visit_f64(v).map(WatchDurationFile::Fixed)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let m = LogNormalFile::deserialize(MapAccessDeserializer::new(map))?;
                Ok(WatchDurationFile::LogNormal {
                    median: m.median.0,
                    p90: m.p90.0,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for SloValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SloValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a ratio like 0.02, or a map of stat to threshold like { p99: 600 }")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SloValue, E> {
                Ok(SloValue::Number(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SloValue, E> {
                Ok(SloValue::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SloValue, E> {
                Ok(SloValue::Number(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SloValue, A::Error> {
                OrderedMap::deserialize(MapAccessDeserializer::new(map)).map(SloValue::Stats)
            }
        }
        d.deserialize_any(V)
    }
}

/// A string-keyed map that keeps file order (headers are sent, and gates listed, as written).
#[derive(Debug)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, V)> = Vec::new();
                // A set beside the list: a scan per key was quadratic in a map's size.
                let mut seen = std::collections::HashSet::new();
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    if !seen.insert(k.clone()) {
                        return Err(de::Error::custom(format!("duplicate key `{k}`")));
                    }
                    out.push((k, v));
                }
                Ok(OrderedMap(out))
            }
        }
        d.deserialize_map(MapVisitor(PhantomData))
    }
}

/// A single string (`127.0.0.2-127.0.0.40`, `10.0.0.0/28`) or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}
