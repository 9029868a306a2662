//! Numbers and gates in words, shared by the analysis, the report and the checklist, so the
//! same finding reads the same everywhere.

/// `1157` → `1,157`; fractional values keep one decimal below 100.
pub fn num(v: f64) -> String {
    if v.abs() < 100.0 && v.fract().abs() > 0.05 {
        return format!("{v:.1}");
    }
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// A fraction as a percentage without trailing zeros: 0.03 → `3%`, 0.125 → `12.5%`.
pub fn pct_words(fraction: f64) -> String {
    let p = format!("{:.2}", fraction * 100.0);
    format!("{}%", p.trim_end_matches('0').trim_end_matches('.'))
}

/// A measured value in its metric's unit: `812 ms`, `4.20 %`.
pub fn value_words(metric: &str, v: f64) -> String {
    // Same precision rules as `report::table::{ms, pct}`; analysis does not import `report`.
    if metric.ends_with("_ms") {
        match v {
            v if v >= 100.0 => format!("{v:.0} ms"),
            v if v >= 10.0 => format!("{v:.1} ms"),
            v => format!("{v:.2} ms"),
        }
    } else if metric == "stall_count" {
        format!("{v:.1} stalls")
    } else {
        format!("{:.2} %", v * 100.0)
    }
}

/// A gate as written: `join_ms p95 ≤ 500 ms`, `error_rate ≤ 1.00 %`.
pub fn gate_words(metric: &str, stat: &str, threshold: f64) -> String {
    if stat == "value" {
        format!("{metric} ≤ {}", value_words(metric, threshold))
    } else {
        format!("{metric} {stat} ≤ {}", value_words(metric, threshold))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_a_person_wrote_them() {
        assert_eq!(num(1157.0), "1,157");
        assert_eq!(num(100_000.0), "100,000");
        assert_eq!(num(4500.0), "4,500");
        assert_eq!(num(22.5), "22.5");
        assert_eq!(pct_words(0.03), "3%");
        assert_eq!(gate_words("join_ms", "p95", 500.0), "join_ms p95 ≤ 500 ms");
        assert_eq!(
            gate_words("error_rate", "value", 0.01),
            "error_rate ≤ 1.00 %"
        );
    }
}
