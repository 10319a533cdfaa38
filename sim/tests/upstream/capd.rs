//! CAPD, both shapes: `test/infrastructure/docker/**/*_test.go` (main `Dev*`, v1.13.5 `Docker*`).
