//! ClusterResourceSet: `core/reconcilers/clusterresourceset/*_test.go`.
