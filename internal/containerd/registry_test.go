package containerd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPlainHTTP(t *testing.T) {
	r := Registries{Insecure: []string{"registry.lan:5000"}}
	tests := map[string]bool{
		"localhost":         true,
		"localhost:5000":    true,
		"127.0.0.1:5000":    true,
		"127.8.9.10":        true,
		"[::1]:5000":        true,
		"registry.lan:5000": true,
		"registry.lan:5001": false,
		"docker.io":         false,
		"10.0.0.1:5000":     false,
	}
	for host, want := range tests {
		if got, _ := r.plainHTTP(host); got != want {
			t.Errorf("plainHTTP(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestLookupCredentials(t *testing.T) {
	cfg := []byte(`{"auths": {
		"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
		"ghcr.io": {"username": "u2", "password": "p2"},
		"bad.example": {"auth": "!!!"}
	}}`)
	tests := []struct {
		host, user, pass string
		wantErr          bool
	}{
		{"registry-1.docker.io", "user", "pass", false},
		{"ghcr.io", "u2", "p2", false},
		{"quay.io", "", "", false},
		{"bad.example", "", "", true},
	}
	for _, tt := range tests {
		user, pass, err := lookupCredentials(cfg, tt.host)
		if user != tt.user || pass != tt.pass || (err != nil) != tt.wantErr {
			t.Errorf("lookupCredentials(%q) = %q, %q, %v; want %q, %q, error %v", tt.host, user, pass, err, tt.user, tt.pass, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "!!!") {
			t.Errorf("lookupCredentials(%q) error leaks the credential: %v", tt.host, err)
		}
	}
	if u, p, err := (Registries{DockerConfig: filepath.Join(t.TempDir(), "none.json")}).credentials("ghcr.io"); u != "" || p != "" || err != nil {
		t.Errorf("credentials with no config file = %q, %q, %v; want anonymous", u, p, err)
	}
}

func TestNormalizeRef(t *testing.T) {
	tests := map[string]string{
		"alpine":                      "docker.io/library/alpine:latest",
		"me/fn:1":                     "docker.io/me/fn:1",
		"127.0.0.1:5000/testfn:v1":    "127.0.0.1:5000/testfn:v1",
		"ghcr.io/o/f@sha256:" + hex64: "ghcr.io/o/f@sha256:" + hex64,
	}
	for in, want := range tests {
		if got, err := NormalizeRef(in); err != nil || got != want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"Alpine", "a b", ""} {
		if _, err := NormalizeRef(bad); !errors.Is(err, ErrPull) {
			t.Errorf("NormalizeRef(%q) = %v, want ErrPull", bad, err)
		}
	}
	if floating("docker.io/library/alpine:latest") != true || floating("docker.io/me/fn:1") != false {
		t.Errorf("floating: latest must float, a pinned tag must not")
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestConnectWaitsPlainly checks that a missing containerd is reported in
// plain words and retried until the context ends, without panicking.
func TestConnectWaitsPlainly(t *testing.T) {
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	sock := filepath.Join(t.TempDir(), "no-containerd.sock")
	_, err := Connect(ctx, Options{Address: sock, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), sock) {
		t.Errorf("Connect to a missing socket = %v, want the deadline error naming the socket", err)
	}
	if n := strings.Count(logs.String(), "containerd is not reachable yet"); n < 2 {
		t.Errorf("Connect logged %d retries, want at least 2:\n%s", n, logs.String())
	}
}
