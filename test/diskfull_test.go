package e2e

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
	"github.com/funcd/funcd/internal/disktest"
	"github.com/funcd/funcd/internal/logs"
	"github.com/funcd/funcd/test/testenv"
)

// answerQuick is how long an answer given "at once" may take on a slow
// machine: well under the 5 s a publish waits for a store that does not
// answer.
const answerQuick = 3 * time.Second

// smallStateDir mounts a 64 MiB tmpfs as the state directory of a funcd
// in a new directory of the run, and returns the option that runs funcd
// there. It is unmounted at cleanup, after funcd is gone.
func smallStateDir(t *testing.T) (FuncdOption, string) {
	t.Helper()
	requireE2E(t)
	dir, err := os.MkdirTemp(h.Dir, "diskfull-")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", state, "tmpfs", 0, "size=64m,mode=0700"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", state, err)
	}
	t.Cleanup(func() { // after funcd's cleanup, which unmounts what funcd pinned there
		if err := testenv.UnmountUnder(dir); err != nil {
			t.Error(err)
		}
	})
	return func(o *testenv.FuncdOptions) { o.Dir = dir }, state
}

// getStatus answers GET url: its status and body.
func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// postAsync queues an invocation of name's path and returns the answer.
func postAsync(t *testing.T, f *Funcd, name, path, callID string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.URL+"/async-function/"+name+path, strings.NewReader(callID))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Call-Id", callID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /async-function/%s%s: %v", name, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// statusOf is the HTTP status inside a client error, or 0.
func statusOf(err error) (int, string) {
	var se *client.StatusError
	if errors.As(err, &se) {
		return se.Code, se.Body
	}
	return 0, ""
}

