package api

// ServiceStatus is one side service (docker-compose.yaml) in
// GET /system/services: a funcd addition, not part of OpenFaaS's API.
type ServiceStatus struct {
	Name     string   `json:"name"`
	Image    string   `json:"image"`
	State    string   `json:"state"` // pulling, waiting, starting, running, exited, failed
	PID      uint32   `json:"pid,omitempty"`
	Address  string   `json:"address,omitempty"`
	Ports    []string `json:"ports,omitempty"`  // "127.0.0.1:8080->80/tcp"
	Health   string   `json:"health,omitempty"` // starting, healthy, unhealthy; "" without a healthcheck
	Restarts int      `json:"restarts"`
}
