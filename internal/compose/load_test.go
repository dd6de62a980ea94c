package compose

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// write puts the compose file and any extra files (name → content) in a
// new folder and returns the compose file's path.
func write(t *testing.T, compose string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "docker-compose.yaml")
	if err := os.WriteFile(path, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadOne loads a file that must be valid and have exactly one service.
func loadOne(t *testing.T, compose string, extra map[string]string, environ ...string) (Service, *Project) {
	t.Helper()
	p, err := Load(context.Background(), write(t, compose, extra), environ)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(p.Services) != 1 {
		t.Fatalf("Load: %d services, want 1: %+v", len(p.Services), p.Services)
	}
	return p.Services[0], p
}

func TestLoadKeys(t *testing.T) {
	tests := []struct {
		name    string
		compose string
		extra   map[string]string
		environ []string
		check   func(t *testing.T, s Service, p *Project)
	}{
		{"image and defaults", "services:\n  db:\n    image: docker.io/library/postgres:17\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				want := Service{Name: "db", Image: "docker.io/library/postgres:17", Restart: Restart{Policy: "no"}}
				if !reflect.DeepEqual(s, want) {
					t.Errorf("Load = %+v, want %+v", s, want)
				}
			}},
		{"command string", "services:\n  a:\n    image: x\n    command: echo 'hello world'\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if want := []string{"echo", "hello world"}; !reflect.DeepEqual(s.Command, want) || s.Entrypoint != nil {
					t.Errorf("Command = %q, Entrypoint = %q; want %q, nil", s.Command, s.Entrypoint, want)
				}
			}},
		{"command list", "services:\n  a:\n    image: x\n    command: [\"sh\", \"-c\", \"a b\"]\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if want := []string{"sh", "-c", "a b"}; !reflect.DeepEqual(s.Command, want) {
					t.Errorf("Command = %q, want %q", s.Command, want)
				}
			}},
		{"entrypoint without command resets command", "services:\n  a:\n    image: x\n    entrypoint: /bin/serve --port 1\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if want := []string{"/bin/serve", "--port", "1"}; !reflect.DeepEqual(s.Entrypoint, want) || s.Command == nil || len(s.Command) != 0 {
					t.Errorf("Entrypoint = %q, Command = %#v; want %q and an empty, non-nil command", s.Entrypoint, s.Command, want)
				}
			}},
		{"entrypoint list and command", "services:\n  a:\n    image: x\n    entrypoint: [\"/bin/serve\"]\n    command: [\"-v\"]\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if !reflect.DeepEqual(s.Entrypoint, []string{"/bin/serve"}) || !reflect.DeepEqual(s.Command, []string{"-v"}) {
					t.Errorf("Entrypoint = %q, Command = %q", s.Entrypoint, s.Command)
				}
			}},
		{"environment map, interpolation, .env", "services:\n  a:\n    image: x:${TAG}\n    environment:\n      B: \"2\"\n      A: ${FROM_ENV}\n      C: ${FROM_DOTENV}\n      D:\n",
			map[string]string{".env": "FROM_DOTENV=dot\nTAG=fromdotenv\n"}, []string{"FROM_ENV=env", "TAG=1.2"},
			func(t *testing.T, s Service, p *Project) {
				if want := []string{"A=env", "B=2", "C=dot"}; !reflect.DeepEqual(s.Env, want) {
					t.Errorf("Env = %q, want %q (sorted; D unset everywhere is dropped)", s.Env, want)
				}
				if s.Image != "x:1.2" {
					t.Errorf("Image = %q, want x:1.2 (environ wins over .env)", s.Image)
				}
			}},
		{"environment list and env_file", "services:\n  a:\n    image: x\n    env_file: vars.env\n    environment:\n      - A=1\n      - B=from-list\n      - PASSED\n      - A1=x\n",
			map[string]string{"vars.env": "B=from-file\nC=3\n"}, []string{"PASSED=yes"},
			func(t *testing.T, s Service, p *Project) {
				if want := []string{"A=1", "A1=x", "B=from-list", "C=3", "PASSED=yes"}; !reflect.DeepEqual(s.Env, want) {
					t.Errorf("Env = %q, want %q", s.Env, want)
				}
			}},
		{"volumes", "services:\n  a:\n    image: x\n    volumes:\n      - ./conf/app.yml:/etc/app.yml:ro\n      - data:/var/lib/app\n      - type: bind\n        source: /srv/x\n        target: /x\n        read_only: true\nvolumes:\n  data:\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				want := []Mount{
					{Source: filepath.Join(p.Dir, "conf/app.yml"), Target: "/etc/app.yml", ReadOnly: true},
					{Volume: "data", Target: "/var/lib/app"},
					{Source: "/srv/x", Target: "/x", ReadOnly: true},
				}
				if !reflect.DeepEqual(s.Mounts, want) {
					t.Errorf("Mounts = %+v, want %+v", s.Mounts, want)
				}
			}},
		{"ports", "services:\n  a:\n    image: x\n    ports:\n      - \"127.0.0.1:9090:90\"\n      - \"8053:53/udp\"\n      - \"7000-7001:80-81\"\n      - target: 443\n        published: \"8443\"\n        host_ip: \"::1\"\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				want := []Port{
					{HostIP: "127.0.0.1", HostPort: 9090, ContainerPort: 90, Protocol: "tcp"},
					{HostPort: 8053, ContainerPort: 53, Protocol: "udp"},
					{HostPort: 7000, ContainerPort: 80, Protocol: "tcp"},
					{HostPort: 7001, ContainerPort: 81, Protocol: "tcp"},
					{HostIP: "::1", HostPort: 8443, ContainerPort: 443, Protocol: "tcp"},
				}
				if !reflect.DeepEqual(s.Ports, want) {
					t.Errorf("Ports = %+v, want %+v", s.Ports, want)
				}
			}},
		{"user, caps, read_only", "services:\n  a:\n    image: x\n    user: \"65534:65534\"\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    read_only: true\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if s.User != "65534:65534" || !reflect.DeepEqual(s.CapAdd, []string{"NET_ADMIN"}) || !reflect.DeepEqual(s.CapDrop, []string{"ALL"}) || !s.ReadOnly {
					t.Errorf("User %q CapAdd %q CapDrop %q ReadOnly %v", s.User, s.CapAdd, s.CapDrop, s.ReadOnly)
				}
			}},
		{"restart unless-stopped", "services:\n  a:\n    image: x\n    restart: unless-stopped\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if want := (Restart{Policy: "always"}); s.Restart != want {
					t.Errorf("Restart = %+v, want %+v", s.Restart, want)
				}
			}},
		{"restart on-failure:5", "services:\n  a:\n    image: x\n    restart: on-failure:5\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if want := (Restart{Policy: "on-failure", MaxAttempts: 5}); s.Restart != want {
					t.Errorf("Restart = %+v, want %+v", s.Restart, want)
				}
			}},
		{"restart on-failure", "services:\n  a:\n    image: x\n    restart: on-failure\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if want := (Restart{Policy: "on-failure"}); s.Restart != want {
					t.Errorf("Restart = %+v, want %+v", s.Restart, want)
				}
			}},
		{"mem_limit and cpus", "services:\n  a:\n    image: x\n    mem_limit: 256m\n    cpus: 0.5\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if s.MemoryBytes != 256<<20 || s.CPUMillis != 500 {
					t.Errorf("MemoryBytes %d CPUMillis %d, want %d 500", s.MemoryBytes, s.CPUMillis, 256<<20)
				}
			}},
		{"deploy limits", "services:\n  a:\n    image: x\n    deploy:\n      resources:\n        limits:\n          memory: 1g\n          cpus: \"1.25\"\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if s.MemoryBytes != 1<<30 || s.CPUMillis != 1250 || len(p.Warnings) != 0 {
					t.Errorf("MemoryBytes %d CPUMillis %d Warnings %+v, want %d 1250 none", s.MemoryBytes, s.CPUMillis, p.Warnings, 1<<30)
				}
			}},
		{"pull_policy if_not_present", "services:\n  a:\n    image: x\n    pull_policy: if_not_present\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if s.PullPolicy != "missing" {
					t.Errorf("PullPolicy = %q, want missing", s.PullPolicy)
				}
			}},
		{"pull_policy never", "services:\n  a:\n    image: x\n    pull_policy: never\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if s.PullPolicy != "never" {
					t.Errorf("PullPolicy = %q, want never", s.PullPolicy)
				}
			}},
		{"profiles: inactive left out", "services:\n  a:\n    image: x\n  debug:\n    image: y\n    profiles: [debug]\n    networks: [n]\n", nil, nil,
			func(t *testing.T, s Service, p *Project) {
				if s.Name != "a" || len(p.Warnings) != 0 {
					t.Errorf("service %q, warnings %+v; want only a, and no warning for the inactive service", s.Name, p.Warnings)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p := loadOne(t, tt.compose, tt.extra, tt.environ...)
			tt.check(t, s, p)
		})
	}
}

