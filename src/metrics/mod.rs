//! Recording and results: the metric vocabulary, the recorder that owns every histogram,
//! the per-second series writers and the serializable [`RunResult`].
//!
//! Must not import `engine` internals beyond system readings, nor `report`.

mod build;
mod names;
pub mod recorder;
pub mod result;
pub mod series;

pub use build::breakdowns;
pub use names::{ErrorKind, Metric, Unit};
pub use recorder::{Event, LiveStats, Recorder, RecorderHandle, RecorderState};
pub use result::{Breakdown, GeneratorHealth, MetricSummary, RunResult, RunStatus, SloResult};

#[cfg(test)]
mod tests;
