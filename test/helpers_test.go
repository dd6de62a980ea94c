package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/funcd/funcd/test/testenv"
)

// eventually calls f until it returns nil, failing the test with f's last
// error when timeout passes first.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if err := testenv.Poll(ctx, f); err != nil {
		t.Fatalf("not done after %v: %v", timeout, err)
	}
}
