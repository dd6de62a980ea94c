package services

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/funcd/funcd/cni"
	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/atomicfile"
	"github.com/funcd/funcd/internal/compose"
	"github.com/funcd/funcd/internal/containerd"
	"github.com/funcd/funcd/internal/logs"
)

// Labels on a service's container: which funcd made it (the provider's
// instance label, so one containerd can serve several funcds), which
// service it is, and a hash of the Service value it was made from.
const (
	labelInstance = "io.funcd.instance"
	labelService  = "io.funcd.service"
	labelHash     = "io.funcd.service-hash"
)

// hash identifies a Service value: a container made from another value
// is replaced.
func hash(s compose.Service) string {
	b, _ := json.Marshal(s) // plain data: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// containerID names the container of service name made from the value
// with hash h by instance: unique per funcd and per value, so a changed
// service's new container never meets its old one.
func containerID(name, instance, h string) string {
	return name + "-" + instance[:min(8, len(instance))] + "-" + h[:12]
}

// record is what a service's container holds that containerd does not
// keep: kept at STATE/services/ID.json from before the container is
// created until it is removed, so its address and published ports can be
// released whatever happened to funcd in between.
type record struct {
	Service string     `json:"service"`
	Address string     `json:"address,omitempty"`
	Ports   []cni.Port `json:"ports,omitempty"`
}

func (rec record) addr() netip.Addr {
	a, _ := netip.ParseAddr(rec.Address)
	return a
}

func (r *Runner) recordPath(id string) string { return filepath.Join(r.serviceDir(), id+".json") }

func (r *Runner) saveRecord(id string, rec record) error {
	if err := r.ensureDir(r.serviceDir()); err != nil {
		return err
	}
	b, _ := json.Marshal(rec)
	return atomicfile.WriteIfChanged(r.recordPath(id), b, 0o600)
}

func (r *Runner) loadRecord(id string) (record, error) {
	var rec record
	b, err := os.ReadFile(r.recordPath(id))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("service record %s: %w", id, err)
	}
	return rec, nil
}

func (r *Runner) netnsPath(id string) string {
	return filepath.Join(r.serviceDir(), "netns", id)
}

func (r *Runner) logPath(name, id string) string {
	return logs.Path(filepath.Join(r.cfg.StateDir, "logs"), Namespace, name, id)
}

// ports are s's published ports as the network takes them.
func ports(s compose.Service) []cni.Port {
	var out []cni.Port
	for _, p := range s.Ports {
		out = append(out, cni.Port{HostIP: p.HostIP, HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
	}
	return out
}

// pullPolicy maps compose's pull_policy onto EnsureImage's; compose's
// default is to pull a missing image only.
func pullPolicy(s compose.Service) api.PullPolicy {
	switch s.PullPolicy {
	case "always":
		return api.PullAlways
	case "never":
		return api.PullNever
	default:
		return api.PullMissing
	}
}

// containerSpec is the container of service s, attached at netns.
func (r *Runner) containerSpec(s compose.Service, id, image, netns string) (containerd.ContainerSpec, error) {
	spec := containerd.ContainerSpec{
		ID:    id,
		Image: image,
		Labels: map[string]string{
			labelInstance: r.cfg.Instance,
			labelService:  s.Name,
			labelHash:     hash(s),
		},
		Env:          s.Env,
		Hostname:     s.Name,
		ReadOnlyRoot: s.ReadOnly,
		NetNS:        netns,
		MemoryLimit:  s.MemoryBytes,
		CPUMillis:    s.CPUMillis,
		Entrypoint:   s.Entrypoint,
		Command:      s.Command,
		User:         s.User,
		CapAdd:       s.CapAdd,
		CapDrop:      s.CapDrop,
		NoTmpfs:      true,
	}
	for _, m := range r.cfg.Mounts {
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: []string{"rbind", "ro"}})
	}
	for _, m := range s.Mounts {
		src, err := r.mountSource(m)
		if err != nil {
			return spec, err
		}
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: m.Target, Type: "bind", Source: src, Options: []string{"rbind", mode}})
	}
	return spec, nil
}

// mountSource is the host directory of m, created when missing: a named
// volume's STATE/volumes/NAME (its parent private to root), or a bind
// mount's source, created as a directory as Docker does.
func (r *Runner) mountSource(m compose.Mount) (string, error) {
	if m.Volume != "" {
		if err := api.ValidateName(m.Volume); err != nil && !validVolume(m.Volume) {
			return "", fmt.Errorf("volume %q: %v", m.Volume, err)
		}
		dir := r.volumeDir(m.Volume)
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return "", fmt.Errorf("volume %s: %w", m.Volume, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("volume %s: %w", m.Volume, err)
		}
		return dir, nil
	}
	if !filepath.IsAbs(m.Source) {
		return "", fmt.Errorf("bind mount %q: source is not an absolute path", m.Source)
	}
	if _, err := os.Stat(m.Source); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(m.Source, 0o755); err != nil {
			return "", fmt.Errorf("bind mount %s: %w", m.Source, err)
		}
	}
	return m.Source, nil
}

// volumeDir is where named volume v lives.
func (r *Runner) volumeDir(v string) string {
	return filepath.Join(r.cfg.StateDir, "volumes", v)
}

// validVolume accepts compose's volume names ([a-zA-Z0-9][a-zA-Z0-9_.-]*),
// which are safe as one path element.
func validVolume(v string) bool {
	if v == "" || v == "." || v == ".." || len(v) > 255 {
		return false
	}
	for i, c := range v {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '.' || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

func portString(p compose.Port) string {
	host := strconv.Itoa(int(p.HostPort))
	if p.HostIP != "" {
		host = net.JoinHostPort(p.HostIP, host)
	}
	return fmt.Sprintf("%s->%d/%s", host, p.ContainerPort, p.Protocol)
}
