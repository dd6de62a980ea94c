package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const importedJSON = `[{"name":"docker.io/library/fn:1","digest":"sha256:0123456789abcdef0123","size":6291456}]`

func TestImageImport(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.tar")
	small := filepath.Join(dir, "small.tar")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), 6<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(small, []byte("tiny"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		stdin        string
		args         []string
		wantLen      int
		wantLength   string // Content-Length sent; "" when streamed
		wantProgress string // "" for none
	}{
		{"file", "", []string{big}, 6 << 20, "6291456", "sent 6 MiB of 6 MiB (100%)\n"},
		{"small file", "", []string{small}, 4, "4", ""},
		{"quiet", "", []string{big, "--quiet"}, 6 << 20, "6291456", ""},
		{"stdin", strings.Repeat("y", 5<<20), []string{"-"}, 5 << 20, "", "sent 5 MiB\n"},
		{"small stdin", "tiny", []string{"-", "-n", "dev"}, 4, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGateway(t, map[string]fakeResponse{"POST /system/images": {201, importedJSON}})
			args := append([]string{"image", "import", "-g", g.URL}, tt.args...)
			stdout, stderr, err := runCLI(t, map[string]string{}, tt.stdin, args...)
			if err != nil {
				t.Fatalf("image import = %v (stderr %q)", err, stderr)
			}
			if want := "Imported docker.io/library/fn:1 sha256:0123456789abcdef0123 (6MiB)\n"; stdout != want {
				t.Errorf("stdout = %q, want %q", stdout, want)
			}
			reqs := g.requests()
			if len(reqs) != 1 || len(reqs[0].Body) != tt.wantLen {
				t.Fatalf("sent %d requests, body %d bytes; want one of %d", len(reqs), len(reqs[0].Body), tt.wantLen)
			}
			h := reqs[0].Header
			if h.Get("Content-Length") != tt.wantLength || h.Get("Content-Type") != "application/octet-stream" {
				t.Errorf("sent Content-Length %q, Content-Type %q; want %q, application/octet-stream", h.Get("Content-Length"), h.Get("Content-Type"), tt.wantLength)
			}
			if tt.wantProgress == "" && stderr != "" || tt.wantProgress != "" && !strings.HasSuffix(stderr, "\r"+tt.wantProgress) {
				t.Errorf("stderr = %q, want progress ending %q", stderr, tt.wantProgress)
			}
			if strings.Contains(tt.name, "dev") && reqs[0].Query != "namespace=dev" {
				t.Errorf("query = %q, want namespace=dev", reqs[0].Query)
			}
		})
	}
}

func TestImageImportErrors(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"POST /system/images": {413, "image archive is larger than 4Gi"}})
	_, stderr, err := runCLI(t, map[string]string{}, strings.Repeat("z", 5<<20), "image", "import", "-", "-g", g.URL)
	if err == nil || !strings.Contains(err.Error(), "413") || !strings.Contains(err.Error(), "larger than 4Gi") {
		t.Errorf("import refused with 413 = %v, want the gateway's answer", err)
	}
	if stderr != "" && !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr = %q, want the progress line ended before the error", stderr)
	}
	if _, _, err := runCLI(t, map[string]string{}, "", "image", "import", filepath.Join(t.TempDir(), "none.tar"), "-g", g.URL); err == nil || !strings.Contains(err.Error(), "none.tar") {
		t.Errorf("import of a missing file = %v, want an error naming it", err)
	}
	if _, _, err := runCLI(t, map[string]string{}, "", "image", "import", "-g", g.URL); err == nil || !strings.Contains(err.Error(), "FILE") {
		t.Errorf("import without a file = %v, want a usage error", err)
	}
}

