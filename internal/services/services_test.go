package services

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/compose"
)

func TestRestarts(t *testing.T) {
	for _, tt := range []struct {
		policy   compose.Restart
		code     uint32
		failures int
		want     bool
	}{
		{compose.Restart{Policy: "no"}, 1, 1, false},
		{compose.Restart{}, 1, 1, false},
		{compose.Restart{Policy: "always"}, 0, 0, true},
		{compose.Restart{Policy: "always"}, 1, 9, true},
		{compose.Restart{Policy: "on-failure"}, 0, 0, false},
		{compose.Restart{Policy: "on-failure"}, 1, 50, true},
		{compose.Restart{Policy: "on-failure", MaxAttempts: 2}, 1, 2, true},
		{compose.Restart{Policy: "on-failure", MaxAttempts: 2}, 1, 3, false},
	} {
		if got := restarts(tt.policy, tt.code, tt.failures); got != tt.want {
			t.Errorf("restarts(%+v, code %d, failures %d) = %v, want %v", tt.policy, tt.code, tt.failures, got, tt.want)
		}
	}
}

func TestHashAndID(t *testing.T) {
	a := compose.Service{Name: "db", Image: "postgres:16", Env: []string{"A=1"}}
	b := a
	b.Env = []string{"A=2"}
	if a2 := a; hash(a) != hash(a2) || hash(a) == hash(b) {
		t.Fatalf("hash: same value must hash alike, a changed one differently")
	}
	id := containerID("db", "0123456789abcdef", hash(a))
	if !strings.HasPrefix(id, "db-01234567-") || len(id) != len("db-01234567-")+12 || id == containerID("db", "0123456789abcdef", hash(b)) {
		t.Errorf("containerID = %q, want db-INSTANCE8-HASH12, different per value", id)
	}
}

func TestContainerSpecMounts(t *testing.T) {
	state := t.TempDir()
	r := New(nil, nil, Config{StateDir: state, Instance: "abc", Mounts: []BindMount{{Source: "/x/hosts", Destination: "/etc/hosts"}}})
	bind := filepath.Join(t.TempDir(), "missing", "data")
	s := compose.Service{Name: "db", Image: "x", ReadOnly: true, User: "1000:1000", CapDrop: []string{"ALL"},
		Mounts:      []compose.Mount{{Source: bind, Target: "/data"}, {Volume: "pgdata", Target: "/var/lib/pg", ReadOnly: true}},
		MemoryBytes: 64 << 20, CPUMillis: 500}
	spec, err := r.containerSpec(s, "db-1", "img", "/ns")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(bind); err != nil || !fi.IsDir() {
		t.Errorf("bind source %s not created as a directory: %v", bind, err)
	}
	vol := filepath.Join(state, "volumes", "pgdata")
	if fi, err := os.Stat(filepath.Dir(vol)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("STATE/volumes = %v, %v; want a 0700 directory", fi, err)
	}
	got := map[string]string{}
	for _, m := range spec.Mounts {
		got[m.Destination] = m.Source + " " + strings.Join(m.Options, ",")
	}
	for dst, want := range map[string]string{"/etc/hosts": "/x/hosts rbind,ro", "/data": bind + " rbind,rw", "/var/lib/pg": vol + " rbind,ro"} {
		if got[dst] != want {
			t.Errorf("mount %s = %q, want %q", dst, got[dst], want)
		}
	}
	if !spec.ReadOnlyRoot || spec.User != "1000:1000" || !slices.Equal(spec.CapDrop, []string{"ALL"}) || spec.MemoryLimit != 64<<20 || spec.CPUMillis != 500 || !spec.NoTmpfs {
		t.Errorf("spec = %+v, want read-only root, user, cap_drop, limits and no tmpfs", spec)
	}
	if spec.Labels[labelService] != "db" || spec.Labels[labelInstance] != "abc" || spec.Labels[labelHash] != hash(s) {
		t.Errorf("labels = %v", spec.Labels)
	}
	for _, bad := range []string{"../x", "a/b", ""} {
		s := compose.Service{Name: "db", Mounts: []compose.Mount{{Volume: bad, Target: "/d"}}}
		if bad == "" {
			s.Mounts[0].Source = "relative/path"
		}
		if _, err := r.containerSpec(s, "db-1", "img", "/ns"); err == nil {
			t.Errorf("containerSpec with volume %q / relative bind = nil error, want one", bad)
		}
	}
}

// TestUsingImage matches images by their normalised names.
func TestUsingImage(t *testing.T) {
	r := New(nil, nil, Config{StateDir: t.TempDir()})
	r.svcs["prometheus"] = &service{spec: compose.Service{Name: "prometheus", Image: "prom/prometheus:v3.5.0"}}
	r.svcs["db"] = &service{spec: compose.Service{Name: "db", Image: "docker.io/library/postgres:16"}}
	for ref, want := range map[string][]string{
		"docker.io/prom/prometheus:v3.5.0": {"prometheus"},
		"postgres:16":                      {"db"},
		"postgres:17":                      nil,
		"not a ref!":                       nil,
	} {
		if got := r.UsingImage(ref); !slices.Equal(got, want) {
			t.Errorf("UsingImage(%q) = %v, want %v", ref, got, want)
		}
	}
}
