package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/snapshots"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
	"github.com/funcd/funcd/internal/imagebuild"
)

// deadRegistry is a "registry" that counts connections and closes them
// unanswered: images named on it can only come from an import, and any
// pull is seen.
type deadRegistry struct {
	host  string
	conns atomic.Int32
}

func startDeadRegistry(t *testing.T) *deadRegistry {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &deadRegistry{host: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.conns.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return r
}

// archiveFormat is one way of packing an image for funcd image import.
type archiveFormat struct {
	name string // docker, docker.gz, oci, oci.gz
	oci  bool
	gz   bool
}

var archiveFormats = []archiveFormat{{"docker", false, false}, {"docker.gz", false, true}, {"oci", true, false}, {"oci.gz", true, true}}

// testfnImage is testfn with VERSION=version in its config and files, if
// any, in its layer.
func testfnImage(t *testing.T, version string, files map[string][]byte) v1.Image {
	t.Helper()
	cfg := imagebuild.Config{Entrypoint: "/testfn", Env: []string{"VERSION=" + version}, Files: files}
	img, err := imagebuild.Build(filepath.Join(h.BinDir(), "testfn"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// writeArchive writes img named ref in format f and returns its path.
func writeArchive(t *testing.T, img v1.Image, ref string, f archiveFormat) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	write := imagebuild.WriteTarball
	if f.oci {
		write = imagebuild.WriteOCIArchive
	}
	if err := write(img, ref, p); err != nil {
		t.Fatal(err)
	}
	if !f.gz {
		return p
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	if err := os.WriteFile(p+".gz", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p + ".gz"
}

// importFile imports the archive at path through the API.
func importFile(t *testing.T, c *client.Client, path string) ([]api.Image, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	return c.ImportImage(t.Context(), "", f, fi.Size())
}

// runFuncdCLI runs the funcd binary as a client logged in to f.
func runFuncdCLI(t *testing.T, f *Funcd, configDir string, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	bin, err := h.FuncdBinary(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append(withoutFuncdVars(), "OPENFAAS_CONFIG="+configDir, "OPENFAAS_URL="+f.URL)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	return stdout.String(), stderr.String(), err
}

func loginCLI(t *testing.T, f *Funcd) string {
	t.Helper()
	dir := t.TempDir()
	pw, err := os.ReadFile(filepath.Join(f.StateDir, "secrets", "basic-auth-password"))
	if err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := runFuncdCLI(t, f, dir, bytes.NewReader(pw), "login", "--password-stdin"); err != nil {
		t.Fatalf("funcd login = %v: %s%s", err, out, errOut)
	}
	return dir
}

// TestImageImportOffline imports testfn in each archive format (docker
// save and OCI layout, plain and gzip; through the API, the CLI and the
// CLI's stdin), names it on a registry that answers nothing, deploys it
// with the pull policies never and missing and the default, and invokes
// it: no connection ever reaches the registry. An image in use cannot be
// removed (409 naming the functions, parked at zero too); once they are
// gone it can, and its content and snapshots go with it.
func TestImageImportOffline(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	reg := startDeadRegistry(t)
	before := storeContents(t)
	cliConfig := loginCLI(t, f)

	type imported struct {
		format archiveFormat
		ref    string // as deployed
		policy string // annotation; "" for the default
	}
	var fns []imported
	for i, format := range archiveFormats {
		var files map[string][]byte
		if format.name == "docker.gz" { // big enough for the CLI to show progress
			files = map[string][]byte{"/padding": randomBytes(t, 5<<20)}
		}
		ref := fmt.Sprintf("%s/offline/testfn:%s", reg.host, strings.ReplaceAll(format.name, ".", "-"))
		policy := []string{"never", "missing", "", "never"}[i]
		if format.name == "oci.gz" {
			ref = reg.host + "/offline/testfn:latest" // missing and never take :latest from the store too
			policy = "missing"
		}
		path := writeArchive(t, testfnImage(t, format.name, files), ref, format)
		var imgs []api.Image
		switch format.name {
		case "docker.gz": // the CLI, from a file
			out, errOut, err := runFuncdCLI(t, f, cliConfig, nil, "image", "import", path)
			if err != nil || !strings.Contains(out, "Imported "+ref+" sha256:") {
				t.Fatalf("funcd image import %s = %v\nstdout %s\nstderr %s", format.name, err, out, errOut)
			}
			fi, _ := os.Stat(path)
			mib := fi.Size() >> 20
			if want := fmt.Sprintf("\rsent %d MiB of %d MiB (100%%)\n", mib, mib); !strings.HasSuffix(errOut, want) {
				t.Errorf("funcd image import of %d bytes printed %q, want progress ending %q", fi.Size(), errOut, want)
			}
		case "oci": // the CLI, from stdin
			in, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			out, errOut, err := runFuncdCLI(t, f, cliConfig, in, "image", "import", "-")
			in.Close()
			if err != nil || !strings.Contains(out, "Imported "+ref+" sha256:") {
				t.Fatalf("funcd image import - < %s = %v\nstdout %s\nstderr %s", format.name, err, out, errOut)
			}
		default:
			var err error
			imgs, err = importFile(t, c, path)
			if err != nil || len(imgs) != 1 || imgs[0].Name != ref || !strings.HasPrefix(imgs[0].Digest, "sha256:") || imgs[0].Size == 0 {
				t.Fatalf("import %s = %+v, %v; want %s with digest and size", format.name, imgs, err, ref)
			}
		}
		fns = append(fns, imported{format, ref, policy})
	}

	list, err := c.ListImages(ctx, "")
	if err != nil || len(list) != len(archiveFormats) {
		t.Fatalf("ListImages = %+v, %v; want the %d imported", list, err, len(archiveFormats))
	}

	for i, fn := range fns {
		d := api.FunctionDeployment{Service: fmt.Sprintf("imported-%d", i), Image: fn.ref}
		if fn.policy != "" {
			d.Annotations = map[string]string{"com.funcd.pull-policy": fn.policy}
		}
		deployReady(t, c, d)
		if r := echo(t, c, d.Service, "/"); r.Version != fn.format.name {
			t.Errorf("%s (%s, policy %q) answers version %q, want %q", d.Service, fn.ref, fn.policy, r.Version, fn.format.name)
		}
	}
	if n := reg.conns.Load(); n != 0 {
		t.Fatalf("the registry was asked %d times while deploying imported images", n)
	}

	// Bad deploys: never without the image; always, which must pull.
	err = c.Deploy(ctx, api.FunctionDeployment{Service: "absent", Image: reg.host + "/offline/absent:1",
		Annotations: map[string]string{"com.funcd.pull-policy": "never"}})
	if !isStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), reg.host+"/offline/absent:1") || !strings.Contains(err.Error(), "funcd image import") {
		t.Errorf("deploy of an absent image with policy never = %v, want 400 naming it and funcd image import", err)
	}
	err = c.Deploy(ctx, api.FunctionDeployment{Service: "always", Image: fns[0].ref,
		Annotations: map[string]string{"com.funcd.pull-policy": "always"}})
	if !isStatus(err, http.StatusBadRequest) || reg.conns.Load() == 0 {
		t.Errorf("deploy with policy always from a dead registry = %v after %d connections, want 400 after trying", err, reg.conns.Load())
	}
	err = c.Deploy(ctx, api.FunctionDeployment{Service: "typo", Image: fns[0].ref,
		Annotations: map[string]string{"com.funcd.pull-policy": "sometimes"}})
	if !isStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "com.funcd.pull-policy") {
		t.Errorf("deploy with a bad pull policy = %v, want 400 naming the annotation", err)
	}

	// In use: refused, at any scale.
	if err := c.Scale(ctx, "imported-0", "", 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if st, err := c.GetFunction(ctx, "imported-0", ""); err != nil || st.AvailableReplicas != 0 {
			return fmt.Errorf("imported-0 = %+v, %v; want at zero", st, err)
		}
		return nil
	})
	err = c.RemoveImage(ctx, fns[0].ref, "")
	if !errors.Is(err, client.ErrConflict) || !strings.Contains(err.Error(), "imported-0") {
		t.Errorf("RemoveImage of an image a function parked at zero uses = %v, want 409 naming it", err)
	}
	out, errOut, err := runFuncdCLI(t, f, cliConfig, nil, "image", "rm", fns[1].ref)
	if err == nil || !strings.Contains(errOut, "imported-1") {
		t.Errorf("funcd image rm of a used image = %v\n%s%s; want it refused naming imported-1", err, out, errOut)
	}
	out, _, err = runFuncdCLI(t, f, cliConfig, nil, "image", "list")
	if err != nil || !strings.Contains(out, fns[2].ref) || !strings.Contains(out, "imported-2") {
		t.Errorf("funcd image list = %v\n%s; want the images with their functions", err, out)
	}

	for i, fn := range fns {
		if err := c.Remove(ctx, fmt.Sprintf("imported-%d", i), ""); err != nil {
			t.Fatal(err)
		}
		if err := c.RemoveImage(ctx, fn.ref, ""); err != nil {
			t.Errorf("RemoveImage(%s) after its function went = %v", fn.ref, err)
		}
	}
	if err := c.RemoveImage(ctx, fns[0].ref, ""); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("RemoveImage of a removed image = %v, want 404", err)
	}
	if list, err := c.ListImages(ctx, ""); err != nil || len(list) != 0 {
		t.Errorf("ListImages after removing all = %+v, %v; want none", list, err)
	}
	assertNoLeftovers(t, f)
	if after := storeContents(t); !slices.Equal(after, before) {
		t.Errorf("containerd holds %v after the images were removed, want what it held before: %v", after, before)
	}
	if n := reg.conns.Load(); n == 0 {
		t.Error("the dead registry saw no connection at all; the always deploy did not reach it")
	}
}

// TestImageBadArchives sends archives that are not images, are truncated,
// corrupt, name no usable image or are built for another platform: each
// is a 400 naming the problem, and containerd holds afterwards exactly
// what it held before (no image, content, ingest, lease or snapshot),
// even when a bad archive reuses the name of an image already there.
func TestImageBadArchives(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	reg := startDeadRegistry(t)
	ref := reg.host + "/bad/testfn:1"
	img := testfnImage(t, "good", nil)
	good, err := importFile(t, c, writeArchive(t, img, ref, archiveFormats[0]))
	if err != nil {
		t.Fatal(err)
	}
	before := storeContents(t)

	docker := readFile(t, writeArchive(t, img, ref, archiveFormats[0]))
	// A layer of its own: one the store does not hold already.
	oci := readFile(t, writeArchive(t, testfnImage(t, "other", map[string][]byte{"/other": []byte("other")}), ref, archiveFormats[2]))
	foreign := testfnImage(t, "foreign", nil)
	cf, err := foreign.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = "s390x"
	if cf.Architecture == runtime.GOARCH {
		cf.Architecture = "riscv64"
	}
	foreign, err = mutate.ConfigFile(foreign, cf)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"garbage", bytes.Repeat([]byte("not an image "), 500), "neither a tar archive nor gzip"},
		{"truncated", docker[:len(docker)/2], "ends early"},
		{"truncated gzip", gzipBytes(t, docker)[:len(docker)/3], "bad image archive"},
		{"tar of something else", tarBytes(t, map[string][]byte{"hello.txt": []byte("hi")}), "unrecognized image format"},
		{"corrupt layer, same name as an image", rewriteTar(t, docker, func(name string, b []byte) []byte {
			if strings.HasSuffix(name, ".tar.gz") { // the layer

				b = bytes.Clone(b)
				for i := len(b) / 2; i < len(b)/2+64; i++ {
					b[i] ^= 0xff
				}
			}
			return b
		}), ref},
		{"OCI layout missing a layer", rewriteTar(t, oci, func(name string, b []byte) []byte {
			if strings.HasPrefix(name, "blobs/") && len(b) > 100000 {
				return nil
			}
			return b
		}), ref},
		{"OCI layout named only by tag", rewriteTar(t, oci, func(name string, b []byte) []byte {
			if name == "index.json" {
				return bytes.Replace(b, []byte(`"`+ref+`"`), []byte(`"v1"`), 1)
			}
			return b
		}), `only by the tag "v1"`},
		{"another platform", readFile(t, writeArchive(t, foreign, reg.host+"/bad/foreign:1", archiveFormats[0])), "no image for this host's platform"},
		{"another platform, OCI", readFile(t, writeArchive(t, foreign, reg.host+"/bad/foreign:1", archiveFormats[2])), "built for linux/" + cf.Architecture},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ImportImage(t.Context(), "", bytes.NewReader(tt.body), int64(len(tt.body)))
			t.Logf("import: %v", err)
			if !isStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("import = %v, want 400 containing %q", err, tt.want)
			}
			if after := storeContents(t); !slices.Equal(after, before) {
				t.Errorf("containerd holds\n%v\nafter a bad import, want\n%v", after, before)
			}
		})
	}
	list, err := c.ListImages(t.Context(), "")
	if err != nil || len(list) != 1 || list[0].Name != ref || list[0].Digest != good[0].Digest {
		t.Errorf("images = %+v, %v; want only %s at %s, as before", list, err, ref, good[0].Digest)
	}
	deployReady(t, c, api.FunctionDeployment{Service: "survivor", Image: ref, Annotations: map[string]string{"com.funcd.pull-policy": "never"}})
	if r := echo(t, c, "survivor", "/"); r.Version != "good" {
		t.Errorf("survivor answers version %q, want good", r.Version)
	}
	if n := reg.conns.Load(); n != 0 {
		t.Errorf("the registry was asked %d times", n)
	}
}

