package provider

// Replicas returns the desired replica count of every function, keyed by
// "NAME.NS", for the gateway_service_replicas metric.
func (p *Provider) Replicas() map[string]uint64 {
	p.mu.RLock()
	fns := make(map[key]*function, len(p.fns))
	for k, f := range p.fns {
		fns[k] = f
	}
	p.mu.RUnlock()
	out := make(map[string]uint64, len(fns))
	for k, f := range fns {
		rec, _ := f.snapshot()
		out[k.String()] = rec.Replicas
	}
	return out
}
