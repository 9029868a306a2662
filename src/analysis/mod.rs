//! Judging a run from its results alone: SLO gates (and, later, capacity and verdicts).
//! Reads `RunResult`; never imports `engine` or `report`.

pub mod slo;
