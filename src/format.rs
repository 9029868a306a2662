//! How every figure a person reads is written: durations, counts, percentages, rates and a
//! metric's value in its unit. The terminal, report.md, report.html, the card, the checklist
//! and `compare` all call these, so one p99 reads the same everywhere.
//!
//! The rules (one each):
//! - **durations** (given in ms): three significant figures, `ms` below one second, `s` from
//!   one second: `0.42 ms`, `4.20 ms`, `42.0 ms`, `420 ms`, `1.23 s`, `12.3 s`, `123 s`;
//! - **counts**: whole, with thousands separators: `12,000`;
//! - **numbers** that may be fractional (viewers expected, joins/s): one decimal below 100
//!   when it has one, else whole with separators: `22.5`, `1,157`;
//! - **percentages** (given as a fraction): up to two decimals, trailing zeros dropped, never
//!   rounded to a lie at the ends: `3%`, `12.5%`, `0.04%`, `<0.01%`, `>99.99%`;
//! - **rates**: a number per second: `1,234/s`.
//! - **changes** (`compare`): in percent of the base, one decimal, signed with `+`/`−`, and
//!   `±0%` below 0.05% (rounding noise must not read as a direction): `+12.3%`, `−4%`; a rate's
//!   change in percentage points, two decimals: `+0.25 pp`.
//! - **chart axes of durations** ([`MsAxis`]): every tick in one unit, named in the axis title
//!   (`join time (s)` over `0.5 1.0 1.5`), never `(ms)` over ticks that read seconds.

use crate::metrics::{Metric, Stat, Unit};

/// A duration given in milliseconds.
pub fn ms(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v == 0.0 {
        return "0 ms".into();
    }
    let sig = |v: f64, unit: &str| {
        // Decide precision on the rounded value so 9.999 reads `10.0`, not `10.00`.
        if round_to(v.abs(), 2) < 10.0 {
            format!("{v:.2} {unit}")
        } else if round_to(v.abs(), 1) < 100.0 {
            format!("{v:.1} {unit}")
        } else {
            format!("{} {unit}", count(v))
        }
    };
    if v.abs().round() < 1000.0 {
        sig(v, "ms")
    } else {
        sig(v / 1000.0, "s")
    }
}

/// A duration given in seconds, by the same rule: `420 ms`, `1.20 s`, `90.0 s`, `600 s`.
pub fn secs(v: f64) -> String {
    ms(v * 1000.0)
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// A whole count with thousands separators.
pub fn count(v: impl Into<f64>) -> String {
    let n = v.into().round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A chart axis of durations (values in ms): one unit for every tick, chosen from the axis'
/// top (`ms` below one second, `s` from one second), so the axis title names the unit its
/// ticks are in. Decimals follow the top: `0.25`, `2.5`, `250`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MsAxis {
    pub unit: &'static str,
    ms_per_unit: f64,
    decimals: usize,
}

impl MsAxis {
    pub fn for_top(top_ms: f64) -> MsAxis {
        let top_ms = if top_ms.is_finite() {
            top_ms.abs()
        } else {
            0.0
        };
        let (unit, ms_per_unit) = if top_ms >= 1000.0 {
            ("s", 1000.0)
        } else {
            ("ms", 1.0)
        };
        let top = top_ms / ms_per_unit;
        let decimals = if top >= 20.0 {
            0
        } else if top >= 2.0 {
            1
        } else {
            2
        };
        MsAxis {
            unit,
            ms_per_unit,
            decimals,
        }
    }

    /// A tick's text, without the unit (the title carries it).
    pub fn tick(&self, ms: f64) -> String {
        let v = ms / self.ms_per_unit;
        if self.decimals == 0 {
            count(v)
        } else {
            format!("{v:.*}", self.decimals)
        }
    }

    /// The axis title with its unit: `join time (s)`.
    pub fn title(&self, what: &str) -> String {
        format!("{what} ({})", self.unit)
    }
}

/// A number that may be fractional: one decimal below 100 when it has one, else a count.
pub fn num(v: f64) -> String {
    if v.abs() < 100.0 && v.fract().abs() > 0.05 {
        return format!("{v:.1}");
    }
    count(v)
}

/// A fraction as a percentage.
pub fn pct(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "–".into();
    }
    let p = fraction * 100.0;
    if p > 0.0 && p < 0.005 {
        return "<0.01%".into();
    }
    if p < 100.0 && p > 99.995 {
        return ">99.99%".into();
    }
    let s = format!("{p:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{}%", if s == "-0" { "0" } else { s })
}

/// A relative change (a fraction of the base): `+12.3%`, `−4%`, `±0%`.
pub fn pct_change(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "–".into();
    }
    let p = round_to(fraction * 100.0, 1);
    if p == 0.0 {
        return "±0%".into();
    }
    let s = format!("{:.1}", p.abs());
    format!("{}{}%", sign(p), s.trim_end_matches(".0"))
}

/// A change of a rate (fractions) in percentage points: `+0.25 pp`, `−1.00 pp`.
pub fn pp(delta: f64) -> String {
    if !delta.is_finite() {
        return "–".into();
    }
    let p = round_to(delta * 100.0, 2);
    format!("{}{:.2} pp", sign(p), p.abs())
}

/// `+` for a rise, `−` (the minus sign, not a hyphen) for a fall, none for zero.
fn sign(v: f64) -> &'static str {
    if v > 0.0 {
        "+"
    } else if v < 0.0 {
        "−"
    } else {
        ""
    }
}

