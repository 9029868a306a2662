//! Scenario files: parse, interpolate `${VAR}`, validate, resolve into [`Scenario`].

pub mod duration;
mod model;
pub use model::*;
#[cfg(test)]
mod fixture;
