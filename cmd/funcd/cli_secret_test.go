package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

func TestSecretCreateSources(t *testing.T) {
	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte(" bin\x00ary\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  api.Secret
	}{
		{"literal", "", []string{"db", "--from-literal", " pw "}, api.Secret{Name: "db", Value: "pw"}},
		{"literal untrimmed", "", []string{"db", "--from-literal", " pw ", "--trim=false"}, api.Secret{Name: "db", Value: " pw "}},
		{"file", "", []string{"db", "--from-file", file, "-n", "openfaas-fn"}, api.Secret{Name: "db", Namespace: "openfaas-fn", RawValue: []byte(" bin\x00ary\n")}},
		{"stdin", "from stdin\n", []string{"db"}, api.Secret{Name: "db", Value: "from stdin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGateway(t, map[string]fakeResponse{"POST /system/secrets": {202, ""}})
			args := append([]string{"secret", "create", "--gateway", g.URL}, tt.args...)
			stdout, _, err := runCLI(t, map[string]string{}, tt.stdin, args...)
			if err != nil || !strings.Contains(stdout, "Created secret: db") {
				t.Fatalf("secret create = %q, %v", stdout, err)
			}
			reqs := g.requests()
			var got api.Secret
			if len(reqs) != 1 || json.Unmarshal([]byte(reqs[0].Body), &got) != nil {
				t.Fatalf("sent %+v", reqs)
			}
			if got.Name != tt.want.Name || got.Namespace != tt.want.Namespace || got.Value != tt.want.Value || string(got.RawValue) != string(tt.want.RawValue) {
				t.Errorf("sent %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSecretCreateConflict(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{
		"POST /system/secrets": {409, "secret db exists"},
		"PUT /system/secrets":  {202, ""},
	})
	_, _, err := runCLI(t, map[string]string{}, "", "secret", "create", "db", "--from-literal", "v", "-g", g.URL)
	if err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("create of an existing secret = %v, want an error saying it exists", err)
	}
	stdout, _, err := runCLI(t, map[string]string{}, "", "secret", "create", "db", "--from-literal", "v", "--replace", "-g", g.URL)
	if err != nil || !strings.Contains(stdout, "Updated secret: db") {
		t.Errorf("create --replace = %q, %v, want an update", stdout, err)
	}
	if reqs := g.requests(); len(reqs) != 3 || reqs[2].Method != "PUT" {
		t.Errorf("requests = %+v, want POST, POST, PUT", reqs)
	}
}

func TestSecretUpdate(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"PUT /system/secrets": {202, ""}})
	stdout, _, err := runCLI(t, map[string]string{}, "", "secret", "update", "db", "--from-literal", "v2", "-g", g.URL)
	if err != nil || !strings.Contains(stdout, "Updated secret: db") {
		t.Errorf("secret update = %q, %v", stdout, err)
	}
	g404 := newFakeGateway(t, nil)
	_, _, err = runCLI(t, map[string]string{}, "", "secret", "update", "db", "--from-literal", "v2", "-g", g404.URL)
	if err == nil || !strings.Contains(err.Error(), "no such secret: db") {
		t.Errorf("update of a missing secret = %v", err)
	}
}

func TestSecretList(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"GET /system/secrets": {200, `[{"name":"a","namespace":"openfaas-fn"},{"name":"bb","namespace":"openfaas-fn"}]`}})
	stdout, _, err := runCLI(t, map[string]string{}, "", "secret", "list", "-g", g.URL, "--namespace", "openfaas-fn")
	want := "NAME  NAMESPACE\na     openfaas-fn\nbb    openfaas-fn\n"
	if err != nil || stdout != want {
		t.Errorf("secret list = %q, %v, want %q", stdout, err, want)
	}
	if r := g.requests()[0]; r.Query != "namespace=openfaas-fn" {
		t.Errorf("query = %q", r.Query)
	}
}

func TestSecretRemove(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"DELETE /system/secrets": {409, "secret db is used by function(s) fn"}})
	_, _, err := runCLI(t, map[string]string{}, "", "secret", "remove", "db", "-g", g.URL)
	if !errors.Is(err, client.ErrConflict) || !strings.Contains(err.Error(), "used by function(s) fn") {
		t.Errorf("remove of a used secret = %v, want the server's reason", err)
	}
	g = newFakeGateway(t, map[string]fakeResponse{"DELETE /system/secrets": {202, ""}})
	stdout, _, err := runCLI(t, map[string]string{}, "", "secret", "rm", "a", "b", "-g", g.URL)
	if err != nil || stdout != "Removed secret: a\nRemoved secret: b\n" {
		t.Errorf("secret rm a b = %q, %v", stdout, err)
	}
	if reqs := g.requests(); len(reqs) != 2 || reqs[1].Body != `{"name":"b"}`+"\n" && reqs[1].Body != `{"name":"b"}` {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestSecretUsage(t *testing.T) {
	for _, args := range [][]string{{"secret", "-h"}, {"secret", "create", "-h"}, {"secret", "list", "-h"}} {
		stdout, _, err := runCLI(t, map[string]string{}, "", args...)
		if err != nil || !strings.HasPrefix(stdout, "Usage: funcd secret") {
			t.Errorf("%v = %q, %v", args, stdout, err)
		}
	}
	for _, args := range [][]string{{"secret"}, {"secret", "bogus"}, {"secret", "create"}, {"secret", "create", "a", "--from-literal", "x", "--from-file", "f"}, {"secret", "create", "a", "--from-literal", "  "}} {
		if _, _, err := runCLI(t, map[string]string{}, "", args...); err == nil {
			t.Errorf("%v = nil error", args)
		}
	}
}
