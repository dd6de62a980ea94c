// Package compose reads a docker-compose.yaml into the side services funcd
// runs beside functions. Parsing, interpolation, .env files, profiles and
// validation are compose-go's; this package turns its model into Service,
// the little funcd runs, and names every key it does not support.
package compose

import "time"

// Project is a loaded compose file.
type Project struct {
	File     string    // absolute path of the file read
	Dir      string    // its folder: relative bind mounts resolve here
	Services []Service // sorted by name
	Warnings []Warning // keys present but not supported, one per key and service
}

// Warning names a compose key funcd does not act on.
type Warning struct {
	Service string // "" for a top-level key
	Key     string // dotted path, e.g. "services.db.networks"
	Line    int    // 1-based line in File, 0 when unknown
}

// Service is one side service, fully resolved: every path absolute, every
// variable interpolated, env_file merged into Env.
type Service struct {
	Name        string
	Image       string
	PullPolicy  string   // "", "always", "missing" or "never" (compose's pull_policy)
	Entrypoint  []string // nil: the image's
	Command     []string // nil: the image's (reset to none when Entrypoint is set, as Docker does)
	Env         []string // KEY=VALUE, sorted by key
	Mounts      []Mount
	Ports       []Port
	User        string // "uid[:gid]" or a name from the image's /etc/passwd; "" for the image's
	CapAdd      []string
	CapDrop     []string
	ReadOnly    bool
	DependsOn   []Dependency // sorted by name
	Health      *Healthcheck // nil: none (or disabled)
	Restart     Restart
	MemoryBytes int64 // mem_limit or deploy.resources.limits.memory; 0 for none
	CPUMillis   int64 // cpus or deploy.resources.limits.cpus, in millicores; 0 for none
}

// Mount is a bind mount (Volume empty, Source an absolute host path) or a
// named volume (Volume set; its directory is STATE/volumes/VOLUME).
type Mount struct {
	Source   string
	Volume   string
	Target   string
	ReadOnly bool
}

// Port publishes ContainerPort on the host.
type Port struct {
	HostIP        string // "" for all addresses
	HostPort      uint16
	ContainerPort uint16
	Protocol      string // "tcp" or "udp"
}

// Dependency is a depends_on entry.
type Dependency struct {
	Service   string
	Condition string // "service_started" or "service_healthy"
}

// Healthcheck runs Test inside the container.
type Healthcheck struct {
	Test        []string // argv; CMD-SHELL becomes ["/bin/sh", "-c", cmd]
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// Restart is the restart policy.
type Restart struct {
	Policy      string // "no", "always" or "on-failure" (unless-stopped is always)
	MaxAttempts int    // on-failure:N; 0 for no limit
}
