package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

func TestSecretCalls(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name            string
		call            func(*Client) error
		method, query   string
		body            string
		code            int
		wantErr         error // nil: success
		wantStatusError bool
	}{
		{"create", func(c *Client) error { return c.CreateSecret(ctx, api.Secret{Name: "db", Value: "v"}) },
			"POST", "", `{"name":"db","value":"v"}`, 202, nil, false},
		{"create 200", func(c *Client) error { return c.CreateSecret(ctx, api.Secret{Name: "db", RawValue: []byte("raw")}) },
			"POST", "", `{"name":"db","rawValue":"cmF3"}`, 200, nil, false},
		{"create 201", func(c *Client) error { return c.CreateSecret(ctx, api.Secret{Name: "db"}) },
			"POST", "", `{"name":"db"}`, 201, nil, false},
		{"create exists", func(c *Client) error { return c.CreateSecret(ctx, api.Secret{Name: "db"}) },
			"POST", "", `{"name":"db"}`, 409, ErrConflict, true},
		{"update", func(c *Client) error { return c.UpdateSecret(ctx, api.Secret{Name: "db", Namespace: "ns", Value: "v"}) },
			"PUT", "", `{"name":"db","namespace":"ns","value":"v"}`, 202, nil, false},
		{"update missing", func(c *Client) error { return c.UpdateSecret(ctx, api.Secret{Name: "db"}) },
			"PUT", "", `{"name":"db"}`, 404, ErrNotFound, true},
		{"remove", func(c *Client) error { return c.RemoveSecret(ctx, "db", "") },
			"DELETE", "", `{"name":"db"}`, 202, nil, false},
		{"remove 200", func(c *Client) error { return c.RemoveSecret(ctx, "db", "") },
			"DELETE", "", `{"name":"db"}`, 200, nil, false},
		{"remove 204 is an error", func(c *Client) error { return c.RemoveSecret(ctx, "db", "") },
			"DELETE", "", `{"name":"db"}`, 204, nil, true},
		{"remove missing", func(c *Client) error { return c.RemoveSecret(ctx, "db", "ns") },
			"DELETE", "", `{"name":"db","namespace":"ns"}`, 404, ErrNotFound, true},
		{"remove in use", func(c *Client) error { return c.RemoveSecret(ctx, "db", "") },
			"DELETE", "", `{"name":"db"}`, 409, ErrConflict, true},
		{"server error", func(c *Client) error { return c.CreateSecret(ctx, api.Secret{Name: "db"}) },
			"POST", "", `{"name":"db"}`, 500, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := newFake(t, fixed(tt.code, "why"))
			err := tt.call(c)
			var se *StatusError
			switch {
			case tt.wantStatusError && !errors.As(err, &se):
				t.Errorf("err = %v, want a *StatusError", err)
			case !tt.wantStatusError && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.code == 409 && errors.Is(err, ErrNotFound) {
				t.Errorf("409 err = %v is ErrNotFound", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != "/system/secrets" || r.Query != tt.query {
				t.Errorf("request = %s %s?%s, want %s /system/secrets?%s", r.Method, r.Path, r.Query, tt.method, tt.query)
			}
			if !jsonSame(t, r.Body, tt.body) {
				t.Errorf("body = %s, want %s", r.Body, tt.body)
			}
			if r.Auth == "" {
				t.Error("no credentials sent")
			}
		})
	}
}

func jsonSame(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func TestListSecrets(t *testing.T) {
	f, c := newFake(t, fixed(http.StatusOK, `[{"name":"a","namespace":"openfaas-fn"},{"name":"b","namespace":"openfaas-fn"}]`))
	got, err := c.ListSecrets(context.Background(), "openfaas-fn")
	want := []api.Secret{{Name: "a", Namespace: "openfaas-fn"}, {Name: "b", Namespace: "openfaas-fn"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ListSecrets = %+v, %v; want %+v", got, err, want)
	}
	if r := f.requests()[0]; r.Method != "GET" || r.Path != "/system/secrets" || r.Query != "namespace=openfaas-fn" {
		t.Errorf("request = %s %s?%s", r.Method, r.Path, r.Query)
	}
}
