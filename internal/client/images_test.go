package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestImportImage(t *testing.T) {
	var gotExpect, gotType, gotAuth, gotQuery string
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotExpect, gotType, gotAuth, gotQuery = r.Header.Get("Expect"), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.URL.RawQuery
		got, _ = io.ReadAll(r.Body)
		if r.Method != "POST" || r.URL.Path != "/system/images" {
			http.Error(w, "wrong route", 404)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `[{"name":"docker.io/library/fn:1","digest":"sha256:abc","size":3}]`)
	}))
	defer srv.Close()
	c := New(srv.URL, WithBasicAuth("admin", "pw"))
	for _, size := range []int64{3, -1} {
		imgs, err := c.ImportImage(context.Background(), "dev", strings.NewReader("tar"), size)
		if err != nil || len(imgs) != 1 || imgs[0].Name != "docker.io/library/fn:1" || imgs[0].Digest != "sha256:abc" {
			t.Fatalf("ImportImage(size %d) = %+v, %v; want the image", size, imgs, err)
		}
		if string(got) != "tar" || gotType != "application/octet-stream" || gotExpect != "100-continue" || gotAuth == "" || gotQuery != "namespace=dev" {
			t.Errorf("ImportImage(size %d) sent %q as %q (Expect %q, auth %q, query %q)", size, got, gotType, gotExpect, gotAuth, gotQuery)
		}
	}
}

// countingReader counts what the client read of an archive.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestImportImageRefused: a gateway that refuses an archive (too large)
// is heard, whether it refuses before reading (a declared length over its
// cap: the archive is then not sent) or half-way through a stream.
func TestImportImageRefused(t *testing.T) {
	const size, limit = 32 << 20, 1 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// As funcd's gateway does: refuse a declared length at once,
		// else read up to the cap through http.MaxBytesReader.
		if r.ContentLength > limit {
			http.Error(w, "image archive is larger than 1Mi", http.StatusRequestEntityTooLarge)
			return
		}
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, limit))
		http.Error(w, "image archive is larger than 1Mi", http.StatusRequestEntityTooLarge)
	}))
	defer srv.Close()
	c := New(srv.URL)
	for _, known := range []bool{true, false} {
		archive := &countingReader{r: bytes.NewReader(make([]byte, size))}
		n := int64(-1)
		if known {
			n = size
		}
		_, err := c.ImportImage(context.Background(), "", archive, n)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusRequestEntityTooLarge || !strings.Contains(se.Body, "1Mi") {
			t.Fatalf("ImportImage(known length %v) = %v, want a 413 StatusError naming the cap", known, err)
		}
		if known && archive.n.Load() >= size/2 {
			t.Errorf("ImportImage with a declared length over the cap sent %d bytes first, want the refusal before the body", archive.n.Load())
		}
	}
}

func TestImageCalls(t *testing.T) {
	ctx := context.Background()
	f, c := newFake(t, fixed(200, `[{"name":"a:1","digest":"sha256:1","size":5,"functions":["f"]}]`))
	imgs, err := c.ListImages(ctx, "dev")
	if err != nil || len(imgs) != 1 || imgs[0].Functions[0] != "f" {
		t.Fatalf("ListImages = %+v, %v", imgs, err)
	}
	if r := f.requests()[0]; r.Method != "GET" || r.Path != "/system/images" || r.Query != "namespace=dev" || r.Auth == "" {
		t.Errorf("ListImages sent %+v", r)
	}

	for _, tt := range []struct {
		code    int
		wantErr error
		ok      bool
	}{
		{202, nil, true}, {200, nil, true}, {404, ErrNotFound, false}, {409, ErrConflict, false}, {500, nil, false},
	} {
		f, c := newFake(t, fixed(tt.code, "why"))
		err := c.RemoveImage(ctx, "fn:1", "dev")
		if tt.ok != (err == nil) || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("RemoveImage answered %d = %v, want ok %v, %v", tt.code, err, tt.ok, tt.wantErr)
		}
		if r := f.requests()[0]; r.Method != "DELETE" || r.Path != "/system/images" || r.Query != "name=fn%3A1&namespace=dev" {
			t.Errorf("RemoveImage sent %+v", r)
		}
	}
}
