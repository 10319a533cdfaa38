//! The kubeadm bootstrap provider (CABPK): `bootstrap/kubeadm/internal/controllers/*_test.go`.
