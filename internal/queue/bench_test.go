package queue

import (
	"context"
	"net/http"
	"runtime"
	"testing"
)

// BenchmarkEnqueue measures storing 128-byte invocations from 32 parallel
// callers, as HTTP handlers would be: with an fsync per group of
// concurrent Enqueues (the default), with an fsync per message (how it
// was before group commit), and without fsync. Nothing consumes them:
// the function does not exist, so the loop buries them, off the measured
// path's CPU only in part.
func BenchmarkEnqueue(b *testing.B) {
	for _, bc := range []struct {
		name        string
		sync, group bool
	}{
		{"fsync-group", true, true},
		{"fsync-each", true, false},
		{"nofsync", false, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q, err := New(context.Background(), Config{StoreDir: b.TempDir(), SyncAlways: bc.sync,
				Invoker: http.NotFoundHandler(), Functions: &fakeFunctions{}, Workers: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close(context.Background())
			if !bc.group && q.commit != nil {
				q.commit.close()
				q.commit = nil
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
