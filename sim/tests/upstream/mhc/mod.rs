//! MachineHealthCheck, restated from `core/reconcilers/machinehealthcheck/machinehealthcheck_controller_test.go`
//! and `machinehealthcheck_targets_test.go` (cluster-api ae7ff047db), and from the e2e remediation
//! specs (`test/e2e/md_remediations.go`, `test/framework/machinehealthcheck_helpers.go`). Pure
//! functions are tested as upstream's table tests do; the controller's behaviour through scenarios.

mod controller;
mod limits;
mod mapping;
mod targets;
