//! The single integration-test binary: one module per area. Every test runs against loopback
//! only, is bounded in time, and writes under a temp dir.

#[path = "suite/common.rs"]
mod common;

#[path = "suite/input_errors.rs"]
mod input_errors;

#[path = "suite/end_to_end.rs"]
mod end_to_end;

#[path = "suite/safety.rs"]
mod safety;

#[path = "suite/netem.rs"]
mod netem;

#[path = "suite/analysis.rs"]
mod analysis;

#[path = "suite/player.rs"]
mod player;

#[path = "suite/real_servers.rs"]
mod real_servers;

#[path = "suite/generator.rs"]
mod generator;

#[path = "suite/charts.rs"]
mod charts;

#[path = "suite/merge.rs"]
mod merge;

#[path = "suite/hostile_server.rs"]
mod hostile_server;

#[path = "suite/hostile.rs"]
mod hostile;

#[path = "suite/disk_full.rs"]
mod disk_full;

#[path = "suite/outcomes.rs"]
mod outcomes;

#[path = "suite/k8s.rs"]
mod k8s;

#[path = "suite/story.rs"]
mod story;

#[path = "suite/journey.rs"]
mod journey;

#[path = "suite/feeders.rs"]
mod feeders;

#[path = "suite/library.rs"]
mod library;

#[path = "suite/prometheus.rs"]
mod prometheus;

#[path = "suite/capacity.rs"]
mod capacity;

#[path = "suite/mutate.rs"]
mod mutate;

#[path = "suite/fuzz.rs"]
mod fuzz;

#[path = "suite/schema.rs"]
mod schema;
