package imagebuild

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// writeFakeBinary writes a file standing in for a binary; Build does not
// execute it.
func writeFakeBinary(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// layerFiles returns the single layer's entries by name.
func layerFiles(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("image has %d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got[hdr.Name] = hdr
	}
}

func TestBuildConfig(t *testing.T) {
	bin := writeFakeBinary(t, "#!/not/really\n")
	img, err := Build(bin, Config{
		Entrypoint: "/fn",
		Env:        []string{"VERSION=v2", "A=b"},
		User:       "65534:65534",
	})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != runtime.GOOS || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform = %s/%s, want %s/%s", cf.OS, cf.Architecture, runtime.GOOS, runtime.GOARCH)
	}
	want := v1.Config{
		Entrypoint:   []string{"/fn"},
		Env:          []string{"VERSION=v2", "A=b"},
		User:         "65534:65534",
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	}
	if !reflect.DeepEqual(cf.Config, want) {
		t.Errorf("config = %+v, want %+v", cf.Config, want)
	}
	if n := len(cf.RootFS.DiffIDs); n != 1 {
		t.Errorf("rootfs has %d diff IDs, want 1", n)
	}
	mt, err := img.MediaType()
	if err != nil || mt != types.OCIManifestSchema1 {
		t.Errorf("MediaType() = %q, %v, want %q", mt, err, types.OCIManifestSchema1)
	}
}

