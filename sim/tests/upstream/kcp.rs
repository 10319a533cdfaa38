//! KubeadmControlPlane: `controlplane/kubeadm/internal/**/*_test.go`.
