//! Admission webhooks of CAPI, KCP, CABPK and CAPD: `**/webhooks/**/*_test.go`.
