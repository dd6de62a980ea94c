package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

// TestAsyncKill9MidBurst sends a burst of 5,000 queued invocations from
// 32 posters with fsync on (the default), kills funcd with SIGKILL while
// the posts are still arriving, starts it again and checks that every
// call id answered 202 reached the function: a 202 means the request
// was stored. Posts cut off by the kill got no 202 and
// may or may not run.
func TestAsyncKill9MidBurst(t *testing.T) {
	const (
		n       = 5000
		posters = 32
		killAt  = n / 4 // 202s before the kill
	)
	f := startFuncd(t)
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "burst", Image: imageRef("testfn:v1")})
	hc := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: posters, MaxIdleConnsPerHost: posters}}
	defer hc.CloseIdleConnections()
	ac := client.New(f.Funcd.URL, client.WithHTTPClient(hc))

	var (
		mu       sync.Mutex
		accepted = map[string]bool{}
		next     atomic.Int64
		refused  atomic.Int64 // posts that got no 202 (the kill)
		wg       sync.WaitGroup
		kill     sync.Once
		killed   = make(chan struct{})
	)
	for range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= n; i = next.Add(1) {
				id, err := ac.InvokeAsync(t.Context(), "burst", "", "/record", strings.NewReader(fmt.Sprint(i)), nil)
				if err != nil {
					refused.Add(1)
					select {
					case <-killed:
						return // funcd is gone: this poster is done
					default:
						t.Errorf("InvokeAsync before the kill = %v", err)
						return
					}
				}
				if id == "" {
					t.Errorf("202 without X-Call-Id")
					return
				}
				mu.Lock()
				accepted[id] = true
				count := len(accepted)
				mu.Unlock()
				if count >= killAt {
					kill.Do(func() {
						close(killed)
						f.Kill9(t)
					})
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	select {
	case <-killed:
	default:
		t.Fatalf("funcd was never killed")
	}
	if len(accepted) >= n {
		t.Fatalf("all %d posts were accepted before the kill took effect; the test proves nothing", n)
	}
	t.Logf("killed funcd mid-burst: %d posts answered 202, %d cut off", len(accepted), refused.Load())
	if err := f.Funcd.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	queueSettled(t, c, 3*time.Minute)
	seen := map[string]int{}
	for _, cl := range recorded(t, c, "burst") {
		seen[cl.CallID]++
	}
	missing := 0
	for id := range accepted {
		if seen[id] == 0 {
			missing++
			if missing <= 10 {
				t.Errorf("call %s was answered 202 but never reached the function", id)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d accepted calls never ran", missing, len(accepted))
	}
	t.Logf("%d accepted, %d distinct call ids ran", len(accepted), len(seen))
}
