package compose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// Load reads the compose file at path. environ (KEY=VALUE, as os.Environ)
// and a .env file beside it (environ wins) feed interpolation, and
// COMPOSE_PROFILES among them selects profiles. An invalid file, or one
// using a feature funcd cannot honour (build, a port without a host port),
// returns an *Error; keys funcd ignores come back as Warnings.
func Load(ctx context.Context, path string, environ []string) (*Project, error) {
	file, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{File: path, Reason: err.Error()}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &Error{File: file, Reason: readReason(err), err: err}
	}
	root, err := parseTree(file, data)
	if err != nil {
		return nil, err
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: lineOfNode(root), Reason: "the file must be a mapping with a services key"}
	}
	if n, span := hugePortRange(root); n != nil {
		return nil, &Error{File: file, Line: n.Line, Reason: fmt.Sprintf("port range %q publishes %d ports; at most %d", n.Value, span, maxPortRange)}
	}
	dir := filepath.Dir(file)
	env, err := environment(dir, environ)
	if err != nil {
		return nil, &Error{File: filepath.Join(dir, ".env"), Reason: err.Error()}
	}
	var profiles []string
	for _, p := range strings.Split(env["COMPOSE_PROFILES"], ",") {
		if p = strings.TrimSpace(p); p != "" {
			profiles = append(profiles, p)
		}
	}
	model, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: file, Content: data}},
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("funcd", false) // a name: key in the file wins
		o.Profiles = profiles
		o.SkipInclude = true // include: is warned about, not followed
	})
	if err != nil {
		return nil, loadError(file, root, err)
	}
	p := &Project{File: file, Dir: dir}
	c := converter{file: file, root: root}
	for _, name := range slices.Sorted(maps.Keys(model.Services)) {
		s, err := c.service(model.Services[name])
		if err != nil {
			return nil, err
		}
		p.Services = append(p.Services, s)
	}
	for _, w := range warnings(root) {
		if _, active := model.Services[w.Service]; w.Service == "" || active {
			p.Warnings = append(p.Warnings, w)
		}
	}
	return p, nil
}

func readReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func lineOfNode(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// environment is environ as a map, with the variables of dir/.env that
// environ does not set.
func environment(dir string, environ []string) (map[string]string, error) {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	dotEnv := filepath.Join(dir, ".env")
	if fi, err := os.Stat(dotEnv); err != nil || fi.IsDir() {
		return env, nil
	}
	fromFile, err := dotenv.GetEnvFromFile(env, []string{dotEnv})
	if err != nil {
		return nil, err
	}
	for k, v := range fromFile {
		if _, set := env[k]; !set {
			env[k] = v
		}
	}
	return env, nil
}

// converter turns compose-go's services into Services, naming the line of
// whatever funcd refuses.
type converter struct {
	file string
	root *yaml.Node
}

func (c converter) errorf(path []string, format string, args ...any) *Error {
	return errorAt(c.file, c.root, path, format, args...)
}

// dnsLabel is an RFC 1123 label in lower case: service names become host
// names in the hosts file functions and services share.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func (c converter) service(s types.ServiceConfig) (Service, error) {
	at := []string{"services", s.Name}
	switch {
	case !dnsLabel.MatchString(s.Name):
		return Service{}, c.errorf(at, "service name %q must be a DNS label (a-z, 0-9 and '-', at most 63 characters): it becomes a host name", s.Name)
	case s.Name == "gateway" || s.Name == "localhost":
		return Service{}, c.errorf(at, "service name %q is taken: funcd's hosts file names it", s.Name)
	case s.Image == "" && s.Build != nil:
		return Service{}, c.errorf(append(at, "build"), "service %q has build but no image: funcd does not build images", s.Name)
	}
	out := Service{
		Name:       s.Name,
		Image:      s.Image,
		Entrypoint: s.Entrypoint,
		Command:    s.Command,
		User:       s.User,
		CapAdd:     s.CapAdd,
		CapDrop:    s.CapDrop,
		ReadOnly:   s.ReadOnly,
	}
	if out.Entrypoint != nil && out.Command == nil {
		out.Command = []string{} // as Docker: a new entrypoint drops the image's command
	}
	var err error
	if out.PullPolicy, err = pullPolicy(s.PullPolicy); err != nil {
		return Service{}, c.errorf(append(at, "pull_policy"), "%v", err)
	}
	for k, v := range s.Environment {
		if v != nil { // a name without a value that is set nowhere: unset, as Docker
			out.Env = append(out.Env, k+"="+*v)
		}
	}
	slices.SortFunc(out.Env, func(a, b string) int { // by key: "A=" before "A1="
		ka, _, _ := strings.Cut(a, "=")
		kb, _, _ := strings.Cut(b, "=")
		return strings.Compare(ka, kb)
	})
	if out.Mounts, err = c.mounts(s); err != nil {
		return Service{}, err
	}
	if out.Ports, err = c.ports(s); err != nil {
		return Service{}, err
	}
	if out.DependsOn, err = c.dependsOn(s); err != nil {
		return Service{}, err
	}
	if out.Health, err = c.health(s); err != nil {
		return Service{}, err
	}
	if out.Restart, err = restart(s.Restart); err != nil {
		return Service{}, c.errorf(append(at, "restart"), "%v", err)
	}
	if err := c.limits(s, &out); err != nil {
		return Service{}, err
	}
	return out, nil
}

