package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// tree writes files (path → content) below a temporary root.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// Real file contents, cut short, from a Debian host with cgroup v1 (hybrid)
// and one with cgroup v2.
const (
	procV1 = `12:pids:/openfaas-fn/fn-0a1b2c3d4e
11:memory:/openfaas-fn/fn-0a1b2c3d4e
10:cpu,cpuacct:/openfaas-fn/fn-0a1b2c3d4e
9:name=systemd:/openfaas-fn/fn-0a1b2c3d4e
0::/openfaas-fn/fn-0a1b2c3d4e
`
	statV1 = `cache 2252800
rss 70520832
rss_huge 0
shmem 0
mapped_file 1081344
inactive_anon 70254592
active_anon 0
inactive_file 1171456
active_file 1081344
unevictable 0
hierarchical_memory_limit 134217728
total_cache 2252800
total_rss 70520832
total_inactive_anon 70254592
total_active_anon 0
total_inactive_file 1171456
total_active_file 1081344
`
	oomV1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"

	procV2 = "0::/openfaas-fn/fn-0a1b2c3d4e\n"
	statV2 = `anon 70516736
file 2252800
kernel 589824
shmem 0
file_mapped 1081344
inactive_anon 70254592
active_anon 262144
inactive_file 1171456
active_file 1081344
unevictable 0
`
	cpuStatV2 = `usage_usec 1500000
user_usec 1000000
system_usec 500000
nr_periods 0
nr_throttled 0
throttled_usec 0
`
	eventsV2 = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n"
)

func TestFindAndStats(t *testing.T) {
	const id = "openfaas-fn/fn-0a1b2c3d4e"
	tests := []struct {
		name  string
		files map[string]string
		want  Stats
		v2    bool
	}{{
		name: "v1 hybrid",
		files: map[string]string{
			"proc/42/cgroup": procV1,
			"sys/fs/cgroup/memory/" + id + "/memory.usage_in_bytes": "73728000\n",
			"sys/fs/cgroup/memory/" + id + "/memory.stat":           statV1,
			"sys/fs/cgroup/memory/" + id + "/memory.oom_control":    oomV1,
			"sys/fs/cgroup/cpu,cpuacct/" + id + "/cpuacct.usage":    "2500000000\n",
			"sys/fs/cgroup/unified/cgroup.controllers":              "",
			"sys/fs/cgroup/unified/" + id + "/cgroup.procs":         "42\n",
			"sys/fs/cgroup/unified/" + id + "/cpu.stat":             "usage_usec 9\n",
			"sys/fs/cgroup/memory/" + id + "/memory.limit_in_bytes": "134217728\n",
		},
		want: Stats{MemoryBytes: 73728000 - 1171456, CPU: 2500 * time.Millisecond, OOMKills: 2},
	}, {
		name: "v1 old kernel without oom_kill",
		files: map[string]string{
			"proc/42/cgroup": "4:memory:/" + id + "\n3:cpuacct:/" + id + "\n",
			"sys/fs/cgroup/memory/" + id + "/memory.usage_in_bytes": "4096\n",
			"sys/fs/cgroup/memory/" + id + "/memory.stat":           "inactive_file 8192\n",
			"sys/fs/cgroup/memory/" + id + "/memory.oom_control":    "oom_kill_disable 0\nunder_oom 0\n",
			"sys/fs/cgroup/cpuacct/" + id + "/cpuacct.usage":        "7\n",
		},
		want: Stats{MemoryBytes: 0, CPU: 7},
	}, {
		name: "v2",
		files: map[string]string{
			"proc/42/cgroup":                                   procV2,
			"sys/fs/cgroup/cgroup.controllers":                 "cpuset cpu io memory hugetlb pids rdma misc\n",
			"sys/fs/cgroup/" + id + "/memory.current":          "73728000\n",
			"sys/fs/cgroup/" + id + "/memory.stat":             statV2,
			"sys/fs/cgroup/" + id + "/cpu.stat":                cpuStatV2,
			"sys/fs/cgroup/" + id + "/memory.events":           eventsV2,
			"sys/fs/cgroup/unified/" + id + "/memory.current":  "1\n", // not looked at: v2 is at the top
			"sys/fs/cgroup/" + id + "/memory.max":              "134217728\n",
			"sys/fs/cgroup/" + id + "/cgroup.procs":            "42\n",
			"sys/fs/cgroup/" + id + "/cgroup.subtree_control":  "",
			"sys/fs/cgroup/" + id + "/memory.events.local":     eventsV2,
			"sys/fs/cgroup/openfaas-fn/cgroup.subtree_control": "cpu memory pids\n",
		},
		want: Stats{MemoryBytes: 73728000 - 1171456, CPU: 1500 * time.Millisecond, OOMKills: 1},
		v2:   true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Reader{Root: tree(t, tt.files)}
			g, err := r.Find(42)
			if err != nil {
				t.Fatalf("Find(42): %v", err)
			}
			if g.Path != "/"+id || g.V2 != tt.v2 {
				t.Errorf("Find(42) = %q (v2 %v), want %q (v2 %v)", g.Path, g.V2, "/"+id, tt.v2)
			}
			got, err := g.Stats()
			if err != nil {
				t.Fatalf("Stats: %v", err)
			}
			if got != tt.want {
				t.Errorf("Stats() = %+v, want %+v", got, tt.want)
			}
			if made, err := g.Made(); err != nil || time.Since(made) > time.Minute {
				t.Errorf("Made() = %v, %v; want about now", made, err)
			}
		})
	}
}

