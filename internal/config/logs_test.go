package config

import (
	"io"
	"testing"
)

func TestLogMaxSize(t *testing.T) {
	tests := []struct {
		args []string
		env  string
		want int64
	}{
		{nil, "", 1 << 20},
		{[]string{"--log-max-size", "512Ki"}, "", 512 << 10},
		{nil, "2Mi", 2 << 20},
	}
	for _, tt := range tests {
		getenv := func(k string) string {
			if k == "FUNCD_LOG_MAX_SIZE" {
				return tt.env
			}
			return ""
		}
		d, err := ParseDaemon(append([]string{"--cni-bin-dir", "/x", "--memory-budget", "0"}, tt.args...), getenv, io.Discard)
		if err != nil || d.LogMaxSize != tt.want {
			t.Errorf("ParseDaemon(%q, FUNCD_LOG_MAX_SIZE=%q).LogMaxSize = %d, %v; want %d", tt.args, tt.env, d.LogMaxSize, err, tt.want)
		}
	}
	for _, bad := range []string{"0", "-1Mi", "lots"} {
		if _, err := ParseDaemon([]string{"--cni-bin-dir", "/x", "--memory-budget", "0", "--log-max-size", bad}, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("ParseDaemon(--log-max-size %q) = nil error, want one", bad)
		}
	}
}
