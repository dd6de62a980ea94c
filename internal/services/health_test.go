package services

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/compose"
)

// execRuntime answers Exec from a script of exit codes (-1: an error);
// the healthcheck needs nothing else.
type execRuntime struct {
	Runtime
	mu    sync.Mutex
	codes []int
}

func (e *execRuntime) Exec(ctx context.Context, ns, id string, args []string) (uint32, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.codes) == 0 {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	c := e.codes[0]
	e.codes = e.codes[1:]
	if c < 0 {
		return 0, errors.New("exec failed")
	}
	return uint32(c), nil
}

func TestHealthcheck(t *testing.T) {
	for _, tt := range []struct {
		name   string
		codes  []int
		health compose.Healthcheck
		want   []string // the states seen, in order
	}{
		{"healthy at the first success", []int{1, 0}, compose.Healthcheck{Retries: 3}, []string{healthHealthy}},
		{"unhealthy after retries", []int{1, -1, 1}, compose.Healthcheck{Retries: 3}, []string{healthUnhealthy}},
		{"recovers", []int{0, 1, 1, 0}, compose.Healthcheck{Retries: 2}, []string{healthHealthy, healthUnhealthy, healthHealthy}},
		{"start period forgives", []int{1, 1, 1, 0}, compose.Healthcheck{Retries: 1, StartPeriod: time.Hour}, []string{healthHealthy}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt := &execRuntime{codes: tt.codes}
			r := New(rt, nil, Config{StateDir: t.TempDir(), Instance: "i", Log: slog.New(slog.DiscardHandler)})
			h := tt.health
			h.Test, h.Interval = []string{"/check"}, 20*time.Millisecond // apart enough to see each change
			s := r.newService(compose.Service{Name: "db", Health: &h}, "db-1")
			s.health = healthStarting
			var seen []string
			r.mu.Lock()
			changed := r.changed
			r.mu.Unlock()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { r.healthcheck(ctx, s); close(done) }()
			deadline := time.After(5 * time.Second)
			for len(seen) < len(tt.want) {
				select {
				case <-changed:
				case <-deadline:
					t.Fatalf("health states %v, want %v", seen, tt.want)
				}
				r.mu.Lock()
				seen, changed = append(seen, s.health), r.changed
				r.mu.Unlock()
			}
			cancel()
			<-done
			for i := range tt.want {
				if seen[i] != tt.want[i] {
					t.Fatalf("health states %v, want %v", seen, tt.want)
				}
			}
		})
	}
}
