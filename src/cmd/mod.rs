//! The verbs: each file lists the stages of one command, in order (`cli` maps arguments onto
//! them). Stages live in their own modules (`scenario`, `plan`, `engine`, `metrics`,
//! `analysis`, `report`); a verb only sequences them.

pub mod capacity;
pub mod collect;
pub mod k8s;
pub mod live;
pub mod merge;
pub mod quick;
pub mod run;
pub mod validate;
