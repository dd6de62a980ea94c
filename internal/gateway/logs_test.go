package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/logs"
)

// newLogsEnv returns a gateway serving the logs under a temporary
// directory for function "f" in the default namespace, with two replicas'
// lines already written.
func newLogsEnv(t *testing.T) (*env, string) {
	t.Helper()
	dir := t.TempDir()
	fns := &fakeFunctions{statuses: map[string]api.FunctionStatus{
		"f." + api.DefaultNamespace: {Name: "f", Namespace: api.DefaultNamespace},
	}}
	var buf bytes.Buffer
	cfg := Config{Credentials: creds, Logs: logs.NewStore(dir)}
	e := &env{fns: fns, gw: New(fns, invoked, cfg, slog.New(slog.NewTextHandler(&buf, nil))), log: &buf}
	fdir := logs.FunctionDir(dir, api.DefaultNamespace, "f")
	if err := os.MkdirAll(fdir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(file, data string) {
		if err := os.WriteFile(filepath.Join(fdir, file), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("f-a.log", "2026-11-26T03:00:01Z stdout one\n2026-11-26T03:00:03Z stderr three\n")
	write("f-b.log", "2026-11-26T03:00:02Z stdout two\n2026-11-26T03:00:04Z stdout four\n")
	return e, fdir
}

func decodeLogs(t *testing.T, body string) []api.LogMessage {
	t.Helper()
	var out []api.LogMessage
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if line == "" {
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		for _, k := range []string{"name", "namespace", "instance", "timestamp", "text"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("line %q lacks key %q", line, k)
			}
		}
		var m api.LogMessage
		_ = json.Unmarshal([]byte(line), &m)
		out = append(out, m)
	}
	return out
}

func TestLogs(t *testing.T) {
	e, _ := newLogsEnv(t)
	tests := []struct {
		query string
		want  []string // instance:text
	}{
		{"name=f", []string{"f-a:one", "f-b:two", "f-a:three", "f-b:four"}},
		{"name=f&tail=-1&follow=false", []string{"f-a:one", "f-b:two", "f-a:three", "f-b:four"}},
		{"name=f&tail=2", []string{"f-a:three", "f-b:four"}},
		{"name=f&tail=0", []string{"f-a:one", "f-b:two", "f-a:three", "f-b:four"}},
		{"name=f&since=2026-11-26T03:00:03Z", []string{"f-a:three", "f-b:four"}},
		{"name=f&instance=f-b", []string{"f-b:two", "f-b:four"}},
		{"name=f&namespace=" + api.DefaultNamespace + "&tail=1&tail=3", []string{"f-b:two", "f-a:three", "f-b:four"}},
		{"name=f&follow=nonsense", []string{"f-a:one", "f-b:two", "f-a:three", "f-b:four"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rec := e.do("GET", "/system/logs?"+tt.query, "", authRight)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET /system/logs?%s = %d %q, want 200", tt.query, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/x-ndjson" {
				t.Errorf("Content-Type = %q, want application/x-ndjson", ct)
			}
			var got []string
			for _, m := range decodeLogs(t, rec.Body.String()) {
				if m.Name != "f" || m.Namespace != api.DefaultNamespace || m.Timestamp.IsZero() {
					t.Errorf("message %+v lacks name, namespace or timestamp", m)
				}
				got = append(got, m.Instance+":"+m.Text)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("GET /system/logs?%s = %v, want %v", tt.query, got, tt.want)
			}
		})
	}
}

func TestLogsErrors(t *testing.T) {
	e, _ := newLogsEnv(t)
	tests := []struct {
		query string
		code  int
		body  string
	}{
		{"name=f&tail=many", http.StatusUnprocessableEntity, "could not parse the log request"},
		{"name=f&since=yesterday", http.StatusUnprocessableEntity, "could not parse the log request"},
		{"name=nope", http.StatusNotFound, "not found"},
		{"name=f&namespace=other", http.StatusNotFound, "not found"},
		{"name=../secrets", http.StatusNotFound, "not found"},
	}
	for _, tt := range tests {
		rec := e.do("GET", "/system/logs?"+tt.query, "", authRight)
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("GET /system/logs?%s = %d %q, want %d %q", tt.query, rec.Code, rec.Body, tt.code, tt.body)
		}
	}
	if rec := e.do("GET", "/system/logs?name=f", "", authNone); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /system/logs without credentials = %d, want 401", rec.Code)
	}
}

func TestLogsFollow(t *testing.T) {
	e, fdir := newLogsEnv(t)
	srv := httptest.NewServer(e.gw)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/system/logs?name=f&tail=1&follow=true", nil)
	req.SetBasicAuth(creds.User, creds.Password)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET = %v", err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	next := func() string {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("stream ended: %v", sc.Err())
		}
		return decodeLogs(t, sc.Text())[0].Text
	}
	if got := next(); got != "four" {
		t.Fatalf("first followed line = %q, want four (tail=1)", got)
	}
	w, err := logs.NewWriter(filepath.Join(fdir, "f-c.log"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.WriteLine(logs.Stdout, []byte("five")); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "five" {
		t.Errorf("followed line = %q, want five", got)
	}
}