// TestImageLimitsAndPolicyFlag runs funcd with --max-image-size 1Mi and
// --pull-policy never: an archive over the cap is refused (declared or
// streamed) leaving nothing behind; a function whose image is not local
// is refused naming funcd image import, until the annotation always lets
// it pull.
func TestImageLimitsAndPolicyFlag(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t, WithArgs("--max-image-size", "1Mi", "--pull-policy", "never"))
	c := f.Client(t)
	before := storeContents(t)
	archive := readFile(t, writeArchive(t, testfnImage(t, "big", nil), "example.com/big:1", archiveFormats[0]))
	if len(archive) <= 1<<20 {
		t.Fatalf("testfn's archive is only %d bytes; the test needs one over 1Mi", len(archive))
	}
	for _, size := range []int64{int64(len(archive)), -1} {
		_, err := c.ImportImage(t.Context(), "", bytes.NewReader(archive), size)
		if !isStatus(err, http.StatusRequestEntityTooLarge) || !strings.Contains(err.Error(), "1Mi") || !strings.Contains(err.Error(), "--max-image-size") {
			t.Errorf("import of %d bytes (size %d) = %v, want 413 naming the cap", len(archive), size, err)
		}
	}
	if after := storeContents(t); !slices.Equal(after, before) {
		t.Errorf("containerd holds %v after refused imports, want %v", after, before)
	}

	err := c.Deploy(t.Context(), api.FunctionDeployment{Service: "remote", Image: imageRef("testfn:v1")})
	if !isStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), imageRef("testfn:v1")) || !strings.Contains(err.Error(), "funcd image import") {
		t.Errorf("deploy of a registry image under --pull-policy never = %v, want 400 naming it and funcd image import", err)
	}
	deployReady(t, c, api.FunctionDeployment{Service: "remote", Image: imageRef("testfn:v1"), Annotations: map[string]string{"com.funcd.pull-policy": "always"}})
	if r := echo(t, c, "remote", "/"); r.Version != "v1" {
		t.Errorf("remote answers version %q, want v1", r.Version)
	}
}

