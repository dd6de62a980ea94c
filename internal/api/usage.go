package api

// FunctionUsage is what a function's running replicas use now, summed over
// them, as OpenFaaS Pro providers report it.
type FunctionUsage struct {
	// CPU is millicores: CPU time used per second of wall time since the
	// previous measurement, times 1000 (Kubernetes' unit).
	CPU float64 `json:"cpu,omitempty"`
	// TotalMemoryBytes is the working set: memory in use minus inactive
	// file cache.
	TotalMemoryBytes float64 `json:"totalMemoryBytes,omitempty"`
}

// Cost is what one function has used, for metrics. Counters (CPUSeconds,
// OOMKills) include replicas that have exited since funcd started.
type Cost struct {
	Function    string // NAME.NS
	MemoryBytes uint64 // working set of its running replicas
	CPUSeconds  float64
	OOMKills    uint64
	Ready       uint64 // replicas ready to serve
	Desired     uint64 // replicas wanted
	Frozen      uint64 // replicas frozen while idle (com.funcd.idle=pause), not counted in Ready
}
