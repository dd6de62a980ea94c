package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

const queueStatsJSON = `{"depth":5,"inFlight":2,"retrying":1,"deadLetters":3,"callbacks":1,"workers":8,"functions":[
	{"name":"slow","namespace":"dev","depth":4,"inFlight":1,"retrying":1,"deadLetters":0,"maxInflight":2},
	{"name":"figlet","namespace":"openfaas-fn","depth":1,"inFlight":1,"retrying":0,"deadLetters":3,"maxInflight":0}]}`

func TestQueueStats(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"GET /system/queue": {200, queueStatsJSON}})
	g.user, g.pass = "admin", "secret"
	cfg := t.TempDir()
	if err := client.SaveCredentials(cfg, g.URL, "admin", "secret"); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"OPENFAAS_URL": g.URL, "OPENFAAS_CONFIG": cfg}

	stdout, _, err := runCLI(t, vars, "", "queue", "stats")
	want := "total: depth=5 inflight=2 retrying=1 dead=3 callbacks=1 workers=8\n" +
		"FUNCTION  NAMESPACE    DEPTH  INFLIGHT  RETRYING  DEAD  MAX-INFLIGHT\n" +
		"figlet    openfaas-fn  1      1         0         3     -\n" +
		"slow      dev          4      1         1         0     2\n"
	if err != nil || stdout != want {
		t.Errorf("queue stats = %v, output =\n%s\nwant\n%s", err, stdout, want)
	}
	if r := g.requests()[0]; r.Method != "GET" || r.Path != "/system/queue" || r.Auth == "" {
		t.Errorf("queue stats sent %s %s auth %q, want GET /system/queue with credentials", r.Method, r.Path, r.Auth)
	}

	stdout, _, err = runCLI(t, vars, "", "queue", "stats", "--json")
	var got, wantJSON api.QueueStats
	if err != nil || json.Unmarshal([]byte(stdout), &got) != nil || json.Unmarshal([]byte(queueStatsJSON), &wantJSON) != nil || !reflect.DeepEqual(got, wantJSON) {
		t.Errorf("queue stats --json = %q, %v, want the gateway's stats", stdout, err)
	}

	// Without credentials the gateway refuses, and the error says so.
	_, _, err = runCLI(t, map[string]string{"OPENFAAS_URL": g.URL}, "", "queue", "stats")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("queue stats without credentials = %v, want a 401 error", err)
	}
}

const deadLettersJSON = `[
	{"id":7,"callId":"c-7","function":"figlet","namespace":"openfaas-fn","attempts":3,"status":502,
	 "error":"function answered 502 Bad Gateway: upstream connect error or disconnect/reset before headers. reset reason: connection failure",
	 "source":"async","failedAt":"2024-01-02T03:04:05Z"},
	{"id":9,"callId":"","function":"slow","namespace":"dev","attempts":1,"status":0,"error":"dial tcp:\n\ttimeout",
	 "source":"cron","failedAt":"2024-01-02T03:05:00Z"}]`

func TestQueueDeadLetters(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"GET /system/queue/dead-letters": {200, deadLettersJSON}})
	vars := map[string]string{"OPENFAAS_URL": g.URL}

	stdout, _, err := runCLI(t, vars, "", "queue", "dead-letters")
	want := "ID  CALL-ID  FUNCTION            ATTEMPTS  STATUS  FAILED-AT             ERROR\n" +
		"7   c-7      figlet.openfaas-fn  3         502     2024-01-02T03:04:05Z  function answered 502 Bad Gateway: upstream connect error...\n" +
		"9   -        slow.dev            1         -       2024-01-02T03:05:00Z  dial tcp: timeout\n"
	if err != nil || stdout != want {
		t.Errorf("queue dead-letters = %v, output =\n%s\nwant\n%s", err, stdout, want)
	}

	stdout, _, err = runCLI(t, vars, "", "queue", "dead-letters", "--json")
	var got []api.DeadLetter
	if err != nil || json.Unmarshal([]byte(stdout), &got) != nil || len(got) != 2 ||
		got[0].Error != "function answered 502 Bad Gateway: upstream connect error or disconnect/reset before headers. reset reason: connection failure" {
		t.Errorf("queue dead-letters --json = %q, %v, want both letters with the full error", stdout, err)
	}

	queries := []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"--function", "figlet"}, "function=figlet"},
		{[]string{"--function", "figlet", "-n", "dev", "--limit", "5"}, "function=figlet&limit=5&namespace=dev"},
		{[]string{"--function", "figlet.dev"}, "function=figlet&namespace=dev"},
		{[]string{"-n", "dev"}, "namespace=dev"},
	}
	for _, q := range queries {
		g := newFakeGateway(t, map[string]fakeResponse{"GET /system/queue/dead-letters": {200, `[]`}})
		args := append([]string{"queue", "dead-letters", "-g", g.URL}, q.args...)
		stdout, _, err := runCLI(t, map[string]string{}, "", args...)
		if err != nil || stdout != "ID  CALL-ID  FUNCTION  ATTEMPTS  STATUS  FAILED-AT  ERROR\n" {
			t.Errorf("queue dead-letters %v = %q, %v, want a header only", q.args, stdout, err)
		}
		if r := g.requests()[0]; r.Query != q.want {
			t.Errorf("queue dead-letters %v query = %q, want %q", q.args, r.Query, q.want)
		}
	}
}

