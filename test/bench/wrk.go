package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// load is one wrk run: how many connections (and threads) for how long.
type load struct {
	threads, conns int
	duration       time.Duration
}

// result is what the benchmark reads from wrk's output.
type result struct {
	rps      float64       // Requests/sec
	p50, p99 time.Duration // from the Latency Distribution
	requests int           // completed requests
	errors   int           // non-2xx/3xx responses and socket errors
}

// runWrk runs `wrk -tT -cC -dD --latency url` and parses its report.
func runWrk(ctx context.Context, url string, l load) (result, error) {
	args := []string{
		"-t" + strconv.Itoa(l.threads),
		"-c" + strconv.Itoa(l.conns),
		"-d" + strconv.Itoa(int(l.duration.Round(time.Second)/time.Second)) + "s",
		"--latency", url,
	}
	out, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	if ctx.Err() != nil {
		return result{}, ctx.Err()
	}
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return r, nil
}

// parseWrk reads Requests/sec, the 50% and 99% lines of the Latency
// Distribution, the request count and the error lines from wrk's output.
func parseWrk(out string) (result, error) {
	var r result
	var haveRPS, have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		var err error
		switch {
		case f[0] == "Requests/sec:":
			r.rps, err = strconv.ParseFloat(f[1], 64)
			haveRPS = err == nil
		case f[0] == "50%":
			r.p50, err = parseWrkDuration(f[1])
			have50 = err == nil
		case f[0] == "99%":
			r.p99, err = parseWrkDuration(f[1])
			have99 = err == nil
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			r.requests, err = strconv.Atoi(f[0])
		case f[0] == "Non-2xx":
			r.errors += atoiLast(f)
		case f[0] == "Socket" && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 3; i < len(f); i += 2 {
				n, _ := strconv.Atoi(strings.TrimSuffix(f[i], ","))
				r.errors += n
			}
		}
		if err != nil {
			return r, fmt.Errorf("parse %q: %w", sc.Text(), err)
		}
	}
	if !haveRPS || !have50 || !have99 {
		return r, fmt.Errorf("no Requests/sec or 50%%/99%% latency in wrk's output")
	}
	return r, nil
}

// parseWrkDuration reads wrk's times: 98.00us, 1.23ms, 2.00s, 1.50m, 1.00h.
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(math.Round(v * float64(u.unit))), nil
		}
	}
	return 0, fmt.Errorf("unknown time unit in %q", s)
}

func atoiLast(f []string) int {
	n, _ := strconv.Atoi(f[len(f)-1])
	return n
}
