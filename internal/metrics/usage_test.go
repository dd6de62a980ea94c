package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestInvocations(t *testing.T) {
	m := New(prometheus.NewRegistry())
	if got := m.Invocations("openfaas-fn"); len(got) != 0 {
		t.Errorf("Invocations before any = %v, want none", got)
	}
	for range 3 {
		m.Invocation("figlet", "openfaas-fn", 200, time.Millisecond)
	}
	m.Invocation("figlet", "openfaas-fn", 500, time.Millisecond)
	m.Invocation("figlet", "dev", 200, time.Millisecond)
	m.Invocation("env", "openfaas-fn", 200, time.Millisecond)
	got := m.Invocations("openfaas-fn")
	want := map[string]float64{"figlet": 4, "env": 1}
	if len(got) != len(want) || got["figlet"] != 4 || got["env"] != 1 {
		t.Errorf("Invocations(openfaas-fn) = %v, want %v", got, want)
	}
	if got := m.Invocations("dev"); len(got) != 1 || got["figlet"] != 1 {
		t.Errorf("Invocations(dev) = %v, want figlet: 1", got)
	}
}

type fakeCosts []api.Cost

func (f fakeCosts) Costs() []api.Cost { return f }

func TestCosts(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCosts(fakeCosts{
		{Function: "figlet.openfaas-fn", MemoryBytes: 64 << 20, CPUSeconds: 1.5, OOMKills: 2, Ready: 1, Desired: 2, Frozen: 1},
		{Function: "env.dev"},
	}))
	want := `
# HELP funcd_function_cpu_seconds_total CPU time used by a function's replicas, including those that have exited.
# TYPE funcd_function_cpu_seconds_total counter
funcd_function_cpu_seconds_total{function_name="env.dev"} 0
funcd_function_cpu_seconds_total{function_name="figlet.openfaas-fn"} 1.5
# HELP funcd_function_memory_working_set_bytes Memory in use by a function's running replicas, without inactive file cache.
# TYPE funcd_function_memory_working_set_bytes gauge
funcd_function_memory_working_set_bytes{function_name="env.dev"} 0
funcd_function_memory_working_set_bytes{function_name="figlet.openfaas-fn"} 6.7108864e+07
# HELP funcd_function_oom_kills_total Processes of a function's replicas the kernel killed for exceeding its memory limit.
# TYPE funcd_function_oom_kills_total counter
funcd_function_oom_kills_total{function_name="env.dev"} 0
funcd_function_oom_kills_total{function_name="figlet.openfaas-fn"} 2
# HELP funcd_function_replicas_desired Replicas of a function wanted.
# TYPE funcd_function_replicas_desired gauge
funcd_function_replicas_desired{function_name="env.dev"} 0
funcd_function_replicas_desired{function_name="figlet.openfaas-fn"} 2
# HELP funcd_function_replicas_frozen Replicas of a function frozen while idle (com.funcd.idle=pause): no CPU, memory kept.
# TYPE funcd_function_replicas_frozen gauge
funcd_function_replicas_frozen{function_name="env.dev"} 0
funcd_function_replicas_frozen{function_name="figlet.openfaas-fn"} 1
# HELP funcd_function_replicas_ready Replicas of a function ready to serve.
# TYPE funcd_function_replicas_ready gauge
funcd_function_replicas_ready{function_name="env.dev"} 0
funcd_function_replicas_ready{function_name="figlet.openfaas-fn"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
