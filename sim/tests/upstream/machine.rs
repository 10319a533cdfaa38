//! The Machine controller: `core/reconcilers/machine/**/*_test.go` (drain included).
