// Package funcd holds the files funcd ships beside its binary, embedded so
// that an install from a lone binary (curl | sh) has them too.
package funcd

import _ "embed"

// ComposeFile is the default set of side services (docker-compose.yaml).
//
//go:embed docker-compose.yaml
var ComposeFile []byte

// PrometheusConfig is prometheus.yml, which ComposeFile's Prometheus
// mounts from beside it.
//
//go:embed prometheus.yml
var PrometheusConfig []byte

// File is a shipped file and the name it has in the state directory.
type File struct {
	Name string
	Data []byte
}

// Shipped lists the files funcd install writes to the state directory.
var Shipped = []File{
	{"docker-compose.yaml", ComposeFile},
	{"prometheus.yml", PrometheusConfig},
}