// tempFiles lists files under dir that a write in progress leaves: the
// temporaries of atomic writes.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), ".tmp") {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// TestDiskFull runs funcd with its state directory on a 64 MiB disk (less
// than --queue-max-bytes, so the queue is capped), queues invocations,
// fills the disk and frees it again: while full, /async-function answers
// 507 with Retry-After at once, /readyz says the queue is degraded while
// /healthz and synchronous invocations work, writes under /system answer
// 507 naming the disk and leave nothing behind, and the function's output
// is dropped; once freed, everything works again without a restart, every
// invocation accepted before is delivered and the log records again.
func TestDiskFull(t *testing.T) {
	inDir, state := smallStateDir(t)
	f := startFuncd(t, inDir, WithArgs("--queue-workers", "1"))
	c := f.Client(t)
	if log := testenv.Tail(f.LogPath, 200); !strings.Contains(log, "less free space than --queue-max-bytes") {
		t.Errorf("funcd log does not warn that the queue was capped to the disk:\n%s", log)
	}
	deployReady(t, c, api.FunctionDeployment{Service: "tally", Image: imageRef("testfn:v1")})
	logText(t, c, "tally", "before-fill", "stdout")
	waitForLine(t, c, "tally", "before-fill")

	var accepted []string
	for i := range 10 {
		id := fmt.Sprintf("before-%d", i)
		if resp, body := postAsync(t, f, "tally", "/record?ms=300", id); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /async-function/tally = %d %q, want 202", resp.StatusCode, body)
		}
		accepted = append(accepted, id)
	}
	held := leftovers(t, f) // tally's own: what a failed deploy must not add to

	fill := disktest.Fill(t, state)
	freed := false
	defer func() {
		if !freed {
			os.Remove(fill)
		}
	}()

	start := time.Now()
	resp, body := postAsync(t, f, "tally", "/record", "during-fill")
	if took := time.Since(start); resp.StatusCode != http.StatusInsufficientStorage || resp.Header.Get("Retry-After") == "" || took > answerQuick {
		t.Errorf("POST /async-function on a full disk = %d (Retry-After %q) %q after %v, want 507 with Retry-After at once",
			resp.StatusCode, resp.Header.Get("Retry-After"), body, took)
	}
	if code, body := getStatus(t, f.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "queue") ||
		!strings.Contains(body, "full") || strings.Contains(body, state) {
		t.Errorf("GET /readyz on a full disk = %d %q, want 503 saying the queue's disk is full, naming no path (it is open)", code, body)
	}
	if code, body := getStatus(t, f.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz on a full disk = %d %q, want 200: funcd still serves", code, body)
	}
	if code, body, err := call(t.Context(), c, "tally", http.MethodGet, "/sleep?ms=1", ""); err != nil || code != http.StatusOK {
		t.Errorf("synchronous invocation on a full disk = %d %q, %v; want 200", code, body, err)
	}
	// Dropped by the log driver: more than the page the log file ends in
	// may still hold (lines of 3 KB: the proxy's relay refuses request
	// lines over 4 KiB).
	whileFull := []string{"while-full-1-" + strings.Repeat("x", 3000), "while-full-2-" + strings.Repeat("x", 3000)}
	for _, text := range whileFull {
		logText(t, c, "tally", text, "stdout")
	}

	// Writes under /system say what is exhausted, and leave nothing.
	for _, w := range []struct {
		what string
		do   func() error
	}{
		{"create a secret", func() error {
			return c.CreateSecret(t.Context(), api.Secret{Name: "big", Value: strings.Repeat("x", 64<<10)})
		}},
		{"create a namespace", func() error {
			return c.CreateNamespace(t.Context(), api.FunctionNamespace{Name: "dev", Labels: map[string]string{"openfaas": "1"}})
		}},
		{"deploy", func() error {
			return c.Deploy(t.Context(), api.FunctionDeployment{Service: "late", Image: imageRef("testfn:v1")})
		}},
	} {
		code, body := statusOf(w.do())
		if code != http.StatusInsufficientStorage || !strings.Contains(body, "no space left") {
			t.Errorf("%s on a full disk = %d %q, want 507 saying there is no space left", w.what, code, body)
		}
	}
	if got := leftovers(t, f); !slices.Equal(got, held) {
		t.Errorf("after the failed writes: %v, want only tally's %v", got, held)
	}
	if tmp := tempFiles(t, state); len(tmp) > 0 {
		t.Errorf("after the failed writes, temporary files are left: %v", tmp)
	}
	if _, err := os.Stat(filepath.Join(state, "functions", fnNamespace, "late.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the failed deploy left its record: %v", err)
	}

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	freed = true
	eventually(t, 30*time.Second, func() error {
		resp, body := postAsync(t, f, "tally", "/record", "after-free")
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("POST /async-function/tally = %d %q", resp.StatusCode, body)
		}
		return nil
	})
	accepted = append(accepted, "after-free")
	if code, body := getStatus(t, f.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("GET /readyz once space is back = %d %q, want 200", code, body)
	}
	eventually(t, time.Minute, func() error {
		seen := map[string]bool{}
		for _, rc := range recorded(t, c, "tally") {
			seen[rc.CallID] = true
		}
		for _, id := range accepted {
			if !seen[id] {
				return fmt.Errorf("call %s not delivered yet", id)
			}
		}
		return nil
	})

	logText(t, c, "tally", "after-free", "stdout")
	waitForLine(t, c, "tally", "after-free")
	got := logTexts(readLogs(t, c, "tally", client.LogOptions{}))
	if slices.Contains(got, whileFull[0]) && slices.Contains(got, whileFull[1]) {
		t.Errorf("logs = %q: every line written while the disk was full was stored", got)
	}
	note := slices.IndexFunc(got, func(s string) bool { return strings.Contains(s, "of output lost") })
	if note < 0 || !strings.Contains(got[note], "no space left on device") || got[note+1] != "after-free" {
		t.Errorf("logs = %q, want a note of the lost lines (%q) just before after-free", got, logs.LostNote)
	}
	if err := c.CreateSecret(t.Context(), api.Secret{Name: "big", Value: "v"}); err != nil {
		t.Errorf("create a secret once space is back = %v", err)
	}
}
