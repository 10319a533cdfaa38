//! clusterctl: `cmd/clusterctl/client/cluster/mover_test.go` and friends.
