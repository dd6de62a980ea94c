package trigger

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/funcd/funcd/internal/queue"
)

// maxSleep bounds each wait for a schedule's next time, so that a wall
// clock that jumps (NTP, a resumed machine) is noticed within a minute.
const maxSleep = time.Minute

// cronEntry is one function's running schedule.
type cronEntry struct {
	spec string
	stop context.CancelFunc
}

// startCron runs a function's schedule on a goroutine until the entry is
// stopped or ctx ends.
func (t *Triggers) startCron(ctx context.Context, fn function, spec string, sched cron.Schedule) *cronEntry {
	ctx, cancel := context.WithCancel(ctx)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.runSchedule(ctx, fn, sched)
	}()
	return &cronEntry{spec: spec, stop: cancel}
}

// runSchedule enqueues a job at each of the schedule's times, starting from
// now: runs missed while funcd was down are not made up, so a restart
// never sets off a burst. After each run the next time is reckoned from
// the clock, so runs missed while the machine slept or the queue was slow
// are skipped too; at most one late run happens, when waking up.
func (t *Triggers) runSchedule(ctx context.Context, fn function, sched cron.Schedule) {
	timer := time.NewTimer(maxSleep)
	defer timer.Stop()
	next := sched.Next(t.now())
	for !next.IsZero() && ctx.Err() == nil {
		if wait := next.Sub(t.now()); wait > 0 {
			timer.Reset(min(wait, maxSleep))
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			continue
		}
		t.fire(ctx, fn, next)
		from := t.now()
		if from.Before(next) {
			from = next // the clock went back: never fire a time twice
		}
		next = sched.Next(from)
	}
}

// fire enqueues one scheduled run. The call id is derived from the
// function and the scheduled time, so the queue drops a second run of the
// same time (two funcd processes, a quick restart) as a duplicate.
func (t *Triggers) fire(ctx context.Context, fn function, at time.Time) {
	t.enqueue(ctx, queue.Job{
		CallID:    fmt.Sprintf("cron-%s-%d", fn, at.Unix()),
		Function:  fn.name,
		Namespace: fn.namespace,
		Method:    http.MethodPost,
		Header: http.Header{
			headerTopic:     {CronTopic},
			headerConnector: {"funcd-cron"},
		},
		Source: queue.SourceCron,
	})
}
