package containerd

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ctd "github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/contrib/seccomp"
	"github.com/containerd/containerd/oci"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// ContainerSpec describes a container to create from an image that
// EnsureImage has made available.
type ContainerSpec struct {
	ID           string
	Image        string // as returned by EnsureImage
	Labels       map[string]string
	Env          []string // KEY=VALUE, applied over the image's own
	Hostname     string
	Mounts       []specs.Mount
	ReadOnlyRoot bool   // "/" read-only (/tmp is a tmpfs either way)
	NetNS        string // path of a network namespace to join; "" for a new one
	NetRaw       bool   // keep CAP_NET_RAW (raw and packet sockets)
	MemoryLimit  int64  // bytes; 0 for none; also the size of /tmp
	CPUMillis    int64  // CPU quota in millicores; 0 for none
	PidsLimit    int64  // 0 for none

	// For side services (compose), all optional:
	Entrypoint []string // replaces the image's entrypoint (and its cmd); nil keeps both
	Command    []string // replaces the image's cmd; nil keeps it
	User       string   // "uid[:gid]" or a user name in the image; "" for the image's
	CapAdd     []string // capabilities added to the default set ("NET_ADMIN" or "CAP_NET_ADMIN"; "ALL")
	CapDrop    []string // capabilities dropped from it ("ALL" for every one)
	NoTmpfs    bool     // no tmpfs on /tmp: the image's own /tmp stays
}

// Create creates the container and its writable snapshot. On failure
// nothing is left behind.
func (c *Client) Create(ctx context.Context, ns string, s ContainerSpec) (err error) {
	defer markUnavailable(&err)
	ctx = withNS(ctx, ns)
	img, err := c.c.GetImage(ctx, s.Image)
	if err != nil {
		return fmt.Errorf("create container %s: image %s: %w", s.ID, s.Image, err)
	}
	specOpts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithHostname(s.Hostname),
		oci.WithEnv(s.Env),
		oci.WithMounts(s.Mounts),
	}
	specOpts = append(specOpts, limits(s)...)
	specOpts = append(specOpts, process(img, s)...)
	if s.NetNS != "" {
		specOpts = append(specOpts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: s.NetNS}))
	}
	if !s.NoTmpfs {
		specOpts = append(specOpts, withTmpfs("/tmp", tmpSize(s.MemoryLimit)))
	}
	if s.ReadOnlyRoot {
		specOpts = append(specOpts, oci.WithRootFSReadonly())
	}
	snapshot := snapshotKey(s.ID)
	_, err = c.c.NewContainer(ctx, s.ID,
		ctd.WithImage(img),
		ctd.WithSnapshotter(c.snapshotter),
		ctd.WithNewSnapshot(snapshot, img),
		ctd.WithNewSpec(specOpts...),
		ctd.WithContainerLabels(s.Labels),
	)
	if err != nil {
		// NewContainer does not roll back the snapshot it made.
		if rerr := c.c.SnapshotService(c.snapshotter).Remove(ctx, snapshot); rerr != nil && !IsNotFound(rerr) {
			c.log.Warn("remove snapshot after failed create", "snapshot", snapshot, "err", rerr)
		}
		return fmt.Errorf("create container %s: %w", s.ID, err)
	}
	return nil
}

func snapshotKey(id string) string { return id + "-snapshot" }

// cpuPeriod is the CFS period the CPU quota is expressed in (100 ms).
const cpuPeriod = 100000

// limits turns s's resource limits into spec options, and always applies
// the isolation every function gets: the default seccomp profile, no
// privilege escalation, no privileged mode, and the default capability set
// without CAP_NET_RAW unless s.NetRaw: functions share one layer-2 bridge,
// where a raw socket can forge ARP replies and take another function's
// address. ICMP echo still works without it, through unprivileged ping
// sockets (net.ipv4.ping_group_range, as Docker sets it).
func limits(s ContainerSpec) []oci.SpecOpts {
	opts := []oci.SpecOpts{seccomp.WithDefaultProfile(), oci.WithNoNewPrivileges}
	if !s.NetRaw {
		opts = append(opts, oci.WithDroppedCapabilities([]string{"CAP_NET_RAW"}), withSysctl("net.ipv4.ping_group_range", "0 2147483647"))
	}
	if s.MemoryLimit > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(s.MemoryLimit)))
	}
	if s.CPUMillis > 0 {
		opts = append(opts, oci.WithCPUCFS(max(s.CPUMillis*cpuPeriod/1000, 1000), cpuPeriod)) // the kernel floor is 1 ms
	}
	if s.PidsLimit > 0 {
		opts = append(opts, oci.WithPidsLimit(s.PidsLimit))
	}
	return opts
}

