//! Durations as people write them in scenarios: `90s`, `5m`, `1h30m`, `250ms`, `1.5s`.
//!
//! Owns the one grammar for durations (scenario keys, and anything in the CLI that wants the same
//! spelling) and the compact form we print back (`1h30m`, `1m30s`, `250ms`).

use std::time::Duration;

/// Serialize a `Duration` as fractional seconds (results.json, plan summaries).
pub mod serde_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    /// Seconds back into a `Duration` (results.json read back); a negative, infinite or
    /// overflowing number is an error, never a panic.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(|e| {
            serde::de::Error::custom(format!("{secs} is not a duration in seconds: {e}"))
        })
    }
}

/// What every duration error starts with, so messages read the same everywhere.
pub const EXPECTED: &str = "a duration like 90s, 5m or 1h30m";

/// Longer than any rehearsal could be; stops `99999999h` from overflowing `Duration`.
const MAX_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// Parse `90s`, `5m`, `1h30m`, `250ms`, `1.5s`, `2h`. Units: `h`, `m`, `s`, `ms`, combinable.
///
/// The error is a full sentence (`expected a duration like 90s, 5m or 1h30m, got "5 min"`),
/// with a suggested spelling when we can guess one (`10` → `10s`, `5 min` → `5m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let fail = |hint: Option<String>| {
        let mut msg = format!("expected {EXPECTED}, got {text:?}");
        if let Some(h) = hint {
            msg.push_str(&format!(" ({h})"));
        }
        Err(msg)
    };
    let t = text.trim();
    if t.is_empty() {
        return fail(None);
    }
    if t.starts_with('-') {
        return fail(Some("durations cannot be negative".into()));
    }
    if t.parse::<f64>().is_ok() {
        return fail(Some(format!("a bare number has no unit: write {t}s")));
    }
    match parse_parts(t) {
        Some(secs) if secs <= MAX_SECS => Ok(Duration::from_secs_f64(secs)),
        Some(_) => fail(Some("longer than a year".into())),
        None => fail(guess(t).map(|g| format!("write {g}"))),
    }
}

/// Seconds for a well-formed duration, `None` otherwise.
fn parse_parts(t: &str) -> Option<f64> {
    let bytes = t.as_bytes();
    let mut i = 0;
    let mut total = 0.0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let number: f64 = t.get(start..i)?.parse().ok()?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let scale = match t.get(unit_start..i)? {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += number * scale;
    }
    total.is_finite().then_some(total)
}

/// A likely intended spelling for `5 min`, `10 seconds`, `2hrs`; `None` if we cannot tell.
fn guess(t: &str) -> Option<String> {
    let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    let digits_end = compact.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, word) = compact.split_at(digits_end);
    number.parse::<f64>().ok()?;
    let unit = match word.to_ascii_lowercase().as_str() {
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "ms" | "msec" | "msecs" | "millis" | "milliseconds" => "ms",
        _ => return None,
    };
    Some(format!("{number}{unit}"))
}

/// The compact human form: `1h30m`, `1m30s`, `250ms`, `1.5s`, `0ms`.
///
/// Round-trips through [`parse_duration`] for anything with millisecond precision.
pub fn format_duration(d: Duration) -> String {
    let total_ms = d.as_millis();
    if total_ms == 0 && d.as_nanos() > 0 {
        return format!("{}ms", trim_decimal(d.as_secs_f64() * 1000.0));
    }
    if total_ms < 1000 {
        return format!("{total_ms}ms");
    }
    let hours = total_ms / 3_600_000;
    let minutes = (total_ms / 60_000) % 60;
    let millis = total_ms % 60_000;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if millis > 0 {
        out.push_str(&format!("{}s", trim_decimal(millis as f64 / 1000.0)));
    }
    out
}

/// `1.500` → `1.5`, `30.000` → `30`: at most three decimals, no trailing zeros.
fn trim_decimal(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        parse_duration(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn accepts_the_spellings_people_use() {
        assert_eq!(ok("90s"), Duration::from_secs(90));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("2h"), Duration::from_secs(7200));
        assert_eq!(ok("1m30s500ms"), Duration::from_millis(90_500));
    }

    #[test]
    fn rejects_with_a_useful_message() {
        let e = parse_duration("5 min").unwrap_err();
        assert!(
            e.starts_with("expected a duration like 90s, 5m or 1h30m, got \"5 min\""),
            "{e}"
        );
        assert!(e.contains("write 5m"), "{e}");
        let e = parse_duration("10").unwrap_err();
        assert!(e.contains("write 10s"), "{e}");
        assert!(parse_duration("-3s").unwrap_err().contains("negative"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1..5s").is_err());
        assert!(parse_duration("99999999h").is_err());
    }

    #[test]
    fn formats_compactly_and_round_trips() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::ZERO), "0ms");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        for ms in [1, 999, 1000, 61_001, 3_600_000, 3_661_250] {
            let d = Duration::from_millis(ms);
            assert_eq!(ok(&format_duration(d)), d, "{ms}ms");
        }
    }
}
