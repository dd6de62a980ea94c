package gateway

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
	"github.com/funcd/funcd/provider"
)

// fakeImages records what reached it. Import reads the whole tar stream
// (failing with its read error, as containerd would) and keeps it.
type fakeImages struct {
	err   error // answered by every call when set
	users map[string][]string

	mu       sync.Mutex
	calls    []string // "import ns", "list ns", "remove ns ref"
	imported []byte
	readErr  error
	onRead   func(n int) // told of each read's size, if set
}

func (f *fakeImages) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeImages) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeImages) ImportImages(_ context.Context, ns string, archive io.Reader) ([]api.Image, error) {
	f.record("import " + ns)
	var buf bytes.Buffer
	p := make([]byte, 32<<10)
	for {
		n, err := archive.Read(p)
		buf.Write(p[:n])
		if f.onRead != nil {
			f.onRead(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			f.mu.Lock()
			f.readErr = err
			f.mu.Unlock()
			return nil, fmt.Errorf("%w: failed to ingest: %v", provider.ErrInvalid, err)
		}
	}
	f.mu.Lock()
	f.imported = buf.Bytes()
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return []api.Image{{Name: "docker.io/library/fn:1", Digest: "sha256:abc", Size: int64(buf.Len())}}, nil
}

func (f *fakeImages) Images(_ context.Context, ns string) ([]api.Image, error) {
	f.record("list " + ns)
	if f.err != nil {
		return nil, f.err
	}
	if ns == "empty" {
		return nil, nil
	}
	return []api.Image{{Name: "docker.io/library/fn:1", Digest: "sha256:abc", Size: 42, Functions: f.users["docker.io/library/fn:1"]}}, nil
}

func (f *fakeImages) RemoveImage(_ context.Context, ns, ref string) error {
	f.record("remove " + ns + " " + ref)
	if f.err != nil {
		return f.err
	}
	if users := f.users[ref]; len(users) > 0 {
		return fmt.Errorf("%w: image %s is used by function(s) %s", provider.ErrInUse, ref, strings.Join(users, ", "))
	}
	if ref != "docker.io/library/fn:1" {
		return fmt.Errorf("image %s: %w", ref, provider.ErrNotFound)
	}
	return nil
}

func newImagesGateway(imgs Images, max int64) *Gateway {
	ns := fakeNamespaces{"dev": {Name: "dev"}, "empty": {Name: "empty"}}
	return New(&fakeFunctions{}, invoked, Config{Credentials: creds, Namespaces: ns, Images: imgs, MaxImageSize: max}, slog.New(slog.DiscardHandler))
}

// tarOf is a tar archive holding one file of size bytes.
func tarOf(t testing.TB, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(bytes.Repeat([]byte("x"), size)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// postArchive POSTs body to /system/images with the admin's credentials.
// chunked hides the length, as a pipe would.
func postArchive(g http.Handler, target, contentType string, body []byte, chunked bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", target, bytes.NewReader(body))
	if chunked {
		req = httptest.NewRequest("POST", target, io.MultiReader(bytes.NewReader(body)))
		req.ContentLength = -1
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.SetBasicAuth(creds.User, creds.Password)
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	return rec
}

func TestImageRoutesRefuseOutsiders(t *testing.T) {
	routes := []struct{ method, target string }{
		{"GET", "/system/images"},
		{"POST", "/system/images"},
		{"DELETE", "/system/images?name=fn:1"},
	}
	for _, rt := range routes {
		for _, a := range []auth{authNone, authWrongPassword, authWrongUser, authBearer} {
			t.Run(fmt.Sprintf("%s %s auth %d", rt.method, rt.target, a), func(t *testing.T) {
				imgs := &fakeImages{}
				e := &env{fns: &fakeFunctions{}, gw: newImagesGateway(imgs, 1<<20)}
				rec := e.do(rt.method, rt.target, "", a)
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("%s %s = %d, want 401", rt.method, rt.target, rec.Code)
				}
				if c := imgs.all(); len(c) > 0 {
					t.Errorf("%s %s without credentials reached the images: %v", rt.method, rt.target, c)
				}
			})
		}
		// A page on another site, in a browser holding the admin's
		// credentials, can change nothing; it may send a GET, but
		// without CORS headers cannot read the answer.
		t.Run(rt.method+" "+rt.target+" cross-origin", func(t *testing.T) {
			imgs := &fakeImages{}
			g := newImagesGateway(imgs, 1<<20)
			req := httptest.NewRequest(rt.method, "http://gw.local:8080"+rt.target, bytes.NewReader(tarOf(t, 10)))
			req.Header.Set("Content-Type", "application/x-tar")
			req.Header.Set("Origin", "http://evil.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			req.SetBasicAuth(creds.User, creds.Password)
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, req)
			if rec.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("%s %s cross-origin answered Access-Control-Allow-Origin %q", rt.method, rt.target, rec.Header().Get("Access-Control-Allow-Origin"))
			}
			if rt.method == "GET" {
				return
			}
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "cross-origin") || len(imgs.all()) > 0 {
				t.Errorf("%s %s cross-origin = %d %q, reached %v; want 403 naming it, nothing reached", rt.method, rt.target, rec.Code, rec.Body, imgs.all())
			}
		})
	}
	for _, m := range []string{"PUT", "PATCH"} {
		imgs := &fakeImages{}
		e := &env{fns: &fakeFunctions{}, gw: newImagesGateway(imgs, 1<<20)}
		if rec := e.do(m, "/system/images", "", authRight); rec.Code != http.StatusMethodNotAllowed || len(imgs.all()) > 0 {
			t.Errorf("%s /system/images = %d (reached %v), want 405", m, rec.Code, imgs.all())
		}
	}
	e := &env{fns: &fakeFunctions{}, gw: New(&fakeFunctions{}, invoked, Config{Credentials: creds}, slog.New(slog.DiscardHandler))}
	if rec := e.do("GET", "/system/images", "", authRight); rec.Code != http.StatusNotFound {
		t.Errorf("GET /system/images without Images configured = %d, want 404", rec.Code)
	}
}

func TestImportContentTypes(t *testing.T) {
	archive := tarOf(t, 100)
	tests := []struct {
		contentType string
		body        []byte
		want        int
	}{
		{"application/x-tar", archive, http.StatusCreated},
		{"application/gzip", gzipOf(t, archive), http.StatusCreated},
		{"application/octet-stream", archive, http.StatusCreated},
		{"application/octet-stream; charset=binary", archive, http.StatusCreated},
		// The body decides the format, not the label.
		{"application/x-tar", gzipOf(t, archive), http.StatusCreated},
		{"application/gzip", archive, http.StatusCreated},
		// What a page can post without a preflight, and other labels.
		{"", archive, http.StatusUnsupportedMediaType},
		{"text/plain", archive, http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", archive, http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", archive, http.StatusUnsupportedMediaType},
		{"application/json", archive, http.StatusUnsupportedMediaType},
		{"application/x-tar; bad", archive, http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.contentType, func(t *testing.T) {
			imgs := &fakeImages{}
			rec := postArchive(newImagesGateway(imgs, 1<<20), "/system/images", tt.contentType, tt.body, false)
			if rec.Code != tt.want {
				t.Fatalf("POST as %q = %d %q, want %d", tt.contentType, rec.Code, rec.Body, tt.want)
			}
			if tt.want != http.StatusCreated {
				if !strings.Contains(rec.Body.String(), "application/x-tar") || len(imgs.all()) > 0 {
					t.Errorf("415 body %q (reached %v), want the accepted types named and nothing reached", rec.Body, imgs.all())
				}
				return
			}
			if !bytes.Equal(imgs.imported, archive) {
				t.Errorf("the provider got %d bytes, want the %d-byte tar", len(imgs.imported), len(archive))
			}
			var got []api.Image
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != 1 || got[0].Name != "docker.io/library/fn:1" || got[0].Digest != "sha256:abc" {
				t.Errorf("body %q = %+v, %v; want the imported image with its digest", rec.Body, got, err)
			}
		})
	}
}

func TestImportSniffing(t *testing.T) {
	archive := tarOf(t, 100)
	tests := []struct {
		name     string
		body     []byte
		wantText string
	}{
		{"empty", nil, "empty"},
		{"garbage", []byte(strings.Repeat("garbage ", 100)), `neither a tar archive nor gzip-compressed: it starts with "garbage garbage "`},
		{"short", []byte("ustar"), "only 5 bytes"},
		{"zstd", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, archive...), "zstd"},
		{"xz", append([]byte("\xfd7zXZ\x00"), archive...), "xz"},
		{"zip", append([]byte("PK\x03\x04"), archive...), "zip"},
		{"json", []byte(`{"service":"x"}`), "JSON"},
		{"gzip of no tar", gzipOf(t, bytes.Repeat([]byte("a"), 1000)), "gzip stream holds no tar"},
		{"gzip header only", []byte{0x1f, 0x8b}, "gzip"},
		{"gzip, bad method", append([]byte{0x1f, 0x8b, 0x09}, archive...), "gzip"},
		{"gzip truncated", gzipOf(t, archive)[:20], "gzip"},
		{"tar magic elsewhere", append([]byte("ustar"), archive...), "neither a tar archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs := &fakeImages{}
			rec := postArchive(newImagesGateway(imgs, 1<<20), "/system/images", "application/octet-stream", tt.body, false)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tt.wantText) {
				t.Errorf("POST %s = %d %q, want 400 containing %q", tt.name, rec.Code, rec.Body, tt.wantText)
			}
			if c := imgs.all(); len(c) > 0 {
				t.Errorf("POST %s reached the provider: %v", tt.name, c)
			}
		})
	}
}

