// Package imagebuild packs a binary into a single-layer OCI image and
// publishes it to a registry, a docker-archive tarball or an OCI archive.
// It exists for the end-to-end tests, the benchmarks and cmd/mkimage, which
// build function images from Go sources in this repository instead of
// pulling them from the internet. A dynamically linked binary of this
// machine (Debian's prometheus) goes in with the shared libraries ldd finds
// (HostBinary).
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
	// Cmd holds the default arguments to the entrypoint, which a
	// container's command replaces (as an image's CMD).
	Cmd []string
	// WorkingDir is the image's working directory; empty means "/".
	WorkingDir string
	// Files are extra regular files (absolute path → content, mode 0644)
	// added to the layer.
	Files map[string][]byte
	// HostFiles are files of this machine copied into the layer (absolute
	// path in the image → path here), keeping their permission bits:
	// shared libraries, for instance.
	HostFiles map[string]string
	// WritableDirs are empty directories (absolute paths) owned by User,
	// which must then be numeric ("UID" or "UID:GID"), so that a non-root
	// image can write its data there.
	WritableDirs []string
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
	add := func(p string, f fileEntry) error {
		if !path.IsAbs(p) {
			return fmt.Errorf("build image: file path %q is not absolute", p)
		}
		if _, dup := files[path.Clean(p)]; dup {
			return fmt.Errorf("build image: file %q given twice", p)
		}
		files[path.Clean(p)] = f
		return nil
	}
	for p, data := range cfg.Files {
		if err := add(p, fileEntry{data: data, mode: 0o644}); err != nil {
			return nil, err
		}
	}
	for p, host := range cfg.HostFiles {
		f, err := readHostFile(host)
		if err != nil {
			return nil, fmt.Errorf("build image: %w", err)
		}
		if err := add(p, f); err != nil {
			return nil, err
		}
	}
	dirs, err := writableDirs(cfg)
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	layerTar, err := tarFiles(files, dirs)
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
	wd := cfg.WorkingDir
	if wd == "" {
		wd = "/"
	}
	return v1.Config{
		Entrypoint:   []string{path.Clean(cfg.Entrypoint)},
		Cmd:          append([]string(nil), cfg.Cmd...),
		Env:          append([]string(nil), cfg.Env...),
		User:         cfg.User,
		WorkingDir:   wd,
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
	data     []byte
	mode     int64
	uid, gid int // of directories
}

// readHostFile reads a file of this machine, following symbolic links, and
// keeps its permission bits.
func readHostFile(p string) (fileEntry, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return fileEntry{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fileEntry{}, err
	}
	return fileEntry{data: data, mode: int64(fi.Mode().Perm())}, nil
}

// writableDirs returns cfg.WritableDirs owned by cfg.User, mode 0755.
func writableDirs(cfg Config) (map[string]fileEntry, error) {
	dirs := map[string]fileEntry{}
	if len(cfg.WritableDirs) == 0 {
		return dirs, nil
	}
	uid, gid, err := numericUser(cfg.User)
	if err != nil {
		return nil, fmt.Errorf("writable directories need a numeric user: %w", err)
	}
	for _, d := range cfg.WritableDirs {
		if !path.IsAbs(d) || path.Clean(d) == "/" {
			return nil, fmt.Errorf("writable directory %q is not an absolute path below /", d)
		}
		dirs[path.Clean(d)] = fileEntry{mode: 0o755, uid: uid, gid: gid}
	}
	return dirs, nil
}

// numericUser parses "UID" or "UID:GID"; a lone UID is also the GID.
func numericUser(user string) (uid, gid int, err error) {
	u, g, hasGroup := strings.Cut(user, ":")
	if uid, err = strconv.Atoi(u); err != nil || uid < 0 {
		return 0, 0, fmt.Errorf("user %q is not UID or UID:GID", user)
	}
	if !hasGroup {
		return uid, uid, nil
	}
	if gid, err = strconv.Atoi(g); err != nil || gid < 0 {
		return 0, 0, fmt.Errorf("user %q is not UID or UID:GID", user)
	}
	return uid, gid, nil
}

// tarFiles writes files, the directories in owned, the parent directories
// of both and /tmp as an uncompressed tar with fixed timestamps; files and
// the directories not in owned belong to root.
func tarFiles(files, owned map[string]fileEntry) ([]byte, error) {
	dirs := map[string]fileEntry{"/tmp": {mode: 0o1777}}
	for d, e := range owned {
		dirs[d] = e
	}
	parents := func(p string) {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = fileEntry{mode: 0o755}
			}
		}
	}
	for p := range files {
		parents(p)
	}
	for d := range owned {
		parents(d)
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
		if d, isDir := dirs[n]; isDir {
			hdr.Typeflag, hdr.Name, hdr.Mode, hdr.Uid, hdr.Gid = tar.TypeDir, hdr.Name+"/", d.mode, d.uid, d.gid
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
