//! The scenario language of the CAPI simulation and conformance harness, shared by every backend.
//!
//! A scenario is a YAML file of steps (apply, patch, scale, delete, wait, expect, fault, clusterctl)
//! over CAPI manifests. [`load`] parses and checks it (every error names `file:line:col`), [`runner`]
//! drives any [`Backend`] through it, and [`outcome`] normalizes what a run leaves so that the
//! simulator's and a real cluster's results can be compared.

pub mod backend;
mod background;
pub mod duration;
pub mod error;
pub mod k8svalid;
pub mod keyed;
pub mod label_parse;
pub mod limits;
pub mod lines;
pub mod manifest;
pub mod model;
pub mod outcome;
pub mod parse;
pub mod predicate;
pub mod redact;
pub mod report;
pub mod runner;
pub mod schema;
pub mod selector;
pub mod stop;
pub mod target;
pub mod vars;

pub use backend::Backend;
pub use duration::DurationMs;
pub use error::{Location, ScenarioError};
pub use model::{Scenario, Step};
pub use parse::{load, LoadOptions};
pub use predicate::{ContainerInfo, Predicate};
pub use selector::LabelSelector;
pub use stop::{StopFlag, StopSignal};
pub use target::Target;
