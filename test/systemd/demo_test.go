package systemd

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/client"
)

// TestInstallDemoFromCheckout runs `install.sh --demo` from this checkout
// with Go and no systemd, offline: install.sh builds funcd itself, then
// builds, imports and deploys the demo function examples/hello. The host's
// Go, module cache and build cache are bound into the machine; GOPROXY=off
// proves nothing is downloaded.
func TestInstallDemoFromCheckout(t *testing.T) {
	requireNspawn(t)
	began := time.Now()
	defer func() { report(t, "duration=%v", time.Since(began).Round(time.Second)) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	a := buildAssets(ctx, t)
	goEnv := map[string]string{}
	for _, k := range []string{"GOROOT", "GOMODCACHE", "GOCACHE"} {
		out, err := exec.CommandContext(ctx, "go", "env", k).Output()
		if err != nil || strings.TrimSpace(string(out)) == "" {
			t.Fatalf("go env %s: %q, %v", k, out, err)
		}
		goEnv[k] = strings.TrimSpace(string(out))
	}
	m := newMachine(ctx, t, machineOptions{extra: []string{
		"--bind-ro=" + a.moduleRoot + ":/src/funcd",
		"--bind-ro=" + goEnv["GOROOT"] + ":/usr/local/go",
		"--bind-ro=" + goEnv["GOMODCACHE"] + ":/root/go/pkg/mod",
		"--bind=" + goEnv["GOCACHE"] + ":/root/.cache/go-build",
	}})

	out, err := m.run(ctx, "GOPROXY=off GOTOOLCHAIN=local sh /src/funcd/install.sh --demo 2>&1")
	t.Logf("install.sh --demo:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a.moduleRoot, "bin", "funcd-"+runtime.GOARCH)); err == nil {
		t.Logf("the checkout has bin/funcd-%s, which install.sh prefers to a build", runtime.GOARCH)
	} else if !strings.Contains(out, "install: building funcd") {
		t.Errorf("install.sh did not build funcd from the checkout")
	}
	if !strings.Contains(out, "deployed the demo function") {
		t.Errorf("install.sh --demo did not say it deployed the demo function")
	}
	c := client.New(gatewayURL, client.WithHTTPClient(netnsHTTPClient(m.leaderPID, 30*time.Second)))
	res, err := c.Invoke(ctx, "hello", "", http.MethodPost, "", strings.NewReader("world"), nil)
	if err != nil {
		t.Fatalf("invoke hello: %v", err)
	}
	body := readAll(res)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "world") {
		t.Errorf("invoke hello = %d %q, want 200 with world", res.StatusCode, body)
	}

	out, err = m.run(ctx, "sh /src/funcd/install.sh --purge 2>&1")
	t.Logf("install.sh --purge:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	checkPurged(ctx, t, m, false)
}

func readAll(res *http.Response) string {
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return string(b)
}
