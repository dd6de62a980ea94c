package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// reportQueue prints the queue's throughput at both concurrencies and the
// latency of single invocations through HTTP and NATS. syncRPS, when not
// 0, is the synchronous figure through funcd at 32 connections, for
// comparison.
func reportQueue(w io.Writer, cfg config, q queueResults, syncRPS float64) {
	fmt.Fprintf(w, "queue of asynchronous invocations (funcd --queue-workers %d --queue-fsync=%t; %d client goroutines sending POST /async-function/NAME%s; after an untimed warm-up of %d, median of %d alternating rounds by completed/s):\n",
		queueWorkers, cfg.queueFsync, asyncClients, benchPath, asyncClients, cfg.rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tconcurrency\tinvocations\taccepted/s\tcompleted/s\tall accepted\tall completed\tcompleted/s, all rounds\t")
	for _, row := range []struct {
		conc int
		rs   []throughput
	}{{1, q.one}, {queueWorkers, q.many}} {
		r, lo, hi := medianBurst(row.rs)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.0f\t%s\t%s\t%.0f..%.0f\t\n", r.name, row.conc, r.n,
			r.acceptedRate(), r.completedRate(), millis(r.accepted), millis(r.completed), lo, hi)
	}
	tw.Flush()
	fmt.Fprintln(w, "  accepted: N / time from the first POST to the last 202; completed: N / time from the first POST until GET /system/queue shows nothing waiting, running or retrying (polled every 10 ms)")
	if len(q.sync) > 0 {
		fmt.Fprintf(w, "  %s invoked synchronously through funcd at %d conns (wrk, alternating with the bursts, median): %.0f req/s\n", queue32Name, asyncClients, median(q.sync).rps)
	}
	if syncRPS > 0 {
		fmt.Fprintf(w, "  for comparison, synchronous through funcd at 32 conns (wrk, above): %.0f req/s\n", syncRPS)
	}
	for _, r := range slices.Concat(q.one, q.many) {
		if r.mismatch != "" {
			fmt.Fprintf(w, "  ERROR %s: %s\n", r.name, r.mismatch)
		}
	}
	fmt.Fprintf(w, "\nlatency from sending an invocation to the function receiving it (one at a time, %v apart; the function subtracts the send time in the body from its clock):\n", latencyGap)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tp50\tp99\tmin\tmax\tsamples\t")
	for _, row := range []struct {
		path string
		l    latency
	}{
		{"POST /async-function/" + queue32Name + latencyPath + " (until the 202, then queued)", q.async},
		{"NATS publish on " + benchTopic + " (topic trigger of " + topicName + ")", q.nats},
	} {
		if row.l.na != "" {
			fmt.Fprintf(tw, "%s\tn/a\t\t\t\t\t\n", row.path)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d of %d\t\n", row.path, millis(row.l.s.p50), millis(row.l.s.p99), millis(row.l.s.min), millis(row.l.s.max), row.l.s.n, row.l.sent)
	}
	tw.Flush()
	if q.nats.na != "" {
		fmt.Fprintf(w, "  NATS publish n/a: %s\n", q.nats.na)
	}
	fmt.Fprintln(w)
}

// lost is an error when funcd's count of attempts did not match what was
// accepted: an invocation lost, repeated or failed.
func (q queueResults) lost() error {
	var errs []error
	for _, r := range slices.Concat(q.one, q.many) {
		if r.mismatch != "" {
			errs = append(errs, fmt.Errorf("queue burst to %s: %s", r.name, r.mismatch))
		}
	}
	return errors.Join(errs...)
}
