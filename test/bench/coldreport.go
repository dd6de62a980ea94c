package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// The cold-start targets.
const (
	maxColdFloorRatio = 1.3                    // funcd p50 / floor p50
	maxColdP50        = 150 * time.Millisecond // funcd p50, strictly below
	maxColdP99        = 300 * time.Millisecond // funcd p99, strictly below
)

// reportReplicas prints the 32-connection throughput at one and two
// replicas.
func reportReplicas(w io.Writer, r replicaResults) {
	fmt.Fprintf(w, "through funcd, 32 conns, by replicas (scaled through the API, alternating, median):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "replicas\treq/s\tp50\tp99\trequests\terrors\t")
	for _, row := range []struct {
		n int
		r result
	}{{1, r.one}, {2, r.two}} {
		fmt.Fprintf(tw, "%d\t%.0f\t%s\t%s\t%d\t%d\t\n", row.n, row.r.rps, micros(row.r.p50), micros(row.r.p99), row.r.requests, row.r.errors)
	}
	tw.Flush()
	if r.one.rps > 0 {
		fmt.Fprintf(w, "2 replicas / 1 replica: %.2fx\n", r.two.rps/r.one.rps)
	}
	fmt.Fprintln(w)
}

// reportCold prints the cold-start figures, their breakdown, the bursts
// and the cold-start targets.
func reportCold(w io.Writer, c coldResults) {
	var total, created, taskCreated, started, ready []time.Duration
	for _, r := range c.funcd {
		total = append(total, r.total)
		for _, ev := range []struct {
			at  time.Duration
			out *[]time.Duration
		}{{r.created, &created}, {r.taskCreated, &taskCreated}, {r.started, &started}} {
			if ev.at > 0 {
				*ev.out = append(*ev.out, ev.at)
			}
		}
		if r.started > 0 {
			ready = append(ready, r.total-r.started)
		}
	}
	var ftotal, fnet, fctr, ftask, fstart, fready, ftaskOnly []time.Duration
	for _, r := range c.floor {
		ftaskOnly = append(ftaskOnly, r.task+r.start+r.ready)
		ftotal, fnet, fctr = append(ftotal, r.total), append(fnet, r.network), append(fctr, r.container)
		ftask, fstart, fready = append(ftask, r.task), append(fstart, r.start), append(fready, r.ready)
	}
	fs, ff := summarize(total), summarize(ftotal)
	fmt.Fprintf(w, "cold start, scale from zero to the first 200 (%d runs each, funcd and floor alternating):\n", fs.n)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tp50\tp99\tmin\tmax\t")
	fmt.Fprintf(tw, "through funcd (GET /function/%s/ok)\t%s\t%s\t%s\t%s\t\n", coldName, millis(fs.p50), millis(fs.p99), millis(fs.min), millis(fs.max))
	fmt.Fprintf(tw, "floor (containerd client + CNI, no funcd)\t%s\t%s\t%s\t%s\t\n", millis(ff.p50), millis(ff.p99), millis(ff.min), millis(ff.max))
	ft := summarize(ftaskOnly)
	fmt.Fprintf(tw, "floor's NewTask + Start + first 200 only\t%s\t%s\t%s\t%s\t\n", millis(ft.p50), millis(ft.p99), millis(ft.min), millis(ft.max))
	tw.Flush()
	fmt.Fprintf(w, "  funcd, medians from sending the request (containerd events; runs with the event): container created %s (%d), task created %s (%d), task started %s (%d); started to answered %s\n",
		millis(medianDuration(created)), len(created), millis(medianDuration(taskCreated)), len(taskCreated), millis(medianDuration(started)), len(started), millis(medianDuration(ready)))
	if ws := summarize(c.woken); ws.n > 0 {
		fmt.Fprintf(w, "  funcd's own wake-up (log \"scaled from zero\" in=): p50 %s, p99 %s; request minus wake-up, p50: %s\n", millis(ws.p50), millis(ws.p99), millis(fs.p50-ws.p50))
	}
	fmt.Fprintf(w, "  floor, medians: netns + CNI ADD %s, NewContainer %s, NewTask %s, Start %s, first 200 %s\n\n",
		millis(medianDuration(fnet)), millis(medianDuration(fctr)), millis(medianDuration(ftask)), millis(medianDuration(fstart)), millis(medianDuration(fready)))

	fmt.Fprintf(w, "%d simultaneous cold starts (one request to each of cold1..cold%d, all at zero):\n", burstSize, burstSize)
	for i, b := range c.bursts {
		fmt.Fprintf(w, "  round %d: all answered after %s, slowest request %s", i+1, millis(b.all), millis(b.slowest))
		if ws := summarize(b.woken); ws.n > 0 {
			fmt.Fprintf(w, "; funcd wake-ups %s..%s", millis(ws.min), millis(ws.max))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)

	ratio := 0.0
	if ff.p50 > 0 {
		ratio = float64(fs.p50) / float64(ff.p50)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tmeasured\twanted\t")
	fmt.Fprintf(tw, "cold start p50 / floor p50\t%.2fx\t<= %.1fx\t%s\n", ratio, maxColdFloorRatio, verdict(ratio > 0 && ratio <= maxColdFloorRatio))
	fmt.Fprintf(tw, "cold start p50\t%s\t< %s\t%s\n", millis(fs.p50), millis(maxColdP50), verdict(fs.n > 0 && fs.p50 < maxColdP50))
	fmt.Fprintf(tw, "cold start p99\t%s\t< %s\t%s\n", millis(fs.p99), millis(maxColdP99), verdict(fs.n > 0 && fs.p99 < maxColdP99))
	tw.Flush()
}

func millis(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
