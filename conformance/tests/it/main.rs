//! The conformance crate's one test binary: the watch and retry logic under turmoil (`watch`,
//! `retry`, over the fake API server of `fake_api`), the outcome comparison (`compare`), what a
//! scenario may touch (`scope`), the Docker safety rules against a real engine when one is reachable
//! (`docker_safety`), the served simulator (`serve`), and the conformance backend running library
//! scenarios against the served simulator (`kube_backend_served`), and end to end with the served
//! simulator's real containers compared with direct simulator runs (`e2e_served_docker`).

mod compare;
mod docker_safety;
mod e2e_served_docker;
mod fake_api;
mod fuzz;
mod kube_backend_served;
mod limits_doc;
mod retry;
mod scope;
mod serve;
mod watch;
