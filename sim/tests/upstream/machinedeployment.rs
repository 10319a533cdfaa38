//! The MachineDeployment controller: `core/reconcilers/machinedeployment/**/*_test.go`.
