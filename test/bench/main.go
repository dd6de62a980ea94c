// Command bench measures funcd's warm invocation path and its memory on
// this machine, and prints the figures next to funcd's targets.
//
// It sets up the same private environment as the end-to-end tests (package
// test/testenv): a run directory /var/tmp/funcd-bench-*, a private
// containerd, docker-registry on 127.0.0.1 and funcd built from this
// checkout, on its own bridge fdbench0 and subnet 10.198.250.0/24 (apart
// from the e2e tests' fdt*/10.199.X.0/24 and a live install's
// funcd0/10.62.0.0/16). test/testfn is built into an image, pushed to the
// registry and deployed as "bench" with the typed API client. Then, with
// wrk (Debian package wrk), 1s of warm-up and 5s of measurement each:
//
//   - 1 connection (1 thread) and 32 connections (2 threads), directly
//     to the replica (http://IP:8080/, IP from the container's io.funcd.ip
//     label), through the floor (splice.go: a relay on 127.0.0.1 that
//     splices bytes to the replica and does no HTTP work) and through
//     funcd (http://127.0.0.1:PORT/function/bench), alternating;
//   - funcd's memory (memory.go: VmRSS, and of it RssAnon, its own pages,
//     and RssFile, nearly all its binary's clean page-cache pages; Pss from
//     smaps_rollup) after the deploy and -idle (25s: funcd trims its
//     memory once quiet for 10-20s, cmd/funcd/memory.go), and after the
//     load; and funcd's CPU time per request over the measured runs
//     through it;
//   - 32 connections through funcd with the function at 1 and at 2
//     replicas (scaled through the API, alternating);
//   - cold starts (cold.go): a function "coldstart" scaled to zero through
//     the API, then timed from sending GET /function/coldstart/ok to its
//     200, -cold times; alternating with as many runs of the floor
//     (floor.go): the same image started with the containerd Go client
//     and funcd's cni package on a network of its own (fdfloor0,
//     10.198.251.0/24, containerd namespace funcd-floor), to the first 200
//     of IP:8080/ok; and bursts of 10 simultaneous cold starts of
//     cold1..cold10;
//   - the queue of asynchronous invocations (queue.go; funcd run with
//     --queue-workers 32, --queue-fsync as -queue-fsync says, and
//     --nats-listen on a free 127.0.0.1 port): bursts of POST
//     /async-function/NAME/ok from 32 goroutines to "queue1" (label
//     com.openfaas.queue.max-inflight=1) and "queue32" (no cap below the
//     32 workers), timed to the last 202 (accepted/s) and until
//     GET /system/queue shows the queue empty (completed/s), -rounds
//     times each, alternating, the median reported, every burst checked
//     against funcd_async_invocations_total; after each round queue32
//     invoked synchronously (wrk, 32 connections), the figure completed/s
//     is held against; and single invocations, one
//     at a time, timed from sending to testfn's /latency receiving them:
//     POST /async-function/queue32/latency, and a NATS publish on
//     bench.latency to "queuetopic" (annotation topic: bench.latency; env
//     ROOT_PATH=/latency, as triggers invoke /), reported as n/a with the
//     reason when no message reaches it; and funcd's memory right after
//     the last burst drained and a minute after it (the idle figure is
//     read here when the warm section did not run), and its CPU time per
//     queued invocation over the timed bursts;
//   - overhead (overhead.go): -overhead-n replicas of the bench function,
//     the PSS of their shims and of funcd's growth per replica (the log
//     capture), and how many log driver processes run (0: no exec on the
//     cold path);
//   - density (density.go): -density-n functions (default 300) deployed
//     at scale to zero and parked, 200 of them woken, on a /21
//     (10.198.232.0/21, as parked replicas keep their addresses): deploy
//     rate of the first and last 50, funcd's RSS, GET /system/functions,
//     PSS and CPU of the woken replicas' shims and log capture, the warm
//     path with and without them, funcd's restart with all recorded, and
//     removing them all, checking nothing is left;
//   - freezing (freeze.go): "frozen", annotated com.funcd.idle=pause with a
//     1s zero-duration, frozen by funcd, then timed from sending GET
//     /function/frozen/ok to its 200; alternating, -freeze times, with the
//     floors of the same replica on a kept-alive connection to IP:8080:
//     thaw by its freezer file, and containerd's task.Resume, each to the
//     first 200;
//   - the web UI (ui.go): 200 functions at scale to zero, then the
//     functions page (/ui/#/functions, logged in through the form) loaded
//     5 times in headless chromium (Debian's chromium) with its cache
//     off: first-contentful-paint, the time until all 200 rows show, and
//     the bytes fetched until then (HTML, JS, CSS and API answers, from
//     the page's resource timing).
//
// -only runs some of the sections: warm, replicas, overhead, cold, queue,
// density, freeze, ui. -go-memory-limit runs funcd with that --go-memory-limit, to
// compare.
//
// The targets: through funcd at least 55% of the direct throughput at 32
// connections (or, where the floor shows no user-space hop reaches that,
// at least 95% of the floor's), at most 200µs of added p50 latency at 1
// connection; funcd's RSS under 30 MB idle, under 64 MB right after the
// queue bursts and under 40 MB a minute later; a cold-start p50 within
// 1.3x the floor's and under 150ms, a p99 under 300ms; a wake from frozen
// (com.funcd.idle=pause) p50 within 20ms; the UI's functions page with
// 200 functions painted within 1 s, its rows shown within 2 s, its HTML,
// JS and CSS under 50 KiB and with the API answers under 150 KiB. A missed target is reported as
// MISS; the exit status is 0
// whenever the measurements ran, and non-zero only when setting up or
// cleaning up failed, or when funcd's count of queued invocations did not
// match the number accepted. Everything is removed at the end, also after a
// failure or Ctrl-C.
//
// Run it as root: `make bench` (or `go run ./test/bench -h` for flags).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("interrupted: %w", err)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}
