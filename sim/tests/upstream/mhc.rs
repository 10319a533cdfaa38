//! MachineHealthCheck: `core/reconcilers/machinehealthcheck/*_test.go`.
