package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
)

func TestInvokeAsync(t *testing.T) {
	tests := []struct {
		name          string
		ns, path      string
		header        http.Header
		code          int
		wantPath      string
		wantQuery     string
		wantID        string
		wantErr       error // with wantStatus: errors.Is must hold
		wantStatus    int   // 0: success
		wantErrSubstr string
	}{
		{name: "generated id", code: 202, wantPath: "/async-function/figlet", wantID: "gen-1"},
		{name: "caller's id wins", header: http.Header{"X-Call-Id": {"mine"}}, code: 202,
			wantPath: "/async-function/figlet", wantID: "mine"},
		{name: "namespace, path and query", ns: "dev", path: "/items/1?q=1", code: 202,
			wantPath: "/async-function/figlet.dev/items/1", wantQuery: "q=1", wantID: "gen-1"},
		{name: "default namespace left out", ns: api.DefaultNamespace, code: 202,
			wantPath: "/async-function/figlet", wantID: "gen-1"},
		{name: "callback forwarded", header: http.Header{"X-Callback-Url": {"http://cb.example/done"}}, code: 202,
			wantPath: "/async-function/figlet", wantID: "gen-1"},
		{name: "unknown function", code: 404, wantPath: "/async-function/figlet",
			wantErr: ErrNotFound, wantStatus: 404, wantErrSubstr: "why"},
		{name: "too large", code: 413, wantPath: "/async-function/figlet", wantStatus: 413, wantErrSubstr: "why"},
		{name: "bad callback", code: 400, wantPath: "/async-function/figlet", wantStatus: 400, wantErrSubstr: "why"},
		{name: "200 is not queued", code: 200, wantPath: "/async-function/figlet", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type sent struct {
				req  *http.Request
				body string
			}
			seen := make(chan sent, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				seen <- sent{r.Clone(context.Background()), string(b)}
				w.Header().Set("X-Call-Id", "gen-1")
				w.WriteHeader(tt.code)
				if tt.code != 202 {
					io.WriteString(w, "why\n")
				}
			}))
			defer srv.Close()
			c := New(srv.URL, WithBasicAuth("admin", "s3cret"))

			id, err := c.InvokeAsync(context.Background(), "figlet", tt.ns, tt.path, strings.NewReader("hello"), tt.header)
			if tt.wantStatus == 0 {
				if err != nil || id != tt.wantID {
					t.Errorf("InvokeAsync() = %q, %v, want %q", id, err, tt.wantID)
				}
			} else {
				var se *StatusError
				if !errors.As(err, &se) || se.Code != tt.wantStatus || !strings.Contains(err.Error(), tt.wantErrSubstr) {
					t.Errorf("InvokeAsync() = %q, %v, want *StatusError %d with %q", id, err, tt.wantStatus, tt.wantErrSubstr)
				}
				if gotNF, wantNF := errors.Is(err, ErrNotFound), tt.wantErr == ErrNotFound; gotNF != wantNF {
					t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", err, gotNF, wantNF)
				}
				if id != "" {
					t.Errorf("InvokeAsync() id = %q on error, want empty", id)
				}
			}
			var got *http.Request
			var gotBody string
			select {
			case s := <-seen:
				got, gotBody = s.req, s.body
			default:
				t.Fatal("no request sent")
			}
			if got.Method != "POST" || got.URL.Path != tt.wantPath || got.URL.RawQuery != tt.wantQuery || gotBody != "hello" {
				t.Errorf("sent %s %s?%s %q, want POST %s?%s %q", got.Method, got.URL.Path, got.URL.RawQuery, gotBody, tt.wantPath, tt.wantQuery, "hello")
			}
			if a := got.Header.Get("Authorization"); a != "" {
				t.Errorf("sent Authorization %q, want none", a)
			}
			for k := range tt.header {
				if g, w := got.Header.Get(k), tt.header.Get(k); g != w {
					t.Errorf("sent %s = %q, want %q", k, g, w)
				}
			}
		})
	}
}

func TestInvokeAsyncBadPath(t *testing.T) {
	f, c := newFake(t, fixed(202, ""))
	if _, err := c.InvokeAsync(context.Background(), "figlet", "", "nope", nil, nil); err == nil {
		t.Errorf("InvokeAsync(path %q) = nil error, want error", "nope")
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("gateway saw %d requests, want 0", n)
	}
}

