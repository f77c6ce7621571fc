//go:build tools

// Package tools pins the containerd commands built by tools/build-node-bin.sh
// so that `go mod tidy` keeps their dependency graph in go.mod/go.sum. It is
// never compiled.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
