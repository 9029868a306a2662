//! The verbs: each file lists the stages of one command, in order, behind one `run()` that
//! returns the [`Exit`] it earned (`cli` turns what was typed into each verb's options). Stages live in their own modules (`scenario`, `plan`, `engine`, `metrics`,
//! `analysis`, `report`); a verb only sequences them.

pub mod capacity;
pub mod collect;
pub mod compare;
pub mod demo;
pub mod k8s;
pub mod live;
pub mod merge;
pub mod quick;
pub mod report;
pub mod run;
pub mod serve;
pub mod validate;

/// What a verb earned, mapped onto the exit code by `main`.
pub enum Exit {
    Success,
    /// An SLO failed or the run aborted.
    Failed,
    /// The run's results could not all be recorded (a full disk, an unwritable directory).
    Unrecorded,
}