func TestQueueRedrive(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // the request body
	}{
		{"all", []string{"--all"}, `{}`},
		{"function", []string{"--function", "figlet"}, `{"function":"figlet"}`},
		{"function in namespace", []string{"--function", "figlet", "-n", "dev"}, `{"function":"figlet","namespace":"dev"}`},
		{"qualified function", []string{"--function", "figlet.dev"}, `{"function":"figlet","namespace":"dev"}`},
		{"ids", []string{"--id", "7", "--id", "9"}, `{"ids":[7,9]}`},
		{"function and id", []string{"--id", "7", "--function", "figlet"}, `{"function":"figlet","ids":[7]}`},
		{"namespace", []string{"--namespace", "dev"}, `{"namespace":"dev"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGateway(t, map[string]fakeResponse{"POST /system/queue/redrive": {200, `{"redriven":2}`}})
			args := append([]string{"queue", "redrive", "-g", g.URL}, tt.args...)
			stdout, _, err := runCLI(t, map[string]string{}, "", args...)
			if err != nil || stdout != "redriven: 2\n" {
				t.Errorf("queue redrive %v = %q, %v, want %q", tt.args, stdout, err, "redriven: 2\n")
			}
			reqs := g.requests()
			if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/system/queue/redrive" {
				t.Fatalf("queue redrive %v sent %+v, want one POST /system/queue/redrive", tt.args, reqs)
			}
			if !cliJSONSame(reqs[0].Body, tt.want) {
				t.Errorf("queue redrive %v body = %s, want %s", tt.args, reqs[0].Body, tt.want)
			}
		})
	}
}

func TestQueuePurge(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"POST /system/queue/purge": {200, `{"purged":3}`}})
	stdout, _, err := runCLI(t, map[string]string{}, "", "queue", "purge", "-g", g.URL, "--function", "figlet.dev", "--id", "4")
	if err != nil || stdout != "purged: 3\n" {
		t.Errorf("queue purge = %q, %v", stdout, err)
	}
	if reqs := g.requests(); len(reqs) != 1 || reqs[0].Path != "/system/queue/purge" ||
		!cliJSONSame(reqs[0].Body, `{"function":"figlet","namespace":"dev","ids":[4]}`) {
		t.Errorf("queue purge sent %+v", reqs)
	}
	if _, _, err := runCLI(t, map[string]string{}, "", "queue", "purge", "-g", g.URL); err == nil || !strings.Contains(err.Error(), "say what to purge") {
		t.Errorf("queue purge without a selector = %v", err)
	}
	if len(g.requests()) != 1 {
		t.Error("a purge without a selector reached the gateway")
	}
}

func TestQueueErrors(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{
		"POST /system/queue/redrive":     {500, "internal error"},
		"GET /system/queue/dead-letters": {400, "limit: want a positive integer"},
	})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"queue"}, "want a subcommand"},
		{"unknown subcommand", []string{"queue", "bogus"}, `unknown subcommand "bogus"`},
		{"redrive without selector", []string{"queue", "redrive"}, "--all"},
		{"redrive all and function", []string{"queue", "redrive", "--all", "--function", "figlet"}, "--all cannot be combined"},
		{"redrive all and id", []string{"queue", "redrive", "--all", "--id", "3"}, "--all cannot be combined"},
		{"redrive all and namespace", []string{"queue", "redrive", "--all", "-n", "dev"}, "--all cannot be combined"},
		{"redrive bad id", []string{"queue", "redrive", "--id", "x"}, "want a dead-letter ID"},
		{"redrive extra argument", []string{"queue", "redrive", "--all", "figlet"}, "want no arguments"},
		{"redrive server error", []string{"queue", "redrive", "--all"}, "500 Internal Server Error: internal error"},
		{"dead-letters negative limit", []string{"queue", "dead-letters", "--limit", "-1"}, "--limit -1"},
		{"dead-letters server error", []string{"queue", "dead-letters", "--limit", "100000"}, "400 Bad Request: limit: want a positive integer"},
		{"stats unknown flag", []string{"queue", "stats", "--bogus"}, "flag provided but not defined"},
		{"stats no queue", []string{"queue", "stats"}, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := runCLI(t, map[string]string{"OPENFAAS_URL": g.URL}, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v = %v, want error containing %q", tt.args, err, tt.want)
			}
			if strings.Contains(stdout, "redriven") {
				t.Errorf("%v printed %q, want no result", tt.args, stdout)
			}
		})
	}
	var redrives int
	for _, r := range g.requests() {
		if r.Path == "/system/queue/redrive" {
			redrives++
		}
	}
	if redrives != 1 { // only "redrive server error" may reach the gateway
		t.Errorf("gateway saw %d redrives, want 1", redrives)
	}
}

func TestQueueUsage(t *testing.T) {
	for _, args := range [][]string{{"queue", "-h"}, {"queue", "stats", "-h"}, {"queue", "dead-letters", "-h"}, {"queue", "redrive", "-h"}} {
		stdout, _, err := runCLI(t, map[string]string{}, "", args...)
		if err != nil || !strings.HasPrefix(stdout, "Usage: funcd queue") {
			t.Errorf("%v = %q, %v, want usage", args, stdout, err)
		}
	}
}

func cliJSONSame(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
