// Package api holds the OpenFaaS wire types that funcd serves and its
// clients send: function deployments, statuses, scale and delete requests,
// and the gateway info block. The JSON shapes follow
// shared/reference/openfaas-api.md §2 to the field, including omitempty,
// because faas-cli depends on zero values being absent.
//
// It imports only the standard library; every other funcd package may
// import it.
package api

import "time"

// DefaultNamespace is where functions live when a request names none.
const DefaultNamespace = "openfaas-fn"

// ServicesNamespace is the containerd namespace of the side services
// (docker-compose.yaml). No function namespace may take this name, so no
// function call or listing can reach a service's container.
const ServicesNamespace = "funcd"

// FunctionResources is a resource ceiling or reservation in Kubernetes
// quantity syntax ("128Mi", "500m").
type FunctionResources struct {
	Memory string `json:"memory,omitempty"`
	CPU    string `json:"cpu,omitempty"`
}

// FunctionDeployment is the body of POST and PUT /system/functions.
type FunctionDeployment struct {
	Service                string             `json:"service"`
	Image                  string             `json:"image"`
	Namespace              string             `json:"namespace,omitempty"`
	EnvProcess             string             `json:"envProcess,omitempty"`
	EnvVars                map[string]string  `json:"envVars,omitempty"`
	Constraints            []string           `json:"constraints,omitempty"`
	Secrets                []string           `json:"secrets,omitempty"`
	Labels                 map[string]string  `json:"labels,omitempty"`
	Annotations            map[string]string  `json:"annotations,omitempty"`
	Limits                 *FunctionResources `json:"limits,omitempty"`
	Requests               *FunctionResources `json:"requests,omitempty"`
	ReadOnlyRootFilesystem bool               `json:"readOnlyRootFilesystem,omitempty"`
}

// FunctionStatus is one element of GET /system/functions and the body of
// GET /system/function/{name}.
type FunctionStatus struct {
	Name                   string             `json:"name"`
	Image                  string             `json:"image"`
	Namespace              string             `json:"namespace,omitempty"`
	EnvProcess             string             `json:"envProcess,omitempty"`
	EnvVars                map[string]string  `json:"envVars,omitempty"`
	Constraints            []string           `json:"constraints,omitempty"`
	Secrets                []string           `json:"secrets,omitempty"`
	Labels                 map[string]string  `json:"labels,omitempty"`
	Annotations            map[string]string  `json:"annotations,omitempty"`
	Limits                 *FunctionResources `json:"limits,omitempty"`
	Requests               *FunctionResources `json:"requests,omitempty"`
	ReadOnlyRootFilesystem bool               `json:"readOnlyRootFilesystem,omitempty"`
	InvocationCount        float64            `json:"invocationCount,omitempty"`
	Replicas               uint64             `json:"replicas,omitempty"`
	AvailableReplicas      uint64             `json:"availableReplicas,omitempty"`
	CreatedAt              time.Time          `json:"createdAt"`
	Usage                  *FunctionUsage     `json:"usage,omitempty"` // nil when no replica runs
}

// ScaleServiceRequest is the body of POST /system/scale-function/{name}.
type ScaleServiceRequest struct {
	ServiceName string `json:"serviceName"`
	Replicas    uint64 `json:"replicas"`
	Namespace   string `json:"namespace,omitempty"`
}

// DeleteFunctionRequest is the body of DELETE /system/functions.
type DeleteFunctionRequest struct {
	FunctionName string `json:"functionName"`
	Namespace    string `json:"namespace,omitempty"`
}

// VersionInfo names a build.
type VersionInfo struct {
	CommitMessage string `json:"commit_message,omitempty"`
	SHA           string `json:"sha"`
	Release       string `json:"release"`
}

// ProviderInfo describes the backend that runs functions.
type ProviderInfo struct {
	Name          string       `json:"provider"`
	Orchestration string       `json:"orchestration"`
	Version       *VersionInfo `json:"version"`
}

// GatewayInfo is the body of GET /system/info. faas-cli dereferences
// Provider, Provider.Version and Version without nil checks, so all three
// are always set.
type GatewayInfo struct {
	Provider *ProviderInfo `json:"provider"`
	Version  *VersionInfo  `json:"version"`
	Arch     string        `json:"arch"`
}

// Status converts a deployment request into the status shape, without any
// runtime fields. It is the single place that maps one onto the other, so a
// field added to both cannot be forgotten on the way out.
func (d FunctionDeployment) Status() FunctionStatus {
	return FunctionStatus{
		Name:                   d.Service,
		Image:                  d.Image,
		Namespace:              d.Namespace,
		EnvProcess:             d.EnvProcess,
		EnvVars:                d.EnvVars,
		Constraints:            d.Constraints,
		Secrets:                d.Secrets,
		Labels:                 d.Labels,
		Annotations:            d.Annotations,
		Limits:                 d.Limits,
		Requests:               d.Requests,
		ReadOnlyRootFilesystem: d.ReadOnlyRootFilesystem,
	}
}