func TestImportSizeCap(t *testing.T) {
	const max = 64 << 10
	big := tarOf(t, 100<<10)
	exact := tarOf(t, 10<<10)
	tests := []struct {
		name    string
		body    []byte
		max     int64
		chunked bool
		want    int
		reached bool
	}{
		{"declared length over the cap", big, max, false, http.StatusRequestEntityTooLarge, false},
		{"chunked, over the cap", big, max, true, http.StatusRequestEntityTooLarge, true},
		{"gzip under the cap expanding over it", gzipOf(t, big), max, false, http.StatusRequestEntityTooLarge, true},
		{"exactly the cap", exact, int64(len(exact)), false, http.StatusCreated, true},
		{"exactly the cap, chunked", exact, int64(len(exact)), true, http.StatusCreated, true},
		{"one byte over, chunked", exact, int64(len(exact)) - 1, true, http.StatusRequestEntityTooLarge, true},
		{"cap below a tar header", exact, 100, true, http.StatusRequestEntityTooLarge, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs := &fakeImages{}
			rec := postArchive(newImagesGateway(imgs, tt.max), "/system/images", "application/octet-stream", tt.body, tt.chunked)
			if rec.Code != tt.want {
				t.Fatalf("POST = %d %q, want %d", rec.Code, rec.Body, tt.want)
			}
			if tt.want == http.StatusRequestEntityTooLarge && !strings.Contains(rec.Body.String(), "--max-image-size") ||
				tt.max == max && !strings.Contains(rec.Body.String(), "64Ki") && tt.want != http.StatusCreated {
				t.Errorf("413 body %q, want the cap (64Ki) and the flag named", rec.Body)
			}
			if reached := len(imgs.all()) > 0; reached != tt.reached {
				t.Errorf("provider reached = %v, want %v", reached, tt.reached)
			}
			if tt.want == http.StatusRequestEntityTooLarge && int64(len(imgs.imported)) > tt.max {
				t.Errorf("the provider got %d bytes, more than the cap %d", len(imgs.imported), tt.max)
			}
		})
	}
}

