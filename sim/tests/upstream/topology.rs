//! ClusterClass and managed topologies: `core/reconcilers/{clusterclass,topology}/**/*_test.go`.
