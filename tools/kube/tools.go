//go:build tools

// Package tools pins the Kubernetes commands built by
// tools/build-sandbox-bin.sh (control plane) and tools/build-node-bin.sh
// (kubelet, kube-proxy) so that `go mod tidy` keeps their whole
// dependency graph in go.mod/go.sum. It is never compiled.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
