package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func TestLogs(t *testing.T) {
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "pw" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		got = r.URL.Query()
		if got.Get("name") != "f" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i := range 2 {
			fmt.Fprintf(w, `{"name":"f","namespace":"ns","instance":"f-1","timestamp":"2026-11-26T03:00:0%dZ","text":"line %d"}`+"\n", i, i)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, WithBasicAuth("admin", "pw"))
	since := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	s, err := c.Logs(t.Context(), "f", "ns", LogOptions{Tail: 5, Since: since, Follow: true, Instance: "f-1"})
	if err != nil {
		t.Fatalf("Logs = %v", err)
	}
	defer s.Close()
	want := url.Values{"name": {"f"}, "namespace": {"ns"}, "tail": {"5"}, "follow": {"true"}, "since": {"2026-11-26T03:00:00Z"}, "instance": {"f-1"}}
	if got.Encode() != want.Encode() {
		t.Errorf("query = %v, want %v", got, want)
	}
	for i := range 2 {
		m, err := s.Recv()
		if err != nil || m.Text != fmt.Sprintf("line %d", i) || m.Instance != "f-1" || m.Timestamp.Second() != i {
			t.Errorf("Recv = %+v, %v; want line %d", m, err, i)
		}
	}
	if _, err := s.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Recv at the end = %v, want io.EOF", err)
	}
	if _, err := c.Logs(t.Context(), "g", "", LogOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Logs(g) = %v, want ErrNotFound", err)
	}
}
