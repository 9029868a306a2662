//! peakready: rehearse a live-streaming platform's peak night.
//!
//! # Layout
//! Data flows one way (see `docs/architecture.md`):
//! `scenario` (YAML → typed [`scenario::Scenario`]) → `plan` (arrival schedule) → `engine`
//! (one task per viewer, `protocol` clients) → `metrics` (recorder, `RunResult`) → `analysis`
//! (SLOs, verdicts) → `report` (files). `staging` is the embedded test server; `run` lists the
//! stages of a run; `merge` combines shard results directories into one; `cli` maps verbs onto
//! them.

pub mod analysis;
pub mod cli;
pub mod engine;
pub mod merge;
pub mod metrics;
pub mod netem;
pub mod plan;
pub mod protocol;
pub mod quick;
pub mod report;
pub mod run;
pub mod scenario;
pub mod staging;
pub mod validate;
