//! Tests of the scenario language: parse errors name file, line and column; predicates evaluate as
//! documented; the runner reports every step.

mod errors;
mod library;
mod runner;
mod schema;
mod vars;
