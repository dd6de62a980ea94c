package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSpliceRelay: the floor relay carries keep-alive HTTP both ways
// unchanged, on one connection, and Close ends a connection left open.
func TestSpliceRelay(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.URL.Path+" "+string(body))
	}))
	defer up.Close()
	r, err := startSpliceRelay(strings.TrimPrefix(up.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", r.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	for _, body := range []string{"one", strings.Repeat("x", 1<<20)} {
		req, _ := http.NewRequest(http.MethodPost, "http://h/p", strings.NewReader(body))
		if err := req.Write(nc); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if want := "/p " + body; string(got) != want {
			t.Errorf("answer of %d bytes, want %d bytes (%q...)", len(got), len(want), want[:5])
		}
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Errorf("connection still open after Close")
	}
}

func TestWarmRatios(t *testing.T) {
	// Round by round, so a slow second round does not count against funcd.
	m := measurements{rounds32: []round{{100, 50, 40}, {50, 25, 24}, {100, 50, 46}}}
	got := warmRatios(m)
	if want := (throughputRatios{direct: 0.46, floor: 0.92, floorDirect: 0.5}); got != want {
		t.Errorf("warmRatios() = %+v, want %+v", got, want)
	}
}

func TestWarmRatiosMet(t *testing.T) {
	for _, tc := range []struct {
		direct, floor, through float64
		want                   bool
	}{
		{100, 60, 56, true},  // 56% of direct
		{100, 50, 48, true},  // under 55% of direct, 96% of the floor
		{100, 50, 45, false}, // neither
		{0, 0, 0, false},
	} {
		m := measurements{rounds32: []round{{tc.direct, tc.floor, tc.through}}}
		if got := warmRatios(m).met(); got != tc.want {
			t.Errorf("direct %v floor %v through %v: met() = %v, want %v", tc.direct, tc.floor, tc.through, got, tc.want)
		}
	}
}
