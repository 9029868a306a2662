//! The statistics of a metric as SLO keys and results.json name them (`p99`, `p99.9`, `value`):
//! part of the vocabulary `names.rs` publishes, beside the metrics and the error classes.

use serde::{Deserialize, Serialize};

/// A statistic of a metric, as named in SLO keys and results.json (`p99.9`, `value` for a
/// metric that is one number per run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub enum Stat {
    #[serde(rename = "p50")]
    P50,
    #[serde(rename = "p90")]
    P90,
    #[serde(rename = "p95")]
    P95,
    #[serde(rename = "p99")]
    P99,
    #[serde(rename = "p99.9")]
    P999,
    #[serde(rename = "max")]
    Max,
    #[serde(rename = "min")]
    Min,
    #[serde(rename = "mean")]
    Mean,
    /// The one number of a ratio gate (`error_rate: 0.01`); for a recorded ratio, its mean.
    #[serde(rename = "value")]
    Value,
}

impl Stat {
    pub const ALL: [Stat; 9] = [
        Stat::P50,
        Stat::P90,
        Stat::P95,
        Stat::P99,
        Stat::P999,
        Stat::Max,
        Stat::Min,
        Stat::Mean,
        Stat::Value,
    ];
    /// Stats a `slo:` map may name.
    pub const GATEABLE: [Stat; 7] = [
        Stat::P50,
        Stat::P90,
        Stat::P95,
        Stat::P99,
        Stat::P999,
        Stat::Max,
        Stat::Mean,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P95 => "p95",
            Stat::P99 => "p99",
            Stat::P999 => "p99.9",
            Stat::Max => "max",
            Stat::Min => "min",
            Stat::Mean => "mean",
            Stat::Value => "value",
        }
    }

    pub fn from_name(name: &str) -> Option<Stat> {
        Stat::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl std::fmt::Display for Stat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