func pullPolicy(p string) (string, error) {
	switch p {
	case "", types.PullPolicyAlways, types.PullPolicyMissing, types.PullPolicyNever:
		return p, nil
	case types.PullPolicyIfNotPresent:
		return types.PullPolicyMissing, nil
	case types.PullPolicyBuild:
		return "", errors.New(`pull_policy "build": funcd does not build images`)
	}
	return "", fmt.Errorf("pull_policy %q is not supported (always, missing or never)", p)
}

func (c converter) mounts(s types.ServiceConfig) ([]Mount, error) {
	var out []Mount
	for i, v := range s.Volumes {
		at := []string{"services", s.Name, "volumes", fmt.Sprint(i)}
		m := Mount{Target: v.Target, ReadOnly: v.ReadOnly}
		switch {
		case v.Type == types.VolumeTypeBind:
			m.Source = v.Source // compose-go made it absolute, from the file's folder
		case v.Type == types.VolumeTypeVolume && v.Source == "":
			return nil, c.errorf(at, "anonymous volume %s: name it and declare it under the top-level volumes", v.Target)
		case v.Type == types.VolumeTypeVolume:
			m.Volume = v.Source
		default:
			return nil, c.errorf(at, "volume type %q is not supported (bind or volume)", v.Type)
		}
		out = append(out, m)
	}
	return out, nil
}

func (c converter) ports(s types.ServiceConfig) ([]Port, error) {
	var out []Port
	for _, p := range s.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		name := fmt.Sprintf("%d/%s", p.Target, proto)
		at := func() []string { return c.portPath(s.Name, p) } // only for errors: it parses every item
		if proto != "tcp" && proto != "udp" {
			return nil, c.errorf(at(), "port %s: protocol %q is not supported (tcp or udp)", name, proto)
		}
		if p.Published == "" {
			return nil, c.errorf(at(), "port %s has no host port: funcd publishes a port only on one you choose, e.g. \"8080:%d\"", name, p.Target)
		}
		var host uint16
		if _, err := fmt.Sscanf(p.Published, "%d", &host); err != nil || fmt.Sprint(host) != p.Published || host == 0 {
			return nil, c.errorf(at(), "port %s: host port %q must be one port from 1 to 65535", name, p.Published)
		}
		if p.Target == 0 || p.Target > math.MaxUint16 {
			return nil, c.errorf(at(), "port %s: container port must be from 1 to 65535", name)
		}
		out = append(out, Port{HostIP: p.HostIP, HostPort: host, ContainerPort: uint16(p.Target), Protocol: proto})
	}
	return out, nil
}

// portPath finds the raw ports item a port came from (short syntax
// ranges expand to several), or the ports key when none matches.
func (c converter) portPath(service string, p types.ServicePortConfig) []string {
	at := []string{"services", service, "ports"}
	seq, _ := child(c.root, "services")
	seq, _ = child(seq, service)
	seq, _ = child(seq, "ports")
	if seq = deref(seq); seq == nil || seq.Kind != yaml.SequenceNode {
		return at
	}
	for i, item := range seq.Content {
		var parsed []types.ServicePortConfig
		switch item = deref(item); item.Kind {
		case yaml.ScalarNode:
			parsed, _ = types.ParsePortConfig(item.Value)
		case yaml.MappingNode:
			if t, _ := child(item, "target"); t != nil && t.Value == fmt.Sprint(p.Target) {
				return append(at, fmt.Sprint(i))
			}
		}
		for _, q := range parsed {
			if q.Target == p.Target && q.Published == p.Published && q.HostIP == p.HostIP {
				return append(at, fmt.Sprint(i))
			}
		}
	}
	return at
}

func (c converter) dependsOn(s types.ServiceConfig) ([]Dependency, error) {
	var out []Dependency
	for name, d := range s.DependsOn {
		switch d.Condition {
		case "", types.ServiceConditionStarted, types.ServiceConditionHealthy:
		default:
			return nil, c.errorf([]string{"services", s.Name, "depends_on", name}, "depends_on %s: condition %q is not supported (service_started or service_healthy): funcd supervises long-running services, not jobs", name, d.Condition)
		}
		cond := d.Condition
		if cond == "" {
			cond = types.ServiceConditionStarted
		}
		out = append(out, Dependency{Service: name, Condition: cond})
	}
	slices.SortFunc(out, func(a, b Dependency) int { return strings.Compare(a.Service, b.Service) })
	return out, nil
}
