//! peakready: rehearse a live-streaming platform's peak night.
//!
//! # Layout
//! Data flows one way (see `docs/architecture.md`):
//! `scenario` (YAML → typed [`scenario::Scenario`]) → `plan` (arrival schedule) → `engine`
//! (one task per viewer, `protocol` clients) → `metrics` (recorder, `RunResult`) → `analysis`
//! (SLOs, verdicts) → `report` (files). `staging` is the embedded test server.

pub mod metrics;
pub mod protocol;
pub mod scenario;
pub mod staging;