// process turns s's command, user and capabilities into spec options,
// applied after the image's config and funcd's default isolation.
func process(img ctd.Image, s ContainerSpec) []oci.SpecOpts {
	var opts []oci.SpecOpts
	switch {
	case s.Entrypoint != nil:
		opts = append(opts, oci.WithProcessArgs(append(slices.Clone(s.Entrypoint), s.Command...)...))
	case s.Command != nil:
		opts = append(opts, oci.WithImageConfigArgs(img, s.Command))
	}
	if s.User != "" {
		opts = append(opts, oci.WithUser(s.User))
	}
	if slices.ContainsFunc(s.CapDrop, isAll) {
		opts = append(opts, oci.WithCapabilities(nil))
	} else if len(s.CapDrop) > 0 {
		opts = append(opts, oci.WithDroppedCapabilities(capNames(s.CapDrop)))
	}
	if slices.ContainsFunc(s.CapAdd, isAll) {
		opts = append(opts, oci.WithAllKnownCapabilities)
	} else if len(s.CapAdd) > 0 {
		opts = append(opts, oci.WithAddedCapabilities(capNames(s.CapAdd)))
	}
	return opts
}

func isAll(c string) bool { return strings.EqualFold(c, "ALL") }

// capNames spells capabilities as the OCI spec does: "CAP_" and upper case.
func capNames(caps []string) []string {
	out := make([]string, len(caps))
	for i, c := range caps {
		c = strings.ToUpper(c)
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out[i] = c
	}
	return out
}

// defaultTmpSize caps /tmp of a function without a memory limit.
const defaultTmpSize = 64 << 20

// tmpSize is the size of a function's /tmp: its memory limit, since what
// it writes there is memory charged to it (so the kernel enforces the
// limit anyway, and /tmp can never fill the host's disk), or 64 MiB
// without one.
func tmpSize(memoryLimit int64) int64 {
	if memoryLimit > 0 {
		return memoryLimit
	}
	return defaultTmpSize
}

func withTmpfs(dest string, size int64) oci.SpecOpts {
	return oci.WithMounts([]specs.Mount{{
		Destination: dest,
		Type:        "tmpfs",
		Source:      "tmpfs",
		Options:     []string{"nosuid", "nodev", "mode=1777", fmt.Sprintf("size=%d", size)},
	}})
}

func withSysctl(key, value string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		s.Linux.Sysctl[key] = value
		return nil
	}
}

// Info is what List reports of a container.
type Info struct {
	ID     string
	Labels map[string]string
	Status string // a TaskStatus, or "" when the container has no task
	PID    uint32
}

// List returns the containers in ns whose labels match every key and value
// in match; an empty value matches any value of that key.
func (c *Client) List(ctx context.Context, ns string, match map[string]string) (_ []Info, err error) {
	defer markUnavailable(&err)
	ctx = withNS(ctx, ns)
	var filters []string
	for k, v := range match {
		if v == "" {
			filters = append(filters, fmt.Sprintf("labels.%q", k)) // present, any value
			continue
		}
		filters = append(filters, fmt.Sprintf("labels.%q==%q", k, v))
	}
	filter := ""
	for i, f := range filters {
		if i > 0 {
			filter += ","
		}
		filter += f
	}
	var list []ctd.Container
	if filter == "" {
		list, err = c.c.Containers(ctx)
	} else {
		list, err = c.c.Containers(ctx, filter)
	}
	if err != nil {
		return nil, fmt.Errorf("list containers in %s: %w", ns, err)
	}
	infos := make([]Info, 0, len(list))
	for _, ctr := range list {
		labels, err := ctr.Labels(ctx)
		if err != nil {
			if IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("labels of %s: %w", ctr.ID(), err)
		}
		info := Info{ID: ctr.ID(), Labels: labels}
		if t, err := ctr.Task(ctx, nil); err == nil {
			info.PID = t.Pid()
			if st, err := t.Status(ctx); err == nil {
				info.Status = string(st.Status)
			}
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// SetLabels adds or replaces labels on container id.
func (c *Client) SetLabels(ctx context.Context, ns, id string, labels map[string]string) (err error) {
	defer markUnavailable(&err)
	ctx = withNS(ctx, ns)
	ctr, err := c.c.LoadContainer(ctx, id)
	if err != nil {
		return fmt.Errorf("set labels on %s: %w", id, err)
	}
	if _, err := ctr.SetLabels(ctx, labels); err != nil {
		return fmt.Errorf("set labels on %s: %w", id, err)
	}
	return nil
}

// Delete removes container id with its snapshot, killing any task it still
// has. A container that does not exist is not an error.
func (c *Client) Delete(ctx context.Context, ns, id string) (err error) {
	defer markUnavailable(&err)
	if err := c.StopTask(ctx, ns, id, 0); err != nil {
		return err
	}
	ctx = withNS(ctx, ns)
	ctr, err := c.c.LoadContainer(ctx, id)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	if err := ctr.Delete(ctx, ctd.WithSnapshotCleanup); err != nil && !IsNotFound(err) {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	return nil
}