// TestImportStreams: the provider reads the start of the archive while
// the client is still sending it, so nothing waits for (or holds) the
// whole body.
func TestImportStreams(t *testing.T) {
	const chunk = 1 << 20
	archive := tarOf(t, 8*chunk)
	seen := make(chan struct{})
	var once sync.Once
	total := 0
	imgs := &fakeImages{onRead: func(n int) {
		total += n
		if total >= chunk/2 {
			once.Do(func() { close(seen) })
		}
	}}
	srv := httptest.NewServer(newImagesGateway(imgs, 1<<30))
	defer srv.Close()

	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(archive[:chunk])
		select {
		case <-seen: // the provider has data while the rest is unsent
		case <-time.After(10 * time.Second):
			pw.CloseWithError(fmt.Errorf("the provider saw nothing of the first %d bytes", chunk))
			return
		}
		_, _ = pw.Write(archive[chunk:])
		pw.Close()
	}()
	res, err := uploadArchive(srv, pr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated || !bytes.Equal(imgs.imported, archive) {
		t.Errorf("POST = %d %q, provider got %d of %d bytes; want 201 and all of it", res.StatusCode, b, len(imgs.imported), len(archive))
	}
}

// TestImportOutlivesReadTimeout: an upload that keeps sending may take
// longer than the server's read timeout, which is sized for invocations.
func TestImportOutlivesReadTimeout(t *testing.T) {
	imgs := &fakeImages{}
	srv := httptest.NewUnstartedServer(newImagesGateway(imgs, 1<<30))
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()

	archive := tarOf(t, 64<<10)
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < len(archive); i += 8 << 10 {
			_, _ = pw.Write(archive[i:min(i+8<<10, len(archive))])
			time.Sleep(100 * time.Millisecond) // 1 s in all
		}
		pw.Close()
	}()
	res, err := uploadArchive(srv, pr)
	if err != nil {
		t.Fatalf("slow upload: %v", err)
	}
	defer res.Body.Close()
	if b, _ := io.ReadAll(res.Body); res.StatusCode != http.StatusCreated || !bytes.Equal(imgs.imported, archive) {
		t.Errorf("slow upload = %d %q (provider read error %v), want 201 with all of it", res.StatusCode, b, imgs.readErr)
	}
}

