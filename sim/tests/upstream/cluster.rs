//! The Cluster controller: `core/reconcilers/cluster/*_test.go`.
