//go:build tools

// Package tools pins etcd (the go.etcd.io/etcd/server/v3 module root is the
// etcd main package) so that `go mod tidy` keeps its dependency graph in
// go.mod/go.sum. It is never compiled; tools/build-sandbox-bin.sh runs
// `go build go.etcd.io/etcd/server/v3` from this directory.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
