//! The MachinePool controller: `core/reconcilers/machinepool/*_test.go`.
