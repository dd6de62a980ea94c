package e2e

import (
	"testing"

	"github.com/containerd/containerd"
)

// containerdClient returns a client of the private containerd. Callers add
// the namespace: namespaces.WithNamespace(ctx, "openfaas-fn").
func containerdClient(t testing.TB) *containerd.Client {
	t.Helper()
	requireE2E(t)
	return h.Containerd.Client
}

// containerdAddress returns the private containerd's socket path.
func containerdAddress(t testing.TB) string {
	t.Helper()
	requireE2E(t)
	return h.Containerd.Socket
}
