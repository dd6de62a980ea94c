package queue

import (
	"context"
	"net/http"
	"testing"
)

// BenchmarkEnqueue measures storing 128-byte invocations, with and
// without an fsync per message, from parallel callers as HTTP handlers
// would be. Nothing consumes them: the function does not exist, so the
// loop buries them, off the measured path's CPU only in part.
func BenchmarkEnqueue(b *testing.B) {
	for _, sync := range []bool{true, false} {
		name := "fsync"
		if !sync {
			name = "nofsync"
		}
		b.Run(name, func(b *testing.B) {
			q, err := New(context.Background(), Config{StoreDir: b.TempDir(), SyncAlways: sync,
				Invoker: http.NotFoundHandler(), Functions: &fakeFunctions{}, Workers: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close(context.Background())
			body := make([]byte, 128)
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := q.Enqueue(context.Background(), Job{Function: "f", Body: body}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