func TestImageList(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"GET /system/images": {200,
		`[{"name":"docker.io/library/fn:1","digest":"sha256:0123456789abcdef0123","size":1536,"functions":["a","b"]},` +
			`{"name":"docker.io/library/other:2","digest":"sha256:fedcba9876543210","size":10}]`}})
	stdout, _, err := runCLI(t, map[string]string{}, "", "image", "list", "-g", g.URL)
	if err != nil {
		t.Fatal(err)
	}
	want := "NAME                       DIGEST               SIZE    FUNCTIONS\n" +
		"docker.io/library/fn:1     sha256:0123456789ab  1.5KiB  a,b\n" +
		"docker.io/library/other:2  sha256:fedcba987654  10B     -\n"
	if stdout != want {
		t.Errorf("image list =\n%s\nwant\n%s", stdout, want)
	}
	stdout, _, _ = runCLI(t, map[string]string{}, "", "image", "ls", "--no-trunc", "-g", g.URL)
	if !strings.Contains(stdout, "sha256:0123456789abcdef0123") {
		t.Errorf("image ls --no-trunc = %q, want whole digests", stdout)
	}
}

func TestImageRemove(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"DELETE /system/images": {409, "image docker.io/library/fn:1 is used by function(s) a, b"}})
	_, _, err := runCLI(t, map[string]string{}, "", "image", "rm", "fn:1", "-g", g.URL)
	if err == nil || !strings.Contains(err.Error(), "used by function(s) a, b") {
		t.Errorf("image rm of a used image = %v, want the functions named", err)
	}
	if q := g.requests()[0].Query; q != "name=fn%3A1" {
		t.Errorf("query = %q, want name=fn%%3A1", q)
	}
	g = newFakeGateway(t, map[string]fakeResponse{})
	if _, _, err := runCLI(t, map[string]string{}, "", "image", "remove", "gone:1", "-g", g.URL); err == nil || !strings.Contains(err.Error(), "no such image: gone:1") {
		t.Errorf("image remove of a missing image = %v, want no such image", err)
	}
	g = newFakeGateway(t, map[string]fakeResponse{"DELETE /system/images": {202, ""}})
	stdout, _, err := runCLI(t, map[string]string{}, "", "image", "remove", "a:1", "b:2", "-n", "dev", "-g", g.URL)
	if err != nil || stdout != "Removed image: a:1\nRemoved image: b:2\n" || g.requests()[1].Query != "name=b%3A2&namespace=dev" {
		t.Errorf("image remove a:1 b:2 = %q, %v", stdout, err)
	}
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := &cliProgress{w: &buf, total: 300 << 20}
	p.reader(bytes.NewReader(nil))
	p.add(120<<20, false)
	p.add(512<<10, false) // same MiB: not printed again
	if got := buf.String(); got != "\rsent 120 MiB of 300 MiB (40%)" {
		t.Errorf("progress = %q", got)
	}
	p.finish()
	p.finish()
	if got := buf.String(); !strings.HasSuffix(got, "\rsent 120 MiB of 300 MiB (40%)\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("after finish = %q, want the line ended once", got)
	}
}

// TestImageServicesFlag: --services points import, list and remove at the
// side services' namespace, and excludes --namespace.
func TestImageServicesFlag(t *testing.T) {
	archive := filepath.Join(t.TempDir(), "svc.tar")
	if err := os.WriteFile(archive, []byte("tar"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := newFakeGateway(t, map[string]fakeResponse{
		"POST /system/images":   {201, importedJSON},
		"GET /system/images":    {200, `[]`},
		"DELETE /system/images": {202, ""},
	})
	for _, args := range [][]string{
		{"image", "import", archive, "--services", "--quiet"},
		{"image", "list", "--services"},
		{"image", "rm", "prom/prometheus:v3", "--services"},
	} {
		if _, stderr, err := runCLI(t, map[string]string{}, "", append(args, "-g", g.URL)...); err != nil {
			t.Fatalf("%v = %v (%s)", args, err, stderr)
		}
		if _, _, err := runCLI(t, map[string]string{}, "", append(args, "-n", "dev", "-g", g.URL)...); err == nil || !strings.Contains(err.Error(), "exclude each other") {
			t.Errorf("%v -n dev = %v, want --services and --namespace refused together", args, err)
		}
	}
	for i, r := range g.requests() {
		if !strings.Contains(r.Query, "namespace=funcd") {
			t.Errorf("request %d query = %q, want namespace=funcd", i, r.Query)
		}
	}
}
