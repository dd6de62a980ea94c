package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/funcd/funcd/internal/imagebuild"
	"github.com/funcd/funcd/test/testenv"
)

// TestHarnessSmoke checks what every other e2e test relies on: the private
// containerd answers, the registry serves the test images, and those images
// pull, unpack and run under containerd and runc (without funcd).
func TestHarnessSmoke(t *testing.T) {
	requireE2E(t)
	c := containerdClient(t)
	ctx := namespaces.WithNamespace(t.Context(), "e2e-smoke")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := h.Containerd.Reset(ctx); err != nil {
			t.Errorf("reset containerd: %v", err)
		}
	})

	t.Run("containerd", func(t *testing.T) {
		v, err := c.Version(ctx)
		if err != nil || v.Version == "" {
			t.Fatalf("Version() = %+v, %v, want a version", v, err)
		}
		t.Logf("private containerd %s at %s", v.Version, containerdAddress(t))
	})

	t.Run("registry", func(t *testing.T) {
		for _, ti := range testImages {
			ref := imageRef(ti.Ref)
			r, err := name.ParseReference(ref, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			img, err := remote.Image(r, remote.WithContext(ctx))
			if err != nil {
				t.Errorf("image %s not in the registry: %v", ref, err)
				continue
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatalf("config of %s: %v", ref, err)
			}
			if got := cf.Config.Entrypoint; !reflect.DeepEqual(got, []string{ti.Config.Entrypoint}) {
				t.Errorf("%s: Entrypoint = %q, want [%s]", ref, got, ti.Config.Entrypoint)
			}
			if got := cf.Config.Env; !reflect.DeepEqual(got, ti.Config.Env) {
				t.Errorf("%s: Env = %q, want %q", ref, got, ti.Config.Env)
			}
		}
	})

	t.Run("run testfn", func(t *testing.T) {
		resolver := docker.NewResolver(docker.ResolverOptions{
			Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchLocalhost)),
		})
		img, err := c.Pull(ctx, imageRef("testfn:v2"), containerd.WithPullUnpack, containerd.WithResolver(resolver))
		if err != nil {
			t.Fatalf("pull: %v", err)
		}
		logPath := runTask(t, ctx, c, img, "e2e-smoke-testfn", syscall.SIGTERM, 0)
		if b, _ := os.ReadFile(logPath); !bytes.Contains(b, []byte(`VERSION="v2"`)) {
			t.Errorf("testfn output lacks VERSION=\"v2\":\n%s", b)
		}
	})

	t.Run("import tarball", func(t *testing.T) {
		bin := filepath.Join(h.BinDir(), "hello")
		img, err := imagebuild.Build(bin, imagebuild.Config{Entrypoint: "/hello", User: "65534:65534"})
		if err != nil {
			t.Fatal(err)
		}
		tarPath := filepath.Join(t.TempDir(), "hello.tar")
		if err := imagebuild.WriteTarball(img, "example.com/hello:tar", tarPath); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(tarPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		imgs, err := c.Import(ctx, f)
		if err != nil || len(imgs) != 1 {
			t.Fatalf("Import = %v, %v, want one image", imgs, err)
		}
		cimg := containerd.NewImage(c, imgs[0])
		if err := cimg.Unpack(ctx, ""); err != nil {
			t.Fatalf("unpack: %v", err)
		}
		runTask(t, ctx, c, cimg, "e2e-smoke-hello", syscall.SIGTERM, 0)
	})
}

// runTask runs img as container id, waits until it has written output,
// sends sig and checks the exit status; it returns the output's path.
func runTask(t *testing.T, ctx context.Context, c *containerd.Client, img containerd.Image, id string, sig syscall.Signal, wantStatus uint32) string {
	t.Helper()
	ctr, err := c.NewContainer(ctx, id,
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(oci.WithImageConfig(img)), // a new, empty network namespace
	)
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	t.Cleanup(func() { _ = testenv.DeleteContainer(context.WithoutCancel(ctx), ctr) })
	logPath := filepath.Join(t.TempDir(), id+".log")
	task, err := ctr.NewTask(ctx, cio.LogFile(logPath))
	if err != nil {
		t.Fatalf("create task: %v", err)
	}
	exitc, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatalf("start task: %v", err)
	}
	eventually(t, 10*time.Second, func() error {
		if b, _ := os.ReadFile(logPath); !bytes.Contains(b, []byte("listening on")) {
			return fmt.Errorf("no 'listening on' in output yet: %q", b)
		}
		return nil
	})
	if err := task.Kill(ctx, sig); err != nil {
		t.Fatalf("kill task: %v", err)
	}
	select {
	case st := <-exitc:
		if code, _, err := st.Result(); err != nil || code != wantStatus {
			b, _ := os.ReadFile(logPath)
			t.Errorf("%s exit status = %d, %v, want %d; output:\n%s", id, code, err, wantStatus, b)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10s after %v", id, sig)
	}
	if _, err := task.Delete(ctx); err != nil {
		t.Errorf("delete task: %v", err)
	}
	if mps, _ := testenv.MountsUnder(filepath.Join(h.Dir, "state")); len(mps) > 0 {
		t.Errorf("mounts left after deleting the task: %v", mps)
	}
	return logPath
}
