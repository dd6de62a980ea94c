package containerd

import (
	"context"
	"slices"
	"testing"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
)

func generate(t *testing.T, s ContainerSpec) *oci.Spec {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), "test")
	opts := append(limits(s), withTmpfs("/tmp", tmpSize(s.MemoryLimit)))
	spec, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: "x"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestIsolationSpec(t *testing.T) {
	for _, tt := range []struct {
		name    string
		s       ContainerSpec
		netRaw  bool
		tmpSize string
	}{
		{"defaults", ContainerSpec{}, false, "size=67108864"},
		{"memory limit sizes /tmp", ContainerSpec{MemoryLimit: 96 << 20}, false, "size=100663296"},
		{"net raw asked for", ContainerSpec{NetRaw: true}, true, "size=67108864"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := generate(t, tt.s)
			caps := spec.Process.Capabilities
			for name, set := range map[string][]string{"bounding": caps.Bounding, "effective": caps.Effective, "permitted": caps.Permitted} {
				if has := slices.Contains(set, "CAP_NET_RAW"); has != tt.netRaw {
					t.Errorf("%s capabilities %v: CAP_NET_RAW present = %v, want %v", name, set, has, tt.netRaw)
				}
				if !slices.Contains(set, "CAP_NET_BIND_SERVICE") {
					t.Errorf("%s capabilities %v lost the rest of the default set", name, set)
				}
			}
			if got := spec.Linux.Sysctl["net.ipv4.ping_group_range"]; (got == "0 2147483647") == tt.netRaw {
				t.Errorf("ping_group_range = %q with NetRaw %v", got, tt.netRaw)
			}
			var tmp bool
			for _, m := range spec.Mounts {
				if m.Destination == "/tmp" {
					tmp = m.Type == "tmpfs" && slices.Contains(m.Options, tt.tmpSize)
				}
			}
			if !tmp {
				t.Errorf("mounts %+v: want /tmp a tmpfs with %s", spec.Mounts, tt.tmpSize)
			}
			if !spec.Process.NoNewPrivileges || spec.Linux.Seccomp == nil {
				t.Errorf("NoNewPrivileges %v, seccomp %v; want both", spec.Process.NoNewPrivileges, spec.Linux.Seccomp != nil)
			}
		})
	}
}

func TestServiceProcessSpec(t *testing.T) {
	ctx := namespaces.WithNamespace(context.Background(), "test")
	for _, tt := range []struct {
		name     string
		s        ContainerSpec
		args     []string
		has, not []string // capabilities
	}{
		{"entrypoint and command", ContainerSpec{Entrypoint: []string{"/bin/kv"}, Command: []string{"-port", "80"}}, []string{"/bin/kv", "-port", "80"}, []string{"CAP_CHOWN"}, []string{"CAP_SYS_ADMIN"}},
		{"cap_add without prefix", ContainerSpec{Entrypoint: []string{"/x"}, CapAdd: []string{"net_admin"}}, []string{"/x"}, []string{"CAP_NET_ADMIN", "CAP_CHOWN"}, nil},
		{"cap_drop", ContainerSpec{Entrypoint: []string{"/x"}, CapDrop: []string{"CHOWN"}}, []string{"/x"}, []string{"CAP_KILL"}, []string{"CAP_CHOWN"}},
		{"cap_drop ALL then add", ContainerSpec{Entrypoint: []string{"/x"}, CapDrop: []string{"ALL"}, CapAdd: []string{"NET_BIND_SERVICE"}}, []string{"/x"}, []string{"CAP_NET_BIND_SERVICE"}, []string{"CAP_CHOWN", "CAP_KILL"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := append(limits(tt.s), process(nil, tt.s)...)
			spec, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: "x"}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(spec.Process.Args, tt.args) {
				t.Errorf("args = %q, want %q", spec.Process.Args, tt.args)
			}
			caps := spec.Process.Capabilities.Bounding
			for _, c := range tt.has {
				if !slices.Contains(caps, c) {
					t.Errorf("capabilities %v lack %s", caps, c)
				}
			}
			for _, c := range tt.not {
				if slices.Contains(caps, c) {
					t.Errorf("capabilities %v have %s", caps, c)
				}
			}
		})
	}
}