// TestLoadTopLevel checks the known top-level keys pass silently and that
// include: is warned about and not followed.
func TestLoadTopLevel(t *testing.T) {
	path := write(t, "version: \"3.8\"\nname: side\nx-note: for tools\ninclude: [other.yaml]\nservices:\n  a:\n    image: x\n", map[string]string{"other.yaml": "services:\n  b:\n    image: y\n"})
	p, err := Load(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Warning{{Key: "include", Line: 4}}; !reflect.DeepEqual(p.Warnings, want) {
		t.Errorf("Warnings = %+v, want %+v", p.Warnings, want)
	}
	if len(p.Services) != 1 || p.Services[0].Name != "a" || p.File != path || p.Dir != filepath.Dir(path) {
		t.Errorf("Load = %+v, want only service a, File %s", p, path)
	}
}

func TestLoadProfilesFromEnviron(t *testing.T) {
	path := write(t, "services:\n  a:\n    image: x\n  debug:\n    image: y\n    profiles: [debug]\n", nil)
	p, err := Load(context.Background(), path, []string{"COMPOSE_PROFILES=other, debug"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Services) != 2 || p.Services[0].Name != "a" || p.Services[1].Name != "debug" {
		t.Errorf("Load with COMPOSE_PROFILES=debug = %+v, want a and debug, sorted", p.Services)
	}
}

func TestLoadDependsOn(t *testing.T) {
	p, err := Load(context.Background(), write(t, "services:\n  web:\n    image: x\n    depends_on: [db, cache]\n  db:\n    image: y\n  cache:\n    image: z\n  api:\n    image: a\n    depends_on:\n      web:\n        condition: service_started\n      db:\n        condition: service_healthy\n", nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]Dependency{}
	for _, s := range p.Services {
		got[s.Name] = s.DependsOn
	}
	want := map[string][]Dependency{
		"api":   {{"db", "service_healthy"}, {"web", "service_started"}},
		"cache": nil,
		"db":    nil,
		"web":   {{"cache", "service_started"}, {"db", "service_started"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DependsOn = %+v, want %+v", got, want)
	}
}

func TestLoadExtends(t *testing.T) {
	p, err := Load(context.Background(), write(t, "x-base: &base\n  image: x\nservices:\n  base:\n    image: b\n    environment: [FROM_BASE=1]\n    read_only: true\n  a:\n    extends: base\n    <<: *base\n  c:\n    extends:\n      file: other.yaml\n      service: o\n", map[string]string{"other.yaml": "services:\n  o:\n    image: o\n    user: \"7\"\n"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Services) != 3 {
		t.Fatalf("Services = %+v, want a, base, c", p.Services)
	}
	if a := p.Services[0]; a.Name != "a" || a.Image != "x" || !reflect.DeepEqual(a.Env, []string{"FROM_BASE=1"}) || !a.ReadOnly {
		t.Errorf("a = %+v, want image x from the anchor, FROM_BASE=1 and read_only from base", a)
	}
	if c := p.Services[2]; c.Name != "c" || c.Image != "o" || c.User != "7" {
		t.Errorf("c = %+v, want image o and user 7 from other.yaml", c)
	}
}

func TestLoadHealthcheck(t *testing.T) {
	tests := []struct {
		name, health string
		want         *Healthcheck
	}{
		{"CMD with defaults", "      test: [\"CMD\", \"pg_isready\", \"-q\"]\n",
			&Healthcheck{Test: []string{"pg_isready", "-q"}, Interval: 30 * time.Second, Timeout: 30 * time.Second, Retries: 3}},
		{"CMD-SHELL with every field", "      test: [\"CMD-SHELL\", \"curl -f localhost || exit 1\"]\n      interval: 5s\n      timeout: 2s\n      start_period: 1m\n      retries: 10\n",
			&Healthcheck{Test: []string{"/bin/sh", "-c", "curl -f localhost || exit 1"}, Interval: 5 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Minute, Retries: 10}},
		{"string form is CMD-SHELL", "      test: wget -q -O- localhost\n",
			&Healthcheck{Test: []string{"/bin/sh", "-c", "wget -q -O- localhost"}, Interval: 30 * time.Second, Timeout: 30 * time.Second, Retries: 3}},
		{"NONE", "      test: [\"NONE\"]\n", nil},
		{"disable", "      test: [\"CMD\", \"true\"]\n      disable: true\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := loadOne(t, "services:\n  a:\n    image: x\n    healthcheck:\n"+tt.health, nil)
			if !reflect.DeepEqual(s.Health, tt.want) {
				t.Errorf("Health = %+v, want %+v", s.Health, tt.want)
			}
		})
	}
}

func TestLoadWarnings(t *testing.T) {
	compose := `name: mine
x-anchors: &a
  labels: {a: b}
services:
  web:
    image: x
    x-tooling: 1
    networks: [front]
    build: .
    <<: *a
    ports:
      - target: 80
        published: "8080"
        mode: host
    healthcheck:
      test: ["CMD", "true"]
      start_interval: 1s
    depends_on:
      db:
        condition: service_healthy
        restart: true
    deploy:
      replicas: 2
      resources:
        limits:
          pids: 10
  db:
    image: y
networks:
  front: {}
volumes:
  data:
    driver: local
`
	p, err := Load(context.Background(), write(t, compose, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Warning{
		{"web", "services.web.networks", 8},
		{"web", "services.web.build", 9},
		{"web", "services.web.labels", 3},
		{"web", "services.web.ports.0.mode", 14},
		{"web", "services.web.healthcheck.start_interval", 17},
		{"web", "services.web.depends_on.db.restart", 21},
		{"web", "services.web.deploy.replicas", 23},
		{"web", "services.web.deploy.resources.limits.pids", 26},
		{"", "networks", 29},
		{"", "volumes.data.driver", 33},
	}
	if !reflect.DeepEqual(p.Warnings, want) {
		t.Errorf("Warnings =\n%+v\nwant\n%+v", p.Warnings, want)
	}
	if web := p.Services[1]; web.Name != "web" || !reflect.DeepEqual(web.DependsOn, []Dependency{{"db", "service_healthy"}}) {
		t.Errorf("web = %+v, want depends_on db service_healthy", web)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		compose string
		line    int
		reason  string // a part of it
	}{
		{"bad YAML", "services:\n  a:\n    image: x\n  b: c: d\n", 4, "invalid YAML: mapping values are not allowed"},
		{"unclosed list", "services:\n  a:\n    image: x\n    command: [\n", 4, "invalid YAML"},
		{"tab indentation", "services:\n\ta:\n", 2, "invalid YAML"},
		{"not a mapping", "- a\n- b\n", 1, "mapping"},
		{"unknown type for a key", "services:\n  a:\n    image: x\n    ports: 80\n", 4, "services.a.ports must be"},
		{"wrong type deep", "services:\n  a:\n    image: x\n    healthcheck:\n      retries: many\n", 5, "retries"},
		{"unknown key", "services:\n  a:\n    image: x\n    imgae: y\n", 4, "imgae"},
		{"undefined volume", "services:\n  a:\n    image: x\n    volumes:\n      - ./here:/here\n      - data:/d\n", 6, "undefined volume data"},
		{"port without host port", "services:\n  a:\n    image: x\n    ports:\n      - \"9090:9090\"\n      - \"80\"\n", 6, "port 80/tcp has no host port"},
		{"bad name", "services:\n  a:\n    image: x\n  Web_1:\n    image: y\n", 4, "DNS label"},
		{"reserved name", "services:\n  gateway:\n    image: x\n", 2, "is taken"},
		{"build without image", "services:\n  a:\n    build: .\n", 3, "funcd does not build"},
		{"pull_policy build", "services:\n  a:\n    image: x\n    pull_policy: build\n", 4, "does not build"},
		{"depends on a job", "services:\n  a:\n    image: x\n    depends_on:\n      b:\n        condition: service_completed_successfully\n  b:\n    image: y\n", 5, "service_completed_successfully"},
		{"undefined dependency", "services:\n  a:\n    image: x\n    depends_on: [b]\n", 2, "undefined service"},
		{"missing required variable", "services:\n  a:\n    image: ${IMAGE:?set IMAGE}\n", 3, "set IMAGE"},
		{"bad restart", "services:\n  a:\n    image: x\n    restart: sometimes\n", 4, "restart"},
		{"tmpfs volume", "services:\n  a:\n    image: x\n    volumes:\n      - type: tmpfs\n        target: /t\n", 5, "tmpfs"},
		{"anonymous volume", "services:\n  a:\n    image: x\n    volumes:\n      - /data\n", 5, "anonymous volume"},
		{"healthcheck without test", "services:\n  a:\n    image: x\n    healthcheck:\n      interval: 5s\n", 4, "HEALTHCHECK"},
		{"limits differ", "services:\n  a:\n    image: x\n    mem_limit: 1g\n    deploy:\n      resources:\n        limits:\n          memory: 2g\n", 2, "distinct values"},
		{"negative cpus", "services:\n  a:\n    image: x\n    cpus: -1\n", 4, "cpus"},
		{"negative memory", "services:\n  a:\n    image: x\n    mem_limit: -5\n", 4, "memory"},
		{"host port out of range", "services:\n  a:\n    image: x\n    ports: [\"70000:80\"]\n", 4, "70000"},
		{"sctp", "services:\n  a:\n    image: x\n    ports: [\"80:80/sctp\"]\n", 4, "sctp"},
		{"pull_policy refresh", "services:\n  a:\n    image: x\n    pull_policy: refresh\n", 4, "not supported"},
		{"alias merged into itself", "x-a: &a\n  <<: *a\n  image: y\nservices:\n  s:\n    <<: *a\n", 2, "alias *a refers to a node that contains it"},
		{"alias inside itself", "services:\n  a: &a\n    image: x\n    deploy: *a\n", 4, "alias *a"},
		{"alias bomb", "x-a: &a [x,x,x,x,x,x,x,x,x,x]\nx-b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nx-c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nx-d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\nx-e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nx-f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\nservices:\n  a:\n    image: x\n    command: *f\n", 0, "excessive aliasing"},
		{"huge port range", "services:\n  a:\n    image: x\n    ports:\n      - \"9000:9000\"\n      - \"1-65535:1-65535\"\n", 6, "publishes 65535 ports"},
		{"empty file", "", 0, "must be a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, tt.compose, nil)
			_, err := Load(context.Background(), path, nil)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load = %v (%T), want a *compose.Error", err, err)
			}
			if ce.File != path || ce.Line != tt.line || !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("Load = %q (line %d), want line %d and a reason with %q", err, ce.Line, tt.line, tt.reason)
			}
		})
	}
}

// TestLoadBadDotEnv checks an unreadable .env is named as the culprit.
func TestLoadBadDotEnv(t *testing.T) {
	path := write(t, "services:\n  a:\n    image: x\n", map[string]string{".env": "A=\"unterminated\n"})
	_, err := Load(context.Background(), path, nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.File != filepath.Join(filepath.Dir(path), ".env") {
		t.Errorf("Load with a broken .env = %v, want a *compose.Error naming .env", err)
	}
}

// TestLoadMissingFile checks a caller can tell "no file" (which funcd up
// accepts) from a broken one.
func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docker-compose.yaml")
	_, err := Load(context.Background(), path, nil)
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, fs.ErrNotExist) || err.Error() != path+": no such file or directory" {
		t.Errorf("Load(missing) = %v, want a *compose.Error that is fs.ErrNotExist", err)
	}
}

func TestErrorString(t *testing.T) {
	for _, tt := range []struct {
		err  Error
		want string
	}{
		{Error{File: "/a/c.yaml", Line: 3, Reason: "bad"}, "/a/c.yaml:3: bad"},
		{Error{File: "/a/c.yaml", Reason: "bad"}, "/a/c.yaml: bad"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
