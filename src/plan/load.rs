//! What one process of a plan holds at its peak: viewers, sockets per viewer, open files. Read
//! by `run`'s preflight checks (before any packet) and by `k8s render`'s pod sizing.

use super::Plan;
use crate::scenario::Scenario;

/// What one process of a plan holds at its peak (also sizes `k8s render`'s pods).
pub struct PlannedLoad {
    /// Expected peak concurrent viewers of this process (+10 % for the draw, capped).
    pub viewers: u64,
    /// Sockets per viewer (a chat WebSocket beside the HTTP connection).
    pub per_viewer: u64,
    /// Descriptors needed: viewers' sockets, publishers, 256 spare.
    pub open_files: u64,
}

pub fn planned_load(scenario: &Scenario, plan: &Plan) -> PlannedLoad {
    let expected_peak = plan.concurrency().peak * plan.fraction();
    // The plan's peak is an expectation; leave 10% for the draw, never more than the cap.
    let viewers = (expected_peak * 1.1).ceil().min(plan.max_viewers as f64) as u64;
    let per_viewer = 1 + u64::from(scenario.viewer.chat.is_some());
    let publishers = scenario
        .publishers
        .as_ref()
        .map_or(0, |p| u64::from(p.streams));
    PlannedLoad {
        viewers,
        per_viewer,
        open_files: viewers * per_viewer + publishers + 256,
    }
}