func TestImportErrors(t *testing.T) {
	archive := tarOf(t, 100)
	tests := []struct {
		name     string
		target   string
		err      error
		want     int
		wantText string
		reached  bool
	}{
		{"bad archive", "/system/images", fmt.Errorf("%w: bad image archive: unrecognized image format", provider.ErrInvalid), 400, "unrecognized image format", true},
		{"containerd down", "/system/images", fmt.Errorf("import: %w", provider.ErrUnavailable), 503, "containerd is unavailable", true},
		{"internal", "/system/images", fmt.Errorf("write /var/lib/containerd/x: permission denied"), 500, "see the funcd log", true},
		{"unknown namespace", "/system/images?namespace=nope", nil, 400, `namespace "nope" not found`, false},
		{"created namespace", "/system/images?namespace=dev", nil, 201, "docker.io/library/fn:1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs := &fakeImages{err: tt.err}
			rec := postArchive(newImagesGateway(imgs, 1<<20), tt.target, "application/x-tar", archive, false)
			if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.wantText) {
				t.Errorf("POST %s = %d %q, want %d containing %q", tt.target, rec.Code, rec.Body, tt.want, tt.wantText)
			}
			if reached := len(imgs.all()) > 0; reached != tt.reached {
				t.Errorf("provider reached = %v, want %v", reached, tt.reached)
			}
			if strings.Contains(rec.Body.String(), "/var/lib") {
				t.Errorf("answer %q leaks a path", rec.Body)
			}
		})
	}
}