func TestFindFails(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"no process", map[string]string{}},
		{"v2 without memory controller", map[string]string{
			"proc/42/cgroup": procV2,
			"sys/fs/cgroup/unified/cgroup.controllers":         "",
			"sys/fs/cgroup/unified/openfaas-fn/x/cgroup.procs": "42\n",
		}},
		{"path leaving the mount", map[string]string{
			"proc/42/cgroup": "4:memory:/../../etc\n3:cpuacct:/../../etc\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Reader{Root: tree(t, tt.files)}.Find(42)
			if !errors.Is(err, ErrNoGroup) {
				t.Errorf("Find(42) = %+v, %v; want ErrNoGroup", g, err)
			}
		})
	}
}

func TestStatsOfRemovedGroup(t *testing.T) {
	root := tree(t, map[string]string{"proc/42/cgroup": procV2,
		"sys/fs/cgroup/cgroup.controllers": "memory\n", "sys/fs/cgroup/openfaas-fn/fn-0a1b2c3d4e/memory.current": "1\n"})
	g, err := Reader{Root: root}.Find(42)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "sys/fs/cgroup/openfaas-fn")); err != nil {
		t.Fatal(err)
	}
	if s, err := g.Stats(); err == nil {
		t.Errorf("Stats() of a removed group = %+v, want an error", s)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{procV1, procV2, statV1, statV2, oomV1, eventsV2, cpuStatV2, "0::/\n", "1:a:b:c"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, l := range parseProcCgroup(data) {
			if filepath.Clean(l.path) != l.path || l.path[0] != '/' {
				t.Errorf("parseProcCgroup kept path %q", l.path)
			}
		}
		for _, k := range []string{"oom_kill", "usage_usec", "total_inactive_file", ""} {
			keyed(data, k)
		}
	})
}

// BenchmarkStats reads this process's own group on the host: the cost of
// one replica in GET /system/functions or a scrape.
func BenchmarkStats(b *testing.B) {
	g, err := Reader{}.Find(uint32(os.Getpid()))
	if err != nil {
		b.Skipf("no readable cgroup here: %v", err)
	}
	for b.Loop() {
		if _, err := g.Stats(); err != nil {
			b.Fatal(err)
		}
	}
}
