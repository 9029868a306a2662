//! peakready: rehearse a live-streaming platform's peak night.
//!
//! # Layout
//! Data flows one way (see `docs/architecture.md`):
//! `scenario` (YAML → typed [`scenario::Scenario`]) → `plan` (arrival schedule) → `engine`
//! (one task per viewer, `protocol` clients) → `metrics` (recorder, `RunResult`) → `analysis`
//! (SLOs, verdicts) → `report` (files). `staging` is the embedded test server; `cmd` holds the verbs
//! (one file each, its `run()` a list of stages); `cli` turns arguments into their options.

pub mod analysis;
pub mod cli;
pub mod cmd;
pub mod collector;
pub mod engine;
pub mod format;
pub mod k8s;
pub mod metrics;
pub mod plan;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod staging;
pub mod sysinfo;
