package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseLatencies reads testfn's /latencies: a JSON array of nanoseconds.
func parseLatencies(body []byte) ([]time.Duration, error) {
	var ns []int64
	if err := json.Unmarshal(body, &ns); err != nil {
		return nil, fmt.Errorf("latencies: %w", err)
	}
	ds := make([]time.Duration, len(ns))
	for i, v := range ns {
		ds[i] = time.Duration(v)
	}
	return ds, nil
}

// countsBy reads the samples of metric in Prometheus's text exposition
// whose label sel is selValue, and returns their values by the value of
// label by. Lines that do not parse are skipped.
func countsBy(exposition, metric, sel, selValue, by string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(exposition))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, labels, v, ok := parseSample(sc.Text())
		if ok && name == metric && labels[sel] == selValue {
			out[labels[by]] += v
		}
	}
	return out
}

// parseSample reads one sample line: name{l="v",...} value [timestamp].
// Comments, blank lines and malformed lines give ok == false.
func parseSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return "", nil, 0, false
	}
	name, rest := line[:end], line[end:]
	labels = map[string]string{}
	if rest[0] == '{' {
		var good bool
		if rest, good = parseLabels(rest[1:], labels); !good {
			return "", nil, 0, false
		}
	}
	f := strings.Fields(rest)
	if len(f) < 1 || len(f) > 2 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", nil, 0, false
	}
	return name, labels, v, true
}

// parseLabels reads `l="v",...}` into labels and returns what follows the
// closing brace. Values may hold the escapes \\, \" and \n.
func parseLabels(s string, labels map[string]string) (string, bool) {
	for {
		s = strings.TrimLeft(s, " ")
		if strings.HasPrefix(s, "}") {
			return s[1:], true
		}
		eq := strings.Index(s, `="`)
		if eq <= 0 {
			return "", false
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var val strings.Builder
		closed := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i])
				}
				continue
			}
			if c == '"' {
				s, closed = s[i+1:], true
				break
			}
			val.WriteByte(c)
		}
		if !closed {
			return "", false
		}
		labels[key] = val.String()
		s = strings.TrimLeft(s, " ")
		s = strings.TrimPrefix(s, ",")
	}
}