func TestQueueStats(t *testing.T) {
	f, c := newFake(t, fixed(200, `{"depth":3,"inFlight":1,"retrying":2,"deadLetters":4,"callbacks":1,"workers":8,
		"functions":[{"name":"figlet","namespace":"openfaas-fn","depth":3,"inFlight":1,"retrying":2,"deadLetters":4,"maxInflight":2}]}`))
	got, err := c.QueueStats(context.Background())
	want := api.QueueStats{Depth: 3, InFlight: 1, Retrying: 2, DeadLetters: 4, Callbacks: 1, Workers: 8,
		Functions: []api.FunctionQueue{{Name: "figlet", Namespace: "openfaas-fn", Depth: 3, InFlight: 1, Retrying: 2, DeadLetters: 4, MaxInflight: 2}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("QueueStats() = %+v, %v, want %+v", got, err, want)
	}
	if r := f.requests()[0]; r.Method != "GET" || r.Path != "/system/queue" || r.Query != "" || r.Auth != "Basic YWRtaW46czNjcmV0" {
		t.Errorf("QueueStats sent %s %s?%s auth %q, want GET /system/queue with Basic admin:s3cret", r.Method, r.Path, r.Query, r.Auth)
	}

	_, c = newFake(t, fixed(404, "404 page not found"))
	if _, err := c.QueueStats(context.Background()); !errors.Is(err, ErrNotFound) {
		t.Errorf("QueueStats() on a gateway without a queue = %v, want ErrNotFound", err)
	}
}

func TestDeadLetters(t *testing.T) {
	tests := []struct {
		name          string
		function, ns  string
		limit         int
		body          string
		wantQuery     string
		wantLen       int
		wantStatusErr int
	}{
		{"all", "", "", 0, `[]`, "", 0, 0},
		{"filtered", "figlet", "dev", 5, `[]`, "function=figlet&limit=5&namespace=dev", 0, 0},
		{"function only", "figlet", "", -1, `[]`, "function=figlet", 0, 0},
		{"null is empty", "", "", 0, `null`, "", 0, 0},
		{"two", "", "", 0, `[{"id":7},{"id":9}]`, "", 2, 0},
		{"bad limit", "", "", 0, `limit: want a positive integer`, "", 0, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := 200
			if tt.wantStatusErr != 0 {
				code = tt.wantStatusErr
			}
			f, c := newFake(t, fixed(code, tt.body))
			got, err := c.DeadLetters(context.Background(), tt.function, tt.ns, tt.limit)
			if tt.wantStatusErr != 0 {
				var se *StatusError
				if !errors.As(err, &se) || se.Code != tt.wantStatusErr || se.Body != tt.body {
					t.Errorf("DeadLetters() = %v, want *StatusError %d %q", err, tt.wantStatusErr, tt.body)
				}
			} else if err != nil || got == nil || len(got) != tt.wantLen {
				t.Errorf("DeadLetters() = %#v, %v, want %d non-nil", got, err, tt.wantLen)
			}
			r := f.requests()[0]
			if r.Method != "GET" || r.Path != "/system/queue/dead-letters" || r.Query != tt.wantQuery || r.Auth == "" {
				t.Errorf("DeadLetters sent %s %s?%s auth %q, want GET /system/queue/dead-letters?%s with credentials", r.Method, r.Path, r.Query, r.Auth, tt.wantQuery)
			}
		})
	}
}

func TestDeadLettersDecode(t *testing.T) {
	_, c := newFake(t, fixed(200, `[{"id":42,"callId":"c1","function":"figlet","namespace":"dev","path":"/x","attempts":3,
		"status":502,"error":"bad gateway","source":"async","bodyBytes":5,"acceptedAt":"2024-01-02T03:04:05Z",
		"failedAt":"2024-01-02T03:05:00Z","callbackUrl":"http://cb/"}]`))
	got, err := c.DeadLetters(context.Background(), "", "", 0)
	want := []api.DeadLetter{{ID: 42, CallID: "c1", Function: "figlet", Namespace: "dev", Path: "/x", Attempts: 3,
		Status: 502, Error: "bad gateway", Source: "async", BodyBytes: 5,
		AcceptedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), FailedAt: time.Date(2024, 1, 2, 3, 5, 0, 0, time.UTC),
		CallbackURL: "http://cb/"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("DeadLetters() = %+v, %v, want %+v", got, err, want)
	}
}

func TestRedrive(t *testing.T) {
	tests := []struct {
		name     string
		req      api.DeadLetterSelection
		code     int
		wantBody string
		want     int
		wantErr  bool
	}{
		{"everything", api.DeadLetterSelection{}, 200, `{}`, 4, false},
		{"function", api.DeadLetterSelection{Function: "figlet", Namespace: "dev"}, 200, `{"function":"figlet","namespace":"dev"}`, 4, false},
		{"ids", api.DeadLetterSelection{IDs: []uint64{7, 9}}, 200, `{"ids":[7,9]}`, 4, false},
		{"202 is unexpected", api.DeadLetterSelection{}, 202, `{}`, 0, true},
		{"server error", api.DeadLetterSelection{}, 500, `{}`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := newFake(t, fixed(tt.code, `{"redriven":4}`))
			got, err := c.Redrive(context.Background(), tt.req)
			var se *StatusError
			if tt.wantErr && (!errors.As(err, &se) || se.Code != tt.code) {
				t.Errorf("Redrive() = %v, want *StatusError %d", err, tt.code)
			}
			if !tt.wantErr && (err != nil || got.Redriven != tt.want) {
				t.Errorf("Redrive() = %+v, %v, want %d redriven", got, err, tt.want)
			}
			r := f.requests()[0]
			if r.Method != "POST" || r.Path != "/system/queue/redrive" || r.Auth == "" || r.ContentType != "application/json" {
				t.Errorf("Redrive sent %s %s auth %q type %q, want POST /system/queue/redrive, credentials, JSON", r.Method, r.Path, r.Auth, r.ContentType)
			}
			if !jsonSame(t, r.Body, tt.wantBody) {
				t.Errorf("Redrive body = %s, want %s", r.Body, tt.wantBody)
			}
		})
	}
}

func TestPurge(t *testing.T) {
	f, c := newFake(t, fixed(200, `{"purged":3}`))
	got, err := c.Purge(context.Background(), api.DeadLetterSelection{Namespace: "dev"})
	if err != nil || got.Purged != 3 {
		t.Errorf("Purge() = %+v, %v", got, err)
	}
	r := f.requests()[0]
	if r.Method != "POST" || r.Path != "/system/queue/purge" || r.Auth == "" || !jsonSame(t, r.Body, `{"namespace":"dev"}`) {
		t.Errorf("Purge sent %s %s auth %q body %s", r.Method, r.Path, r.Auth, r.Body)
	}
	_, c = newFake(t, fixed(404, "no such route"))
	if _, err := c.Purge(context.Background(), api.DeadLetterSelection{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Purge on 404 = %v, want ErrNotFound", err)
	}
}