// TestImageImportStreams imports a 128 MiB archive: funcd's peak memory
// grows by a fraction of it, since the archive streams from the socket
// into containerd and is never held whole.
func TestImageImportStreams(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	img := testfnImage(t, "big", map[string][]byte{"/big": randomBytes(t, 128<<20)})
	path := writeArchive(t, img, "example.com/big:1", archiveFormats[0])
	before := peakRSS(t, f.PID())
	start := time.Now()
	imgs, err := importFile(t, c, path)
	took := time.Since(start)
	if err != nil || len(imgs) != 1 {
		t.Fatalf("import = %+v, %v", imgs, err)
	}
	after := peakRSS(t, f.PID())
	fi, _ := os.Stat(path)
	t.Logf("imported %d MiB in %v; funcd's peak RSS %d MiB before, %d MiB after", fi.Size()>>20, took.Round(time.Millisecond), before>>20, after>>20)
	if after-before > 48<<20 {
		t.Errorf("funcd's peak RSS grew by %d MiB importing %d MiB, want a fraction of it", (after-before)>>20, fi.Size()>>20)
	}
	if err := c.RemoveImage(t.Context(), imgs[0].Name, ""); err != nil {
		t.Fatal(err)
	}

	// Another namespace gets images of its own.
	if err := c.CreateNamespace(t.Context(), api.FunctionNamespace{Name: "imgdev"}); err != nil {
		t.Fatal(err)
	}
	small := writeArchive(t, testfnImage(t, "dev", nil), "example.com/dev:1", archiveFormats[1])
	in, err := os.Open(small)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := c.ImportImage(t.Context(), "imgdev", in, -1); err != nil {
		t.Fatalf("import into imgdev = %v", err)
	}
	dev, err := c.ListImages(t.Context(), "imgdev")
	if err != nil || len(dev) != 1 || dev[0].Name != "example.com/dev:1" {
		t.Errorf("images in imgdev = %+v, %v; want example.com/dev:1", dev, err)
	}
	if def, err := c.ListImages(t.Context(), ""); err != nil || len(def) != 0 {
		t.Errorf("images in %s = %+v, %v; want none", fnNamespace, def, err)
	}
	if _, err := c.ListImages(t.Context(), "nope"); !isStatus(err, http.StatusBadRequest) {
		t.Errorf("images in an unknown namespace = %v, want 400", err)
	}
	deployReady(t, c, api.FunctionDeployment{Service: "devfn", Namespace: "imgdev", Image: "example.com/dev:1",
		Annotations: map[string]string{"com.funcd.pull-policy": "never"}})
	if err := c.RemoveImage(t.Context(), "example.com/dev:1", "imgdev"); !errors.Is(err, client.ErrConflict) {
		t.Errorf("RemoveImage in imgdev while devfn uses it = %v, want 409", err)
	}
}

