package imagebuild

import (
	"archive/tar"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestPushRoundTrip(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/testfn:v1"

	img, err := Build(writeFakeBinary(t, "fn"), Config{Entrypoint: "/fn", Env: []string{"VERSION=v1"}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if err := Push(context.Background(), img, ref); err != nil {
		t.Fatalf("Push: %v", err)
	}

	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(r)
	if err != nil {
		t.Fatalf("remote.Image(%s): %v", ref, err)
	}
	wantDigest, _ := img.Digest()
	if d, err := got.Digest(); err != nil || d != wantDigest {
		t.Errorf("pulled digest = %v, %v, want %v", d, err, wantDigest)
	}
	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatalf("pulled config: %v", err)
	}
	if !reflect.DeepEqual(cf.Config.Entrypoint, []string{"/fn"}) {
		t.Errorf("pulled Entrypoint = %q, want [/fn]", cf.Config.Entrypoint)
	}
	if !reflect.DeepEqual(cf.Config.Env, []string{"VERSION=v1"}) {
		t.Errorf("pulled Env = %q, want [VERSION=v1]", cf.Config.Env)
	}
	if _, ok := layerFiles(t, got)["fn"]; !ok {
		t.Errorf("pulled layer lacks fn")
	}
}

func TestPushUnreachable(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	ref := strings.TrimPrefix(srv.URL, "http://") + "/x:1"
	srv.Close()
	img, err := Build(writeFakeBinary(t, "fn"), Config{Entrypoint: "/fn"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Push(context.Background(), img, ref); err == nil {
		t.Errorf("Push to a closed registry = nil error, want an error")
	}
}

func TestWriteTarball(t *testing.T) {
	img, err := Build(writeFakeBinary(t, "fn"), Config{Entrypoint: "/fn"})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "img.tar")
	const ref = "127.0.0.1:5000/hello:0.1"
	if err := WriteTarball(img, ref, p); err != nil {
		t.Fatalf("WriteTarball: %v", err)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(p) })
	if err != nil {
		t.Fatalf("LoadManifest: %v", err)
	}
	if len(m) != 1 || !reflect.DeepEqual(m[0].RepoTags, []string{ref}) {
		t.Errorf("manifest.json = %+v, want one image tagged %s", m, ref)
	}
	tag, _ := name.NewTag(ref)
	got, err := tarball.ImageFromPath(p, &tag)
	if err != nil {
		t.Fatalf("ImageFromPath: %v", err)
	}
	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Config.Entrypoint, []string{"/fn"}) {
		t.Errorf("tarball Entrypoint = %q, want [/fn]", cf.Config.Entrypoint)
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		registry string
		want     bool
	}{
		{"127.0.0.1:5000", true},
		{"localhost:5000", true},
		{"localhost", true},
		{"[::1]:5000", true},
		{"127.1.2.3", true},
		{"10.0.0.1:5000", false},
		{"ghcr.io", false},
		{"index.docker.io", false},
	}
	for _, tt := range tests {
		if got := isLoopback(tt.registry); got != tt.want {
			t.Errorf("isLoopback(%q) = %v, want %v", tt.registry, got, tt.want)
		}
	}
}

// TestWriteOCIArchive reads the archive back as an OCI layout: the same
// manifest, named by the ref, with every blob present and matching.
func TestWriteOCIArchive(t *testing.T) {
	img, err := Build(writeFakeBinary(t, "fn"), Config{Entrypoint: "/fn", Env: []string{"A=b"}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "img.tar")
	if err := WriteOCIArchive(img, "example.com/fn:oci", p); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("read layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "example.com/fn:oci" {
		t.Fatalf("index = %+v, %v; want one manifest named example.com/fn:oci", im, err)
	}
	want, _ := img.Digest()
	got, err := idx.Image(im.Manifests[0].Digest)
	if err != nil || im.Manifests[0].Digest != want {
		t.Fatalf("manifest %v, %v; want %v", im.Manifests[0].Digest, err, want)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("image read back does not validate: %v", err)
	}
}
