package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/queue"
)

// diskFull is how a write that found the disk full comes back from the
// provider and the stores: wrapped, with the file's path.
func diskFull(errno syscall.Errno) error {
	return fmt.Errorf("deploy f: internal-detail-42: %w", &fs.PathError{
		Op: "write", Path: "/var/lib/funcd/functions/openfaas-fn/.f.json.tmp-123", Err: errno})
}

// fullSecrets fails every write as a full disk does.
type fullSecrets struct{ *fakeSecrets }

func (fullSecrets) Create(string, string, []byte) error { return diskFull(syscall.ENOSPC) }
func (fullSecrets) Update(string, string, []byte) error { return diskFull(syscall.ENOSPC) }

// fullNamespaces fails every write as a full disk does.
type fullNamespaces struct{ fakeNamespaces }

func (fullNamespaces) CreateNamespace(context.Context, api.FunctionNamespace) error {
	return diskFull(syscall.ENOSPC)
}

func TestDiskFullAnswers507(t *testing.T) {
	for _, tt := range []struct {
		name         string
		errno        syscall.Errno
		method, path string
		body         string
	}{
		{"deploy", syscall.ENOSPC, "POST", "/system/functions", `{"service":"f","image":"i"}`},
		{"update over quota", syscall.EDQUOT, "PUT", "/system/functions", `{"service":"f","image":"i"}`},
		{"scale", syscall.ENOSPC, "POST", "/system/scale-function/f", `{"replicas":2}`},
		{"create secret", syscall.ENOSPC, "POST", "/system/secrets", `{"name":"s","value":"v"}`},
		{"update secret", syscall.ENOSPC, "PUT", "/system/secrets", `{"name":"s","value":"v"}`},
		{"create namespace", syscall.ENOSPC, "POST", "/system/namespace/", `{"name":"dev"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			fns := &fakeFunctions{err: diskFull(tt.errno)}
			cfg := Config{Credentials: creds, Secrets: fullSecrets{newFakeSecrets()}, Namespaces: fullNamespaces{fakeNamespaces{}}}
			e := &env{fns: fns, gw: New(fns, invoked, cfg, slog.New(slog.NewTextHandler(&log, nil))), log: &log}
			rec := e.do(tt.method, tt.path, tt.body, authRight)
			body := rec.Body.String()
			if rec.Code != http.StatusInsufficientStorage {
				t.Fatalf("%s %s on a full disk = %d %q, want 507", tt.method, tt.path, rec.Code, body)
			}
			for _, want := range []string{"Insufficient Storage", "no space left", "/var/lib/funcd/functions/openfaas-fn"} {
				if !strings.Contains(body, want) {
					t.Errorf("%s %s body = %q, want it to say %q", tt.method, tt.path, body, want)
				}
			}
			if strings.Contains(body, "internal-detail-42") {
				t.Errorf("%s %s body = %q leaks the internal error", tt.method, tt.path, body)
			}
			if !strings.Contains(log.String(), "internal-detail-42") {
				t.Errorf("%s %s: log %q lacks the error", tt.method, tt.path, log.String())
			}
		})
	}
}

func TestErrorStatusDiskFull(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{diskFull(syscall.ENOSPC), http.StatusInsufficientStorage},
		{diskFull(syscall.EDQUOT), http.StatusInsufficientStorage},
		{fmt.Errorf("%w: process exited: %w", errors.New("function did not start"), syscall.ENOSPC), http.StatusInsufficientStorage},
		{fmt.Errorf("%w: the disk holding /x is full: %w", queue.ErrUnavailable, syscall.ENOSPC), http.StatusInsufficientStorage},
		{fmt.Errorf("%w: its store failed to write", queue.ErrUnavailable), http.StatusServiceUnavailable},
		{diskFull(syscall.EIO), http.StatusInternalServerError},
	} {
		if got := errorStatus(tt.err); got != tt.want {
			t.Errorf("errorStatus(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestAsyncWhileQueueDegraded(t *testing.T) {
	fns := &fakeFunctions{statuses: map[string]api.FunctionStatus{"f.openfaas-fn": {Name: "f"}}}
	for _, tt := range []struct {
		name string
		err  error
		code int
		says string
	}{
		{"disk full", fmt.Errorf("%w: the disk holding /var/lib/funcd/queue is full (0 B free, 6.0 MiB needed): %w", queue.ErrUnavailable, syscall.ENOSPC),
			http.StatusInsufficientStorage, "disk holding funcd's queue is full"},
		{"store reloading", fmt.Errorf("%w: its store failed to write: write /var/lib/funcd/queue/jetstream/x.blk: input/output error", queue.ErrUnavailable),
			http.StatusServiceUnavailable, "cannot store invocations right now"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQueue{err: tt.err}
			e := newQueueEnv(fns, q)
			rec := e.do("POST", "/async-function/f", "x", authNone)
			body := rec.Body.String()
			if rec.Code != tt.code || !strings.Contains(body, tt.says) {
				t.Errorf("POST /async-function/f = %d %q, want %d saying %q", rec.Code, body, tt.code, tt.says)
			}
			if rec.Header().Get("Retry-After") == "" {
				t.Errorf("POST /async-function/f = %d without Retry-After", rec.Code)
			}
			if strings.Contains(body, "/var/lib") {
				t.Errorf("POST /async-function/f body = %q: an open route names funcd's paths", body)
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	since := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		health queue.Health
		code   int
		body   string
	}{
		{"healthy", queue.Health{}, http.StatusOK, "OK"},
		{"queue degraded", queue.Health{Degraded: true, Since: since, Reason: "the disk holding its store is full (0 B free, 6.0 MiB needed)"},
			http.StatusServiceUnavailable, "queue: degraded since 2026-12-01T03:00:00Z: the disk holding its store is full (0 B free, 6.0 MiB needed)\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newQueueEnv(&fakeFunctions{}, &fakeQueue{health: tt.health})
			rec := e.do("GET", "/readyz", "", authNone)
			if rec.Code != tt.code || rec.Body.String() != tt.body {
				t.Errorf("GET /readyz = %d %q, want %d %q", rec.Code, rec.Body, tt.code, tt.body)
			}
			if rec := e.do("GET", "/healthz", "", authNone); rec.Code != http.StatusOK || rec.Body.String() != "OK" {
				t.Errorf("GET /healthz = %d %q, want 200 OK: sync invocations still work", rec.Code, rec.Body)
			}
		})
	}
}
