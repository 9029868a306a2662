//! The readiness target: the one load figure a run is judged against, computed here for
//! `validate` (from the scenario and its plan, before any load) and for the analysis (from
//! results.json), so the terminal, report.md, report.html, the card and the checklist print the
//! same number `validate` announced.
//!
//! With an `event` forecast: forecast × `load.scale` × `event.headroom`. Without one: the run's
//! own planned peak. A region's target is its share of the whole.

use crate::format::{num, pct};
use crate::plan::{Plan, PlannedPeak};
use crate::scenario::Scenario;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub viewers: f64,
    pub joins_per_sec: f64,
    /// True when the figure comes from the event forecast (else the run's own plan).
    pub from_event: bool,
    pub forecast_viewers: Option<f64>,
    pub scale: f64,
    pub headroom: f64,
}

/// The target from the forecast (when given) or the planned peak.
pub fn target(
    forecast_viewers: Option<f64>,
    forecast_joins: Option<f64>,
    scale: f64,
    headroom: f64,
    planned_viewers: f64,
    planned_joins: f64,
) -> Target {
    Target {
        viewers: forecast_viewers.map_or(planned_viewers, |v| v * scale * headroom),
        joins_per_sec: forecast_joins.map_or(planned_joins, |j| j * scale * headroom),
        from_event: forecast_viewers.is_some(),
        forecast_viewers,
        scale,
        headroom,
    }
}

/// The target of a scenario and its plan: what `validate` and `capacity` announce and what the
/// analysis judges a run against, from one rule.
pub fn of_scenario(s: &Scenario, plan: &Plan) -> Target {
    let peak: PlannedPeak = plan.peak();
    let event = s.event.as_ref();
    target(
        event
            .and_then(|e| e.expected_peak_viewers)
            .map(|v| v as f64),
        event.and_then(|e| e.expected_peak_joins_per_sec),
        s.load.scale,
        event.map_or(1.0, |e| e.headroom),
        peak.viewers,
        peak.joins_per_sec,
    )
}

impl Target {
    /// "375 concurrent viewers (= 250 forecast × 100% scale × 1.5 headroom)".
    pub fn words(&self) -> String {
        match self.forecast_viewers {
            Some(f) => format!(
                "{} concurrent viewers (= {} forecast × {} scale × {} headroom)",
                num(self.viewers),
                num(f),
                pct(self.scale),
                self.headroom
            ),
            None => format!(
                "{} concurrent viewers (the run's own planned peak; no event forecast)",
                num(self.viewers)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_forecast_times_scale_times_headroom_else_the_plan() {
        let t = target(Some(250.0), Some(20.0), 1.0, 1.5, 325.0, 30.0);
        assert_eq!(
            (t.viewers, t.joins_per_sec, t.from_event),
            (375.0, 30.0, true)
        );
        assert_eq!(
            t.words(),
            "375 concurrent viewers (= 250 forecast × 100% scale × 1.5 headroom)"
        );
        let p = target(None, None, 0.5, 1.0, 325.0, 30.0);
        assert_eq!(
            (p.viewers, p.joins_per_sec, p.from_event),
            (325.0, 30.0, false)
        );
    }
}
