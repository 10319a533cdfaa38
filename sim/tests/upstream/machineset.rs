//! The MachineSet controller: `core/reconcilers/machineset/*_test.go`.
