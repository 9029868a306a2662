//! Recording and results: the metric vocabulary, the recorder that owns every histogram,
//! the per-second series writers, the serializable [`RunResult`] and the merging of shard
//! results into one (`merge`, `series_merge`).
//!
//! Must not import `engine` internals beyond system readings, nor `report`.

mod build;
pub mod details;
pub mod live;
pub mod merge;
mod names;
pub mod outcome;
pub mod recorder;
pub mod result;
pub mod series;
pub mod series_merge;

pub use build::breakdowns;
pub use names::{ErrorKind, Metric, MetricInfo, Stat, Unit, METRICS};
pub use outcome::{ViewerCounts, ViewerOutcome};
pub use recorder::{Event, LiveStats, Recorder, RecorderHandle, RecorderState};
pub use result::{Breakdown, GeneratorHealth, MetricSummary, RunResult, RunStatus, SloResult};

#[cfg(test)]
mod tests;