/// A rate: `1,234/s`, `22.5/s`.
pub fn per_sec(v: f64) -> String {
    format!("{}/s", num(v))
}

/// A metric's value in its unit: `812 ms`, `4.2%`, `1.5 stalls`, `2,500 kbit/s`.
pub fn value(metric: Metric, v: f64) -> String {
    match metric.unit() {
        Unit::Millis => ms(v),
        Unit::Ratio => pct(v),
        Unit::Count => match metric {
            Metric::IngestKbps => format!("{} kbit/s", count(v)),
            Metric::ChatReconnects => format!("{v:.1} reconnects"),
            _ => format!("{v:.1} stalls"),
        },
    }
}

/// A gate as written in the scenario: `join_ms p95 ≤ 500 ms`, `error_rate ≤ 1%`.
pub fn gate(metric: Metric, stat: Stat, threshold: f64) -> String {
    if stat == Stat::Value {
        format!("{metric} ≤ {}", value(metric, threshold))
    } else {
        format!("{metric} {stat} ≤ {}", value(metric, threshold))
    }
}

/// Bytes as people size memory: `512 KiB`, `38.2 MiB`, `1.50 GiB`.
pub fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let v = n as f64;
    if v < KIB * KIB {
        format!("{} KiB", count(v / KIB))
    } else if v < KIB * KIB * KIB {
        format!("{:.1} MiB", v / KIB / KIB)
    } else {
        format!("{:.2} GiB", v / KIB / KIB / KIB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_three_significant_figures_and_switch_to_seconds() {
        assert_eq!(ms(0.0), "0 ms");
        assert_eq!(ms(0.421), "0.42 ms");
        assert_eq!(ms(4.2), "4.20 ms");
        assert_eq!(ms(9.999), "10.0 ms");
        assert_eq!(ms(42.04), "42.0 ms");
        assert_eq!(ms(420.4), "420 ms");
        assert_eq!(ms(999.4), "999 ms");
        assert_eq!(ms(999.6), "1.00 s");
        assert_eq!(ms(1234.0), "1.23 s");
        assert_eq!(ms(12_345.0), "12.3 s");
        assert_eq!(ms(123_456.0), "123 s");
        assert_eq!(ms(1_234_567.0), "1,235 s");
    }

    #[test]
    fn counts_numbers_and_rates() {
        assert_eq!(count(1157.0), "1,157");
        assert_eq!(count(100_000u32), "100,000");
        assert_eq!(count(-4500.0), "-4,500");
        assert_eq!(count(999.0), "999");
        assert_eq!(num(22.5), "22.5");
        assert_eq!(num(22.0), "22");
        assert_eq!(num(4500.4), "4,500");
        assert_eq!(per_sec(1234.0), "1,234/s");
    }

    /// Issue 13: latency.png said "(ms)" over ticks that read `1.00 s`.
    #[test]
    fn a_duration_axis_names_the_unit_its_ticks_are_in() {
        let s = MsAxis::for_top(2600.0);
        assert_eq!(s.title("join time"), "join time (s)");
        assert_eq!(
            [0.0, 500.0, 1000.0, 2500.0].map(|v| s.tick(v)),
            ["0.0", "0.5", "1.0", "2.5"]
        );
        let ms = MsAxis::for_top(450.0);
        assert_eq!(ms.title("join time"), "join time (ms)");
        assert_eq!([0.0, 50.0, 400.0].map(|v| ms.tick(v)), ["0", "50", "400"]);
        assert_eq!(MsAxis::for_top(1.2).tick(0.25), "0.25");
        assert_eq!(MsAxis::for_top(45_000.0).tick(30_000.0), "30");
        assert_eq!(MsAxis::for_top(f64::NAN).unit, "ms");
    }

    #[test]
    fn percentages_never_round_to_a_lie() {
        assert_eq!(pct(0.0), "0%");
        assert_eq!(pct(0.03), "3%");
        assert_eq!(pct(0.125), "12.5%");
        assert_eq!(pct(0.042), "4.2%");
        assert_eq!(pct(0.00001), "<0.01%");
        assert_eq!(pct(0.999999), ">99.99%");
        assert_eq!(pct(1.0), "100%");
    }

    #[test]
    fn changes_are_signed_and_noise_has_no_direction() {
        assert_eq!(pct_change(0.1234), "+12.3%");
        assert_eq!(pct_change(-0.04), "−4%");
        assert_eq!(pct_change(0.0004), "±0%");
        assert_eq!(pct_change(-0.0004), "±0%");
        assert_eq!(pp(0.0025), "+0.25 pp");
        assert_eq!(pp(-0.01), "−1.00 pp");
        assert_eq!(pp(0.0), "0.00 pp");
        assert_eq!(secs(0.42), "420 ms");
        assert_eq!(secs(90.04), "90.0 s");
        assert_eq!(secs(600.0), "600 s");
    }

    #[test]
    fn values_and_gates_in_their_unit() {
        assert_eq!(value(Metric::JoinMs, 812.0), "812 ms");
        assert_eq!(value(Metric::ErrorRate, 0.042), "4.2%");
        assert_eq!(value(Metric::StallCount, 1.5), "1.5 stalls");
        assert_eq!(
            gate(Metric::JoinMs, Stat::P95, 500.0),
            "join_ms p95 ≤ 500 ms"
        );
        assert_eq!(
            gate(Metric::ErrorRate, Stat::Value, 0.01),
            "error_rate ≤ 1%"
        );
        assert_eq!(bytes(40 * 1024 * 1024), "40.0 MiB");
    }
}