// peakRSS is a process's peak resident set size (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				t.Fatalf("parse %q: %v", l, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// storeContents lists what containerd holds in the functions' namespace:
// images, content blobs, ingests under way, leases and snapshots.
func storeContents(t *testing.T) []string {
	t.Helper()
	ctx := namespaces.WithNamespace(context.WithoutCancel(t.Context()), fnNamespace)
	ctr := containerdClient(t)
	var out []string
	imgs, err := ctr.ImageService().List(ctx)
	if err != nil {
		t.Fatalf("list images: %v", err)
	}
	for _, img := range imgs {
		out = append(out, "image "+img.Name+" "+img.Target.Digest.String())
	}
	err = ctr.ContentStore().Walk(ctx, func(i content.Info) error {
		out = append(out, "blob "+i.Digest.String())
		return nil
	})
	if err != nil {
		t.Fatalf("walk content: %v", err)
	}
	active, err := ctr.ContentStore().ListStatuses(ctx)
	if err != nil {
		t.Fatalf("list ingests: %v", err)
	}
	for _, a := range active {
		out = append(out, "ingest "+a.Ref)
	}
	ls, err := ctr.LeasesService().List(ctx)
	if err != nil {
		t.Fatalf("list leases: %v", err)
	}
	for _, l := range ls {
		out = append(out, "lease "+l.ID)
	}
	err = ctr.SnapshotService("overlayfs").Walk(ctx, func(_ context.Context, i snapshots.Info) error {
		out = append(out, "snapshot "+i.Name)
		return nil
	})
	if err != nil {
		t.Fatalf("walk snapshots: %v", err)
	}
	slices.Sort(out)
	return out
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

func tarBytes(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	return buf.Bytes()
}

// rewriteTar copies a tar archive, passing each regular file through
// edit; a nil result drops the file.
func rewriteTar(t *testing.T, archive []byte, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if b = edit(hdr.Name, b); b == nil {
				continue
			}
			hdr.Size = int64(len(b))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	return buf.Bytes()
}
