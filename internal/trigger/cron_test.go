package trigger

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/queue"
)

// cronSecond reads the scheduled time out of a cron job's call id.
func cronSecond(t *testing.T, j queue.Job) int64 {
	t.Helper()
	prefix := fmt.Sprintf("cron-%s.%s-", j.Function, j.Namespace)
	sec, err := strconv.ParseInt(strings.TrimPrefix(j.CallID, prefix), 10, 64)
	if !strings.HasPrefix(j.CallID, prefix) || err != nil {
		t.Fatalf("call id %q, want %s<unix seconds>", j.CallID, prefix)
	}
	return sec
}

func TestCronFires(t *testing.T) {
	h := newHarness(t)
	// The clock jumps an hour ahead at the first run, as if the machine
	// had slept: the runs of that hour must not be made up.
	var offset atomic.Int64
	h.clock = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	var jumped atomic.Int64 // the clock's reading when it jumped
	h.queue.enqueued = func(queue.Job) {
		if offset.CompareAndSwap(0, int64(time.Hour)) {
			jumped.Store(h.clock().Unix())
		}
	}
	h.fns.set(fn("tick", "topic", "cron-function", "schedule", "* * * * * *"))
	start := time.Now()
	h.start()

	jobs := h.queue.waitJobs(t, 2)
	first, second := cronSecond(t, jobs[0]), cronSecond(t, jobs[1])
	if first <= start.Unix() || first > start.Unix()+2 {
		t.Errorf("first run at %d, want the first second after the start (%d)", first, start.Unix())
	}
	if second <= jumped.Load() {
		t.Errorf("second run at %d, want one after the clock's jump to %d: missed runs are skipped", second, jumped.Load())
	}
	for _, j := range jobs[:2] {
		if j.Function != "tick" || j.Namespace != "openfaas-fn" || j.Method != http.MethodPost ||
			j.Source != queue.SourceCron || len(j.Body) != 0 ||
			j.Header.Get("X-Topic") != CronTopic || j.Header.Get("X-Connector") != "funcd-cron" {
			t.Errorf("job = %+v, want an empty POST to tick.openfaas-fn from cron", j)
		}
	}
	if got := h.counter("funcd_trigger_invocations_total", "cron"); got < 2 {
		t.Errorf("funcd_trigger_invocations_total{trigger=cron} = %v, want at least 2", got)
	}
}

func TestCronRescheduled(t *testing.T) {
	h := newHarness(t)
	h.fns.set(
		fn("tick", "topic", "cron-function", "schedule", "@yearly"),
		fn("marker", "topic", "marker"),
	)
	h.start()
	h.waitSubs(1) // the first pass has seen the yearly schedule

	h.fns.set(
		fn("tick", "topic", "cron-function", "schedule", "*/1 * * * * *"),
		fn("marker", "topic", "marker"),
	)
	if j := h.queue.waitJobs(t, 1)[0]; j.Function != "tick" || j.Source != queue.SourceCron {
		t.Errorf("job = %+v, want a run of tick", j)
	}
}
