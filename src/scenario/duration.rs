//! Durations as people write them in scenarios: `90s`, `5m`, `1h30m`, `250ms`.

use std::time::Duration;

/// Serialize a `Duration` as fractional seconds (results.json, plan summaries).
pub mod serde_secs {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// Placeholder until the parser lands.
pub fn parse_duration(_text: &str) -> Result<Duration, String> {
    Err("not yet".into())
}
