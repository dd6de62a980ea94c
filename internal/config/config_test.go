package config

import (
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
)

func TestParseDaemon(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(Daemon) bool
	}{
		{"defaults", nil, nil, func(d Daemon) bool {
			return d.Listen == ":8080" && d.StateDir == "/var/lib/funcd" && d.Bridge == "funcd0" &&
				d.Subnet == netip.MustParsePrefix("10.62.0.0/16") && d.Timeout == time.Minute
		}},
		{"env", nil, map[string]string{"FUNCD_STATE_DIR": "/srv/f", "FUNCD_INSECURE_REGISTRY": "a:5000, b:5000"}, func(d Daemon) bool {
			return d.StateDir == "/srv/f" && slices.Equal(d.InsecureRegistries, []string{"a:5000", "b:5000"})
		}},
		{"flag beats env", []string{"--listen", "127.0.0.1:9"}, map[string]string{"FUNCD_LISTEN": ":1"}, func(d Daemon) bool {
			return d.Listen == "127.0.0.1:9"
		}},
		{"repeatable", []string{"--insecure-registry", "r:1", "--insecure-registry", "r:2"}, nil, func(d Daemon) bool {
			return slices.Equal(d.InsecureRegistries, []string{"r:1", "r:2"})
		}},
		{"subnet masked", []string{"--subnet", "10.9.8.7/24"}, nil, func(d Daemon) bool {
			return d.Subnet == netip.MustParsePrefix("10.9.8.0/24")
		}},
		{"callback ranges", []string{"--callback-allow", "127.0.0.1/32"}, map[string]string{"FUNCD_CALLBACK_ALLOW": "10.1.2.3/8"}, func(d Daemon) bool {
			return slices.Equal(d.CallbackAllow, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")})
		}},
		{"no callback ranges by default", nil, nil, func(d Daemon) bool { return len(d.CallbackAllow) == 0 }},
		{"image defaults", nil, nil, func(d Daemon) bool {
			return d.PullPolicy == api.PullDefault && d.MaxImageSize == 4<<30
		}},
		{"pull policy flag", []string{"--pull-policy", "never"}, nil, func(d Daemon) bool { return d.PullPolicy == api.PullNever }},
		{"pull policy env", nil, map[string]string{"FUNCD_PULL_POLICY": "missing"}, func(d Daemon) bool { return d.PullPolicy == api.PullMissing }},
		{"max image size", []string{"--max-image-size", "512Mi"}, nil, func(d Daemon) bool { return d.MaxImageSize == 512<<20 }},
		{"go memory limit default", nil, nil, func(d Daemon) bool { return d.GoMemoryLimit == 32<<20 }},
		{"go memory limit env", nil, map[string]string{"FUNCD_GO_MEMORY_LIMIT": "64Mi"}, func(d Daemon) bool { return d.GoMemoryLimit == 64<<20 }},
		{"go memory limit off", []string{"--go-memory-limit", "0"}, nil, func(d Daemon) bool { return d.GoMemoryLimit == 0 }},
		{"sizes past 4Gi", []string{"--memory-budget", "6Gi", "--log-max-size", "3Gi", "--queue-max-bytes", "5Gi"}, nil, func(d Daemon) bool {
			return d.MemoryBudget == 6<<30 && d.LogMaxSize == 3<<30 && d.QueueMaxBytes == 5<<30
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--cni-bin-dir", "/x"}, tt.args...)
			d, err := ParseDaemon(args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("ParseDaemon(%q) = %v", tt.args, err)
			}
			if !tt.want(d) {
				t.Errorf("ParseDaemon(%q) = %+v", tt.args, d)
			}
		})
	}
}

func TestParseDaemonErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--subnet", "nope"},
		{"--nameserver", "x.y"},
		{"--callback-allow", "127.0.0.1"},
		{"--timeout", "0s"},
		{"--pull-policy", "IfNotPresent"},
		{"--max-image-size", "0"},
		{"--max-image-size", "lots"},
		{"--go-memory-limit", "-1Mi"},
		{"--go-memory-limit", "much"},
		{"stray"},
	} {
		if _, err := ParseDaemon(append([]string{"--cni-bin-dir", "/x"}, args...), func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("ParseDaemon(%q) = nil error, want one", args)
		}
	}
	getenv := func(k string) string {
		if k == "FUNCD_TIMEOUT" {
			return "soon"
		}
		return ""
	}
	if _, err := ParseDaemon([]string{"--cni-bin-dir", "/x"}, getenv, io.Discard); err == nil {
		t.Errorf("ParseDaemon with FUNCD_TIMEOUT=soon = nil error, want one")
	}
}

func TestParseBudget(t *testing.T) {
	total := func() (int64, error) { return 1000 << 20, nil }
	tests := map[string]int64{"80%": 800 << 20, "0": 0, "2Gi": 2 << 30, "100%": 1000 << 20, "12.5%": 125 << 20}
	for in, want := range tests {
		if got, err := parseBudget(in, total); err != nil || got != want {
			t.Errorf("parseBudget(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"150%", "x%", "lots", "-1%"} {
		if _, err := parseBudget(bad, total); err == nil {
			t.Errorf("parseBudget(%q) = nil error", bad)
		}
	}
	big := func() (int64, error) { return 16 << 30, nil } // a host with more than int holds on 32-bit arm
	if got, err := parseBudget("80%", big); err != nil || got != 16<<30*8/10 {
		t.Errorf("parseBudget(80%% of 16Gi) = %d, %v; want %d", got, err, int64(16<<30*8/10))
	}
	if n, err := hostMemory(); err != nil || n <= 0 {
		t.Errorf("hostMemory() = %d, %v", n, err)
	}
}

// TestEnvironmentFileRoundTrip uncomments every line of the settings file
// install writes and parses the result: each variable names a real flag,
// every flag is there, and the defaults it shows are the defaults.
func TestEnvironmentFileRoundTrip(t *testing.T) {
	var b strings.Builder
	if err := WriteEnvironmentFile(&b); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(b.String(), "\n") {
		name, value, ok := strings.Cut(strings.TrimPrefix(line, "#"), "=")
		if ok && strings.HasPrefix(name, "FUNCD_") {
			vars[name] = value
		}
	}
	want, err := ParseDaemon(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	flags := 0
	if _, err := parseDaemon(nil, nil, io.Discard, func(fs *flag.FlagSet) {
		fs.VisitAll(func(f *flag.Flag) {
			flags++
			if _, ok := vars[EnvName(f.Name)]; !ok {
				t.Errorf("flag --%s has no %s line", f.Name, EnvName(f.Name))
			}
		})
	}); err != nil {
		t.Fatal(err)
	}
	if len(vars) != flags {
		t.Errorf("settings file has %d variables, funcd up has %d flags", len(vars), flags)
	}
	got, err := ParseDaemon(nil, func(k string) string { return vars[k] }, io.Discard)
	if err != nil {
		t.Fatalf("parse the uncommented settings file: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("settings file defaults give\n%+v\nwant\n%+v", got, want)
	}
}

func TestComposeDefault(t *testing.T) {
	state := t.TempDir()
	getenv := func(string) string { return "" }
	d, err := ParseDaemon([]string{"--state-dir", state}, getenv, io.Discard)
	if err != nil || d.Compose != "" {
		t.Fatalf("ParseDaemon without a compose file = %q, %v; want none", d.Compose, err)
	}
	path := filepath.Join(state, "docker-compose.yaml")
	if err := os.WriteFile(path, []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d, _ = ParseDaemon([]string{"--state-dir", state}, getenv, io.Discard); d.Compose != path {
		t.Errorf("Compose = %q, want the state directory's %s", d.Compose, path)
	}
	env := func(k string) string {
		if k == "FUNCD_COMPOSE" {
			return "/etc/x.yaml"
		}
		return ""
	}
	if d, _ = ParseDaemon([]string{"--state-dir", state}, env, io.Discard); d.Compose != "/etc/x.yaml" {
		t.Errorf("Compose with FUNCD_COMPOSE = %q, want /etc/x.yaml", d.Compose)
	}
}
