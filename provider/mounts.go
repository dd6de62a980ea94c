package provider

import (
	"github.com/funcd/funcd/internal/api"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func bindMount(src, dst string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "ro"}}
}

func defaultNamespace() string { return api.DefaultNamespace }
