//! `compare` of two capacity searches: their capacities, as brackets. A search answers "the
//! capacity is at least the highest pass and below the lowest fail", so two answers differ only
//! when their brackets do not overlap: the candidate **regressed** when it failed at a level the
//! base held (candidate's lowest fail ≤ base's highest pass), and **improved** when it held a
//! level the base failed. Overlapping brackets are the same capacity within the searches'
//! precision, whatever their midpoints say.

use crate::analysis::search::level_words;
use crate::format::num;
use crate::metrics::search::CapacitySearch;

#[derive(Debug, Clone, PartialEq)]
pub struct CapacityComparison {
    pub base: String,
    pub candidate: String,
    pub regression: bool,
    pub improvement: bool,
    /// The comparison in one sentence.
    pub words: String,
}

/// `[300, 312)`-style bracket in words: "300–312 concurrent viewers", "below 50 (doom)", "≥ 800
/// (no knee up to max)".
fn bracket(c: &CapacitySearch) -> String {
    let unit = c.quantity.unit();
    match (c.highest_pass, c.lowest_fail) {
        (Some(p), Some(f)) if f > p => format!("{}–{} {unit}", num(p), num(f)),
        (Some(p), Some(_)) => format!("below {} {unit} (hold failed)", num(p)),
        (None, Some(f)) => format!("below {} {unit}", num(f)),
        (Some(p), None) => format!("≥ {} {unit} ({})", num(p), c.outcome.words()),
        (None, None) => format!("unknown ({})", c.outcome.words()),
    }
}

/// Compare the capacities when both runs are capacity searches; a warning when only one is.
pub fn compare(
    base: Option<&CapacitySearch>,
    cand: Option<&CapacitySearch>,
) -> Result<Option<CapacityComparison>, String> {
    let (b, c) = match (base, cand) {
        (Some(b), Some(c)) => (b, c),
        (None, None) => return Ok(None),
        _ => {
            return Err("only one of the runs is a capacity search: capacities not compared".into())
        }
    };
    if b.quantity != c.quantity {
        return Err(format!(
            "the searches measured different quantities ({} vs {}): capacities not compared",
            b.quantity.name(),
            c.quantity.name()
        ));
    }
    // A hold that failed at its pass leaves the capacity below it: the pass is not held.
    let held = |x: &CapacitySearch| {
        x.highest_pass
            .filter(|p| x.lowest_fail.map_or(true, |f| f > *p))
    };
    let regression = matches!((held(b), c.lowest_fail), (Some(bp), Some(cf)) if cf <= bp);
    let improvement = matches!((held(c), b.lowest_fail), (Some(cp), Some(bf)) if cp >= bf);
    let verdict = if regression {
        format!(
            "REGRESSION: the candidate failed at {}, a level the base held",
            level_words(c.quantity, c.lowest_fail.unwrap_or(0.0))
        )
    } else if improvement {
        format!(
            "improved: the candidate held {}, a level the base failed",
            level_words(c.quantity, held(c).unwrap_or(0.0))
        )
    } else {
        "the same capacity within the searches' precision (the brackets overlap)".to_string()
    };
    Ok(Some(CapacityComparison {
        base: bracket(b),
        candidate: bracket(c),
        regression,
        improvement,
        words: format!(
            "Capacity: base {}, candidate {}: {verdict}.",
            bracket(b),
            bracket(c)
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brackets(b: (Option<f64>, Option<f64>), c: (Option<f64>, Option<f64>)) -> (bool, bool) {
        let base: CapacitySearch = serde_json::from_value(serde_json::json!({
            "quantity": "concurrent_viewers", "start": 50.0, "max": 800.0, "precision": 0.05,
            "ramp_s": 2.0, "settle_s": 1.0, "step_s": 3.0, "cooldown_s": 1.0, "hold_s": 5.0,
            "gates": [], "steps": [], "hold": null, "outcome": "bracket",
            "highest_pass": b.0, "lowest_fail": b.1, "failing_region": null,
            "sentence": "", "advice": null, "target": 300.0, "target_basis": "event"
        }))
        .expect("a capacity search");
        let mut cand = base.clone();
        (cand.highest_pass, cand.lowest_fail) = c;
        let out = compare(Some(&base), Some(&cand))
            .expect("comparable")
            .expect("both are searches");
        (out.regression, out.improvement)
    }

    #[test]
    fn only_brackets_that_do_not_overlap_differ() {
        assert_eq!(
            brackets((Some(300.0), Some(312.0)), (Some(200.0), Some(225.0))),
            (true, false)
        );
        assert_eq!(
            brackets((Some(300.0), Some(312.0)), (Some(306.0), Some(320.0))),
            (false, false)
        );
        assert_eq!(
            brackets((Some(200.0), Some(225.0)), (Some(300.0), Some(312.0))),
            (false, true)
        );
        // Doom in the candidate (failed at start 50) against a base that held 300.
        assert_eq!(
            brackets((Some(300.0), Some(312.0)), (None, Some(50.0))),
            (true, false)
        );
        // A failed hold at 300 in the base: its capacity is below 300, so 250–260 is no regression.
        assert_eq!(
            brackets((Some(300.0), Some(300.0)), (Some(250.0), Some(260.0))),
            (false, false)
        );
    }
}
