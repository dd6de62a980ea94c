package queue

import (
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// BenchmarkEnqueue measures storing 128-byte invocations from 32 parallel
// callers, as HTTP handlers would be: with an fsync per group of
// concurrent Enqueues (the default, with and without the commit window),
// with an fsync per message (how it was before group commit), and without
// fsync. Nothing completes: the one worker's invocation blocks until the
// queue closes, so the disk serves only the Enqueues.
func BenchmarkEnqueue(b *testing.B) {
	blocked := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	for _, bc := range []struct {
		name        string
		sync, group bool
		window      time.Duration
	}{
		{"fsync-group-window", true, true, commitWindow},
		{"fsync-group", true, true, 0},
		{"fsync-each", true, false, 0},
		{"nofsync", false, false, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fns := &fakeFunctions{}
			fns.set("f", nil)
			q, err := New(context.Background(), Config{StoreDir: b.TempDir(), SyncAlways: bc.sync,
				Invoker: blocked, Functions: fns, Workers: 1, Timeout: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				defer cancel()
				q.Close(ctx) // aborts the one blocked invocation
			}()
			if q.commit != nil {
				q.commit.close()
				q.commit = nil
				if bc.group {
					q.commit = newCommitter(q.srv.queue, q.js, invokeStream, bc.window)
				}
			}
			body := make([]byte, 128)
			b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0))) // 32 callers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := q.Enqueue(context.Background(), Job{Function: "f", Body: body}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if q.commit != nil {
				batches, msgs := q.commit.stats()
				b.ReportMetric(float64(msgs)/float64(max(batches, 1)), "msgs/batch")
			}
		})
	}
}
