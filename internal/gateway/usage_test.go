package gateway

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

type fakeInvocations map[string]map[string]float64 // ns → name → count

func (f fakeInvocations) Invocations(ns string) map[string]float64 { return f[ns] }

type fakeUsage map[string]api.FunctionUsage // NAME.NS → usage

func (f fakeUsage) Usage(name, ns string) (api.FunctionUsage, bool) {
	u, ok := f[name+"."+ns]
	return u, ok
}

func TestInvocationCountAndUsage(t *testing.T) {
	fns := &fakeFunctions{statuses: map[string]api.FunctionStatus{
		"f.openfaas-fn": {Name: "f", Namespace: "openfaas-fn"},
		"g.openfaas-fn": {Name: "g", Namespace: "openfaas-fn"},
		"f.dev":         {Name: "f", Namespace: "dev"},
	}}
	var buf bytes.Buffer
	cfg := Config{Credentials: creds,
		Invocations: fakeInvocations{"openfaas-fn": {"f": 3}, "dev": {"f": 7}},
		Usage:       fakeUsage{"f.openfaas-fn": {CPU: 12.5, TotalMemoryBytes: 64 << 20}},
	}
	e := &env{fns: fns, gw: New(fns, invoked, cfg, slog.New(slog.NewTextHandler(&buf, nil))), log: &buf}

	// Decoded as faas-cli decodes them (types.FunctionStatus: float64
	// invocationCount, *FunctionUsage usage).
	type usage struct {
		CPU              float64 `json:"cpu"`
		TotalMemoryBytes float64 `json:"totalMemoryBytes"`
	}
	type status struct {
		Name            string  `json:"name"`
		InvocationCount float64 `json:"invocationCount"`
		Usage           *usage  `json:"usage"`
	}
	tests := []struct {
		target string
		want   []status
	}{
		{"/system/functions", []status{{"f", 3, &usage{12.5, 64 << 20}}, {"g", 0, nil}}},
		{"/system/functions?namespace=dev", []status{{"f", 7, nil}}},
		{"/system/function/f", []status{{"f", 3, &usage{12.5, 64 << 20}}}},
		{"/system/function/g", []status{{"g", 0, nil}}},
		{"/system/function/f?namespace=dev", []status{{"f", 7, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rec := e.do("GET", tt.target, "", authRight)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d %s", tt.target, rec.Code, rec.Body)
			}
			var got []status
			body := rec.Body.Bytes()
			if body[0] == '{' {
				body = append(append([]byte("["), body...), ']')
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("GET %s body %q: %v", tt.target, rec.Body, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("GET %s = %s, want %d functions", tt.target, rec.Body, len(tt.want))
			}
			slices.SortFunc(got, func(a, b status) int { return strings.Compare(a.Name, b.Name) })
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Name != w.Name || g.InvocationCount != w.InvocationCount || (g.Usage == nil) != (w.Usage == nil) ||
					g.Usage != nil && *g.Usage != *w.Usage {
					t.Errorf("GET %s [%d] = %+v (usage %+v), want %+v (usage %+v)", tt.target, i, g, g.Usage, w, w.Usage)
				}
			}
		})
	}
}
