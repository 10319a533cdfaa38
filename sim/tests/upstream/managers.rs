//! Manager defaults, ClusterCache and feature gates: `main.go`s, `controllers/clustercache/*_test.go`, `feature/`.
