package api

import (
	"strings"
	"testing"
)

func TestParseMemory(t *testing.T) {
	tests := map[string]int64{
		"128Mi": 128 << 20, "1Gi": 1 << 30, "3Gi": 3 << 30, "5G": 5e9, "2Ti": 2 << 40, "1G": 1e9, "512": 512, "1.5Ki": 1536, "100M": 1e8,
		"0": 0, "1k": 1000, "1500m": 2, // milli-bytes round up
	}
	for in, want := range tests {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "Mi", "-1Mi", "1.2.3", "1 Mi", "12XB", "0x10", ".", "1e9", "99999999999999999999Ei"} {
		if got, err := ParseMemory(bad); err == nil {
			t.Errorf("ParseMemory(%q) = %d, want an error", bad, got)
		}
	}
}

func TestParseCPU(t *testing.T) {
	tests := map[string]int64{"500m": 500, "0.5": 500, "2": 2000, "0.01": 10, "100m": 100, "1.0001": 1001}
	for in, want := range tests {
		if got, err := ParseCPU(in); err != nil || got != want {
			t.Errorf("ParseCPU(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "m", "half", "-1"} {
		if _, err := ParseCPU(bad); err == nil {
			t.Errorf("ParseCPU(%q) = nil error", bad)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := map[int64]string{512: "512", 1536: "1.5Ki", 128 << 20: "128Mi", 3 << 30: "3Gi"}
	for in, want := range tests {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseMemory checks that the parser never panics and that whatever it
// accepts is a plain non-negative number with a known suffix.
func FuzzParseMemory(f *testing.F) {
	for _, s := range []string{"128Mi", "1.5G", "500m", "", "-1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseMemory(s)
		if err != nil {
			return
		}
		if n < 0 || strings.ContainsAny(s, "-+ e") {
			t.Errorf("ParseMemory(%q) = %d, accepted", s, n)
		}
	})
}