func TestBuildLayer(t *testing.T) {
	bin := writeFakeBinary(t, "binary-bytes")
	img, err := Build(bin, Config{
		Entrypoint:  "/usr/bin/fn",
		ExposedPort: 9000,
		Files:       map[string][]byte{"/etc/app/conf": []byte("x=1")},
	})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	tests := []struct {
		name string
		typ  byte
		mode int64
		size int64
	}{
		{"usr/", tar.TypeDir, 0o755, 0},
		{"usr/bin/", tar.TypeDir, 0o755, 0},
		{"usr/bin/fn", tar.TypeReg, 0o755, int64(len("binary-bytes"))},
		{"etc/app/conf", tar.TypeReg, 0o644, 3},
		{"tmp/", tar.TypeDir, 0o1777, 0},
	}
	files := layerFiles(t, img)
	for _, tt := range tests {
		hdr, ok := files[tt.name]
		if !ok {
			t.Errorf("layer lacks %s; has %v", tt.name, files)
			continue
		}
		if hdr.Typeflag != tt.typ || hdr.Mode != tt.mode || hdr.Size != tt.size {
			t.Errorf("%s: type %c mode %o size %d, want type %c mode %o size %d",
				tt.name, hdr.Typeflag, hdr.Mode, hdr.Size, tt.typ, tt.mode, tt.size)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cf.Config.ExposedPorts["9000/tcp"]; !ok || len(cf.Config.ExposedPorts) != 1 {
		t.Errorf("ExposedPorts = %v, want only 9000/tcp", cf.Config.ExposedPorts)
	}
}

func TestBuildIsReproducible(t *testing.T) {
	bin := writeFakeBinary(t, "same")
	cfg := Config{Entrypoint: "/fn", Files: map[string][]byte{"/a": nil, "/b/c": []byte("c")}}
	var digests []v1.Hash
	for range 2 {
		img, err := Build(bin, cfg)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same input: digests %s and %s", digests[0], digests[1])
	}
}

func TestBuildRejects(t *testing.T) {
	bin := writeFakeBinary(t, "x")
	tests := []struct {
		name string
		bin  string
		cfg  Config
	}{
		{"relative entrypoint", bin, Config{Entrypoint: "fn"}},
		{"root entrypoint", bin, Config{Entrypoint: "/"}},
		{"missing binary", filepath.Join(t.TempDir(), "nope"), Config{Entrypoint: "/fn"}},
		{"relative file", bin, Config{Entrypoint: "/fn", Files: map[string][]byte{"etc/x": nil}}},
		{"file over entrypoint", bin, Config{Entrypoint: "/fn", Files: map[string][]byte{"/fn": nil}}},
		{"file is a directory", bin, Config{Entrypoint: "/fn", Files: map[string][]byte{"/tmp": nil}}},
		{"missing host file", bin, Config{Entrypoint: "/fn", HostFiles: map[string]string{"/lib/x": filepath.Join(t.TempDir(), "nope")}}},
		{"host file over entrypoint", bin, Config{Entrypoint: "/fn", HostFiles: map[string]string{"/fn": bin}}},
		{"relative host file", bin, Config{Entrypoint: "/fn", HostFiles: map[string]string{"lib/x": bin}}},
		{"writable dir without user", bin, Config{Entrypoint: "/fn", WritableDirs: []string{"/data"}}},
		{"writable dir, user by name", bin, Config{Entrypoint: "/fn", User: "nobody", WritableDirs: []string{"/data"}}},
		{"writable dir, bad group", bin, Config{Entrypoint: "/fn", User: "65534:x", WritableDirs: []string{"/data"}}},
		{"relative writable dir", bin, Config{Entrypoint: "/fn", User: "1", WritableDirs: []string{"data"}}},
		{"writable root", bin, Config{Entrypoint: "/fn", User: "1", WritableDirs: []string{"/"}}},
		{"writable dir is a file", bin, Config{Entrypoint: "/fn", User: "1", WritableDirs: []string{"/fn"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Build(tt.bin, tt.cfg); err == nil {
				t.Errorf("Build(%q, %+v) = nil error, want an error", tt.bin, tt.cfg)
			}
		})
	}
}

// TestBuildHostFilesAndDirs builds an image shaped like upstream's
// prom/prometheus: arguments as Cmd, a working directory, host files that
// keep their modes, and a data directory the image's user owns.
func TestBuildHostFilesAndDirs(t *testing.T) {
	bin := writeFakeBinary(t, "prometheus")
	lib := filepath.Join(t.TempDir(), "libc.so.6")
	if err := os.WriteFile(lib, []byte("libc"), 0o751); err != nil {
		t.Fatal(err)
	}
	img, err := Build(bin, Config{
		Entrypoint:   "/bin/prometheus",
		Cmd:          []string{"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"},
		WorkingDir:   "/prometheus",
		User:         "65534:65533",
		HostFiles:    map[string]string{"/lib/x86_64-linux-gnu/libc.so.6": lib},
		WritableDirs: []string{"/prometheus", "/var/lib/x/"},
	})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	tests := []struct {
		name     string
		typ      byte
		mode     int64
		uid, gid int
	}{
		{"lib/x86_64-linux-gnu/libc.so.6", tar.TypeReg, 0o751, 0, 0},
		{"lib/x86_64-linux-gnu/", tar.TypeDir, 0o755, 0, 0},
		{"prometheus/", tar.TypeDir, 0o755, 65534, 65533},
		{"var/lib/x/", tar.TypeDir, 0o755, 65534, 65533},
		{"var/lib/", tar.TypeDir, 0o755, 0, 0},
		{"bin/prometheus", tar.TypeReg, 0o755, 0, 0},
	}
	files := layerFiles(t, img)
	for _, tt := range tests {
		hdr, ok := files[tt.name]
		if !ok {
			t.Errorf("layer lacks %s; has %v", tt.name, files)
			continue
		}
		if hdr.Typeflag != tt.typ || hdr.Mode != tt.mode || hdr.Uid != tt.uid || hdr.Gid != tt.gid {
			t.Errorf("%s: type %c mode %o owner %d:%d, want type %c mode %o owner %d:%d",
				tt.name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, tt.typ, tt.mode, tt.uid, tt.gid)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"}; !reflect.DeepEqual(cf.Config.Cmd, want) {
		t.Errorf("Cmd = %q, want %q", cf.Config.Cmd, want)
	}
	if cf.Config.WorkingDir != "/prometheus" {
		t.Errorf("WorkingDir = %q, want /prometheus", cf.Config.WorkingDir)
	}
}
