package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sent collects what watchdog sends to systemd.
type sent struct {
	mu     sync.Mutex
	states []string
}

func (s *sent) send(state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states = append(s.states, state)
	return nil
}

func (s *sent) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.states)
}

func TestWatchdogPetsOnlyWhileHealthy(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	interval := 40 * time.Millisecond
	var healthy atomic.Bool
	healthy.Store(true)
	stuck := make(chan struct{})
	defer close(stuck)
	var mode atomic.Int32 // 0 healthy/failing by flag, 1 stuck
	check := func(ctx context.Context) error {
		if mode.Load() == 1 {
			select {
			case <-stuck:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !healthy.Load() {
			return errors.New("sick")
		}
		return nil
	}
	var health atomic.Pointer[func(context.Context) error]
	s := &sent{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); watchdog(ctx, interval, &health, s.send, quiet) }()

	// Starting (no check yet) counts as alive.
	waitUntil(t, "a watchdog ping while starting", func() bool { return s.count() >= 2 })
	health.Store(&check)
	waitUntil(t, "pings while healthy", func() bool { return s.count() >= 4 })

	healthy.Store(false)
	time.Sleep(interval) // a ping under way may still land
	n := s.count()
	time.Sleep(3 * interval)
	if s.count() != n {
		t.Errorf("pinged %d times while the check failed", s.count()-n)
	}

	healthy.Store(true)
	mode.Store(1)
	time.Sleep(interval)
	n = s.count()
	time.Sleep(3 * interval)
	if s.count() != n {
		t.Errorf("pinged %d times while the check hung", s.count()-n)
	}

	mode.Store(0)
	waitUntil(t, "pings once healthy again", func() bool { return s.count() > n })
	cancel()
	<-done
	for _, st := range s.states {
		if st != "WATCHDOG=1" {
			t.Errorf("sent %q, want only WATCHDOG=1", st)
		}
	}
}

func TestSelfCheck(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	ln, err := net.Listen("tcp", "0.0.0.0:0") // unspecified: reached over loopback
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	var aliveErr atomic.Value
	aliveErr.Store(errors.New(""))
	alive := func(context.Context) error {
		if e := aliveErr.Load().(error); e.Error() != "" {
			return e
		}
		return nil
	}
	check := selfCheck(ln.Addr(), alive)
	ctx := context.Background()
	if err := check(ctx); err != nil {
		t.Errorf("healthy: %v", err)
	}
	status.Store(http.StatusInternalServerError)
	if err := check(ctx); err == nil {
		t.Error("passed while /healthz answered 500")
	}
	status.Store(http.StatusOK)
	aliveErr.Store(errors.New("provider: the function table stayed locked"))
	if err := check(ctx); err == nil {
		t.Error("passed while the supervisor was stuck")
	}
	srv.Close()
	aliveErr.Store(errors.New(""))
	if err := check(ctx); err == nil {
		t.Error("passed with nothing listening")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSameAddr(t *testing.T) {
	tcp := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	for _, tt := range []struct {
		got  net.Addr
		want string
		same bool
	}{
		{tcp("127.0.0.1", 8080), "127.0.0.1:8080", true},
		{tcp("::", 8080), ":8080", true},
		{tcp("0.0.0.0", 8080), "0.0.0.0:8080", true},
		{tcp("::", 8080), "0.0.0.0:8080", true},
		{tcp("127.0.0.1", 8080), ":8080", false},
		{tcp("127.0.0.1", 8080), "127.0.0.1:9090", false},
		{tcp("10.62.0.1", 8080), "10.62.0.2:8080", false},
		{tcp("127.0.0.1", 8080), "bad", false},
	} {
		if got := sameAddr(tt.got, tt.want); got != tt.same {
			t.Errorf("sameAddr(%v, %q) = %v, want %v", tt.got, tt.want, got, tt.same)
		}
	}
}
