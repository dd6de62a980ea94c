package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/client"
)

func TestInvokeAsync(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{
		"POST /async-function/echo.dev/items/1": {202, ""},
		"POST /async-function/big":              {413, "request body exceeds 1048576 bytes\n"},
	})
	cfg := t.TempDir()
	if err := client.SaveCredentials(cfg, g.URL, "admin", "secret"); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"OPENFAAS_URL": g.URL, "OPENFAAS_CONFIG": cfg}

	stdout, stderr, err := runCLI(t, vars, "hello", "invoke", "echo.dev", "--async", "--path", "/items/1", "--query", "q=1",
		"--callback-url", "http://cb.example:9000/done", "-H", "X-Call-Id=mine")
	if err != nil || stdout != "mine\n" || !strings.Contains(stderr, "asynchronously") {
		t.Fatalf("invoke --async = %q, %q, %v, want the call id on stdout and a note on stderr", stdout, stderr, err)
	}
	r := g.requests()[0]
	if r.Method != "POST" || r.Body != "hello" || r.Query != "q=1" || r.Header.Get("X-Callback-Url") != "http://cb.example:9000/done" || r.Header.Get("X-Call-Id") != "mine" {
		t.Errorf("invoke --async sent %s %s?%s %q headers %v", r.Method, r.Path, r.Query, r.Body, r.Header)
	}
	if r.Auth != "" {
		t.Errorf("invoke --async sent Authorization %q, want none", r.Auth)
	}

	stdout, _, err = runCLI(t, vars, "x", "invoke", "big", "-a")
	if err == nil || !strings.Contains(err.Error(), "413") || !strings.Contains(err.Error(), "exceeds 1048576 bytes") || stdout != "" {
		t.Errorf("invoke -a of a too large body = %q, %v, want the 413 and its text", stdout, err)
	}
	_, _, err = runCLI(t, vars, "", "invoke", "nope", "-a")
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("invoke -a of a missing function = %v, want a 404 error", err)
	}
}

func TestInvokeAsyncCallID(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/async-function/figlet" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Call-Id", "gen-42")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	stdout, _, err := runCLI(t, map[string]string{}, "", "invoke", "figlet", "--async", "-g", srv.URL)
	if err != nil || stdout != "gen-42\n" {
		t.Errorf("invoke --async = %q, %v, want the gateway's call id", stdout, err)
	}
}

func TestInvokeAsyncFlags(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"POST /async-function/figlet": {202, ""}})
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--callback-url", "http://cb/"}, "--callback-url needs --async"},
		{[]string{"--async", "--callback-url", "cb.example/done"}, "want an absolute http or https URL"},
		{[]string{"--async", "--callback-url", "ftp://cb.example/"}, "want an absolute http or https URL"},
		{[]string{"--async", "--method", "GET"}, "--method GET cannot be combined"},
	}
	for _, tt := range tests {
		args := append([]string{"invoke", "figlet", "-g", g.URL}, tt.args...)
		_, _, err := runCLI(t, map[string]string{}, "", args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("invoke %v = %v, want error containing %q", tt.args, err, tt.want)
		}
	}
	if n := len(g.requests()); n != 0 {
		t.Errorf("gateway saw %d requests, want 0", n)
	}
}
