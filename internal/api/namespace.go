package api

// FunctionNamespace is the body of /system/namespace/{name} requests and
// answers.
type FunctionNamespace struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}
