package gateway

import "github.com/funcd/funcd/internal/api"

// Invocations counts the completed invocations of functions in a
// namespace, by name (funcd's own counters; OpenFaaS's gateway asks
// Prometheus).
type Invocations interface {
	Invocations(ns string) map[string]float64
}

// Usage reports what a function's running replicas use now; false when
// none runs.
type Usage interface {
	Usage(name, ns string) (api.FunctionUsage, bool)
}

// addUsage fills invocationCount and usage of fns, all in namespace ns, as
// GET /system/functions and /system/function/NAME answer them.
func (g *Gateway) addUsage(fns []api.FunctionStatus, ns string) {
	var counts map[string]float64
	if g.cfg.Invocations != nil {
		counts = g.cfg.Invocations.Invocations(ns)
	}
	for i := range fns {
		if counts != nil {
			fns[i].InvocationCount = counts[fns[i].Name]
		}
		if g.cfg.Usage == nil {
			continue
		}
		if u, ok := g.cfg.Usage.Usage(fns[i].Name, ns); ok {
			fns[i].Usage = &u
		}
	}
}
