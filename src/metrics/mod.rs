//! Recording and results: the metric vocabulary, the recorder that owns every histogram,
//! the per-second series writers, the serializable [`RunResult`] and the merging of shard
//! results into one (`merge`, `series_merge`).
//!
//! Must not import `engine` or `report`.

mod build;
pub mod cell;
pub mod details;
mod errors;
pub mod generator;
pub mod live;
pub mod merge;
mod names;
pub mod outcome;
pub mod recorder;
mod recording;
pub mod result;
pub mod runtime;
pub mod schema;
pub mod search;
pub mod series;
pub mod series_file;
pub mod series_merge;
mod stat;

pub use build::breakdowns;
pub use names::{ErrorKind, Metric, MetricInfo, Stat, Unit, METRICS};
pub use outcome::{ViewerCounts, ViewerOutcome};
pub use recorder::{Event, LiveStats, Recorder, RecorderHandle, RecorderState};
pub use recording::{Measured, Recording};
pub use result::{
    Breakdown, GeneratorHealth, MetricSummary, RunHead, RunResult, RunStatus, SloResult,
};

#[cfg(test)]
mod tests;
