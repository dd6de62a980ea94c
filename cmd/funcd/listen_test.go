package main

import (
	"net/netip"
	"testing"
)

func TestCovers(t *testing.T) {
	gw := netip.MustParseAddr("10.62.0.1")
	tests := map[string]bool{
		":8080":          true,
		"0.0.0.0:8080":   true,
		"[::]:8080":      true,
		"10.62.0.1:8080": true,
		"127.0.0.1:8080": false,
		":9090":          false,
		"10.62.0.1:9090": false,
		"garbage":        false,
	}
	for listen, want := range tests {
		if got := covers(listen, gw); got != want {
			t.Errorf("covers(%q) = %v, want %v", listen, got, want)
		}
	}
}
