// Package imagebuild packs a static binary into a single-layer OCI image and
// publishes it to a registry, a docker-archive tarball or an OCI archive.
// It exists for the end-to-end tests, the benchmarks and cmd/mkimage, which
// build function images from Go sources in this repository instead of
// pulling them from the internet.
//
// It must not import other funcd packages.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultPort is the port OpenFaaS functions serve HTTP on.
const DefaultPort = 8080

// Config describes the image around the binary.
type Config struct {
	// Entrypoint is the binary's absolute path inside the image, e.g. "/fn".
	Entrypoint string
	// Env holds KEY=VALUE pairs recorded in the image config.
	Env []string
	// User is the image's user, e.g. "65534:65534"; empty means root.
	User string
	// ExposedPort is the TCP port recorded in the image config; 0 means
	// DefaultPort.
	ExposedPort int
	// Files are extra regular files (absolute path → content, mode 0644)
	// added to the layer.
	Files map[string][]byte
}

// epoch is the timestamp of every file and of the image, so the same inputs
// give the same digest.
var epoch = time.Unix(0, 0).UTC()

// Build returns an image whose only layer holds the binary at
// cfg.Entrypoint, a world-writable /tmp and cfg.Files. The platform is the
// binary's own when it is a Go binary, else the running one.
func Build(binaryPath string, cfg Config) (v1.Image, error) {
	if !path.IsAbs(cfg.Entrypoint) || path.Clean(cfg.Entrypoint) == "/" {
		return nil, fmt.Errorf("build image: entrypoint %q is not an absolute file path", cfg.Entrypoint)
	}
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	files := map[string]fileEntry{path.Clean(cfg.Entrypoint): {data: bin, mode: 0o755}}
	for p, data := range cfg.Files {
		if !path.IsAbs(p) {
			return nil, fmt.Errorf("build image: file path %q is not absolute", p)
		}
		if _, dup := files[path.Clean(p)]; dup {
			return nil, fmt.Errorf("build image: file %q given twice", p)
		}
		files[path.Clean(p)] = fileEntry{data: data, mode: 0o644}
	}
	layerTar, err := tarFiles(files)
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("build image: layer: %w", err)
	}

	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "funcd imagebuild " + path.Clean(cfg.Entrypoint)},
	})
	if err != nil {
		return nil, fmt.Errorf("build image: append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("build image: read config: %w", err)
	}
	cf = cf.DeepCopy()
	plat := binaryPlatform(binaryPath)
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	cf.Created = v1.Time{Time: epoch}
	cf.Config = imageConfig(cfg)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("build image: set config: %w", err)
	}
	return img, nil
}

func imageConfig(cfg Config) v1.Config {
	port := cfg.ExposedPort
	if port == 0 {
		port = DefaultPort
	}
	return v1.Config{
		Entrypoint:   []string{path.Clean(cfg.Entrypoint)},
		Env:          append([]string(nil), cfg.Env...),
		User:         cfg.User,
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{strconv.Itoa(port) + "/tcp": {}},
	}
}

// binaryPlatform reads GOOS, GOARCH and GOARM from a Go binary's build
// information, falling back to the running platform.
func binaryPlatform(binaryPath string) v1.Platform {
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	info, err := buildinfo.ReadFile(binaryPath)
	if err != nil {
		return p
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "GOOS":
			p.OS = s.Value
		case "GOARCH":
			p.Architecture = s.Value
		case "GOARM":
			p.Variant = "v" + strings.SplitN(s.Value, ",", 2)[0]
		}
	}
	if p.Architecture != "arm" {
		p.Variant = ""
	}
	return p
}

type fileEntry struct {
	data []byte
	mode int64
}

// tarFiles writes files, their parent directories and /tmp as an
// uncompressed tar with fixed owners and timestamps.
func tarFiles(files map[string]fileEntry) ([]byte, error) {
	dirs := map[string]int64{"/tmp": 0o1777}
	for p := range files {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = 0o755
			}
		}
	}
	names := make([]string, 0, len(dirs)+len(files))
	for d := range dirs {
		if _, clash := files[d]; clash {
			return nil, fmt.Errorf("%s is both a file and a directory", d)
		}
		names = append(names, d)
	}
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names) // parents sort before their children

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		hdr := &tar.Header{Name: strings.TrimPrefix(n, "/"), ModTime: epoch, Format: tar.FormatPAX}
		if mode, isDir := dirs[n]; isDir {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", mode
		} else {
			f := files[n]
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, f.mode, int64(len(f.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar %s: %w", n, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := tw.Write(files[n].data); err != nil {
				return nil, fmt.Errorf("tar %s: %w", n, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return buf.Bytes(), nil
}
