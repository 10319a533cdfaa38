//! A deterministic discrete-event simulator of Cluster API (v1beta2) with the Docker provider and the
//! workload clusters they create.
//!
//! Determinism: one seed, split per purpose ([`engine::rng`]); virtual time only; no threads; no
//! hash-map iteration. The same seed and scenario give the same trace, byte for byte.

pub mod apply;
pub mod backend;
pub mod check;
pub mod clusterctl;
pub mod engine;
pub mod events;
pub mod faults;
pub mod features;
pub mod godur;
pub mod gotime;
pub mod invariants;
pub mod kinds;
pub mod memo;
pub mod mutants;
pub mod object;
pub mod objectset;
pub mod release;
pub mod runtime;
pub mod shared;
pub mod store;
pub mod swarm;
pub mod testing;
pub mod types;
pub mod world;

pub mod capd;
pub mod controllers;
pub mod webhooks;

pub use engine::{Sim, SimConfig};
pub use kinds::Kind;
pub use object::{ObjKey, Object};
