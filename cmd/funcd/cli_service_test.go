package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/client"
)

func TestServiceCLI(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{
		"GET /system/services":             {200, `[{"name":"db","image":"postgres:16","state":"running","pid":42,"address":"10.62.240.2","ports":["127.0.0.1:5432->5432/tcp"],"health":"healthy","restarts":1}]`},
		"POST /system/services/db/restart": {202, ""},
		"GET /system/services/db/logs":     {200, `{"name":"db","namespace":"funcd","instance":"db-1","timestamp":"2026-11-26T03:00:01Z","text":"ready"}` + "\n"},
	})
	vars := map[string]string{"OPENFAAS_URL": g.URL}
	out, _, err := runCLI(t, vars, "", "service", "list")
	if err != nil || !strings.Contains(out, "db") || !strings.Contains(out, "healthy") || !strings.Contains(out, "127.0.0.1:5432->5432/tcp") || !strings.Contains(out, "42") {
		t.Errorf("service list = %q, %v", out, err)
	}
	if out, _, err := runCLI(t, vars, "", "service", "restart", "db"); err != nil || !strings.Contains(out, "db") {
		t.Errorf("service restart db = %q, %v", out, err)
	}
	if out, _, err := runCLI(t, vars, "", "service", "logs", "db", "--tail", "5", "-f"); err != nil || !strings.Contains(out, "db-1 ready") {
		t.Errorf("service logs db = %q, %v", out, err)
	}
	reqs := g.requests()
	if last := reqs[len(reqs)-1]; !strings.Contains(last.Query, "tail=5") || !strings.Contains(last.Query, "follow=true") {
		t.Errorf("logs query = %q, want tail=5 and follow=true", last.Query)
	}
	if _, _, err := runCLI(t, vars, "", "service", "restart", "nosuch"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("service restart nosuch = %v, want ErrNotFound", err)
	}
	for _, bad := range [][]string{{"service", "restart"}, {"service", "bogus"}, {"service"}} {
		if _, _, err := runCLI(t, vars, "", bad...); err == nil {
			t.Errorf("%v = nil error, want one", bad)
		}
	}
}
