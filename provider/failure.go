package provider

import (
	"context"
	"errors"
	"time"
)

// Failure is the last time a replica of a function failed: to start, to
// become ready, or by exiting. Failing says the latest attempt to start
// a replica, or the latest exit, was that failure; a replica starting
// since clears it, keeping the message.
type Failure struct {
	Message string
	At      time.Time
	Failing bool
}

// failed records err as f's last failure. containerd being away and
// cancelled operations are no fault of the function and are not kept.
func (f *function) failed(err error) {
	if err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) {
		return
	}
	f.failure.Store(&Failure{Message: err.Error(), At: time.Now().UTC(), Failing: true})
}

// started records that a replica of f started and is ready.
func (f *function) started() {
	if last := f.failure.Load(); last != nil && last.Failing {
		ok := *last
		ok.Failing = false
		f.failure.CompareAndSwap(last, &ok)
	}
}

// LastFailure returns the last failure of a replica of name.ns since
// funcd started; false when there was none or no such function.
func (p *Provider) LastFailure(name, ns string) (Failure, bool) {
	f := p.get(key{ns, name})
	if f == nil {
		return Failure{}, false
	}
	if last := f.failure.Load(); last != nil {
		return *last, true
	}
	return Failure{}, false
}