func TestListImages(t *testing.T) {
	imgs := &fakeImages{users: map[string][]string{"docker.io/library/fn:1": {"a", "b"}}}
	e := &env{fns: &fakeFunctions{}, gw: newImagesGateway(imgs, 1<<20)}
	rec := e.do("GET", "/system/images?namespace=dev", "", authRight)
	want := `[{"name":"docker.io/library/fn:1","digest":"sha256:abc","size":42,"functions":["a","b"]}]`
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != want {
		t.Errorf("GET /system/images = %d %s, want 200 %s", rec.Code, rec.Body, want)
	}
	if rec := e.do("GET", "/system/images?namespace=empty", "", authRight); strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("GET an empty namespace = %s, want []", rec.Body)
	}
	if rec := e.do("GET", "/system/images?namespace=nope", "", authRight); rec.Code != http.StatusBadRequest {
		t.Errorf("GET an unknown namespace = %d, want 400", rec.Code)
	}
	if got, want := imgs.all(), []string{"list dev", "list empty"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("calls = %q, want %q", got, want)
	}
}

func TestRemoveImage(t *testing.T) {
	imgs := &fakeImages{users: map[string][]string{"used:1": {"a", "b"}}}
	e := &env{fns: &fakeFunctions{}, gw: newImagesGateway(imgs, 1<<20)}
	tests := []struct {
		target   string
		want     int
		wantText string
	}{
		{"/system/images", 400, "name is required"},
		{"/system/images?name=", 400, "name is required"},
		{"/system/images?name=used:1", 409, "used by function(s) a, b"},
		{"/system/images?name=gone:1", 404, "gone:1"},
		{"/system/images?name=docker.io/library/fn:1", 202, ""},
		{"/system/images?name=docker.io/library/fn:1&namespace=dev", 202, ""},
		{"/system/images?name=docker.io/library/fn:1&namespace=nope", 400, `namespace "nope" not found`},
	}
	for _, tt := range tests {
		rec := e.do("DELETE", tt.target, "", authRight)
		if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.wantText) {
			t.Errorf("DELETE %s = %d %q, want %d containing %q", tt.target, rec.Code, rec.Body, tt.want, tt.wantText)
		}
	}
	want := []string{"remove openfaas-fn used:1", "remove openfaas-fn gone:1", "remove openfaas-fn docker.io/library/fn:1", "remove dev docker.io/library/fn:1"}
	if got := imgs.all(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("calls = %q, want %q", got, want)
	}
}

// TestImportTooLargeHeardWhileSending: a client streaming an archive
// over the cap hears the 413 rather than a reset connection, and one that
// declares its length over the cap is refused before sending it.
func TestImportTooLargeHeardWhileSending(t *testing.T) {
	imgs := &fakeImages{}
	srv := httptest.NewServer(newImagesGateway(imgs, 1<<20))
	defer srv.Close()
	c := client.New(srv.URL, client.WithBasicAuth(creds.User, creds.Password))
	archive := tarOf(t, 16<<20)
	for _, size := range []int64{-1, int64(len(archive))} {
		r := &readCounter{r: bytes.NewReader(archive)}
		_, err := c.ImportImage(t.Context(), "", r, size)
		var se *client.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusRequestEntityTooLarge || !strings.Contains(se.Body, "--max-image-size") {
			t.Fatalf("ImportImage(size %d) of 16Mi over a 1Mi cap = %v, want the 413", size, err)
		}
		if size > 0 && r.n > 1<<20 {
			t.Errorf("ImportImage with a declared size over the cap sent %d bytes first", r.n)
		}
	}
}

type readCounter struct {
	r io.Reader
	n int
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// uploadArchive streams body to a live server's /system/images as the
// admin (postArchive serves the handler directly).
func uploadArchive(srv *httptest.Server, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest("POST", srv.URL+"/system/images", body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-tar")
	req.SetBasicAuth(creds.User, creds.Password)
	return srv.Client().Do(req)
}
