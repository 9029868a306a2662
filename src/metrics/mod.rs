//! Recording and results: metric vocabulary, the recorder, `RunResult`.

mod names;
pub use names::{ErrorKind, Metric, Unit};
