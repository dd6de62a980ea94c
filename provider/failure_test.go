package provider

import (
	"context"
	"strings"
	"testing"
)

func TestLastFailure(t *testing.T) {
	h := newHarness(t)
	if err := h.p.Deploy(context.Background(), deployment("a")); err != nil {
		t.Fatal(err)
	}
	if f, ok := h.p.LastFailure("a", "openfaas-fn"); ok {
		t.Fatalf("LastFailure after a clean deploy = %+v, want none", f)
	}
	if _, ok := h.p.LastFailure("b", "openfaas-fn"); ok {
		t.Errorf("LastFailure(b) of a missing function = ok, want none")
	}
	h.rt.noTasks.Store(true)
	h.rt.crash(h.rt.ids()[0])
	eventually(t, "a failing restart recorded", func() bool {
		f, ok := h.p.LastFailure("a", "openfaas-fn")
		return ok && f.Failing && strings.Contains(f.Message, "exec format error")
	})
	h.rt.noTasks.Store(false)
	eventually(t, "the replica back and the failure no longer current", func() bool {
		f, ok := h.p.LastFailure("a", "openfaas-fn")
		st, _ := h.p.Status("a", "openfaas-fn")
		return ok && !f.Failing && st.AvailableReplicas == 1
	})
	f, _ := h.p.LastFailure("a", "openfaas-fn")
	if f.Message == "" || f.At.IsZero() {
		t.Errorf("LastFailure after recovery = %+v, want the last message and time kept", f)
	}
}

func TestLastFailureOfExit(t *testing.T) {
	h := newHarness(t)
	if err := h.p.Deploy(context.Background(), deployment("a")); err != nil {
		t.Fatal(err)
	}
	h.rt.crash(h.rt.ids()[0])
	eventually(t, "the exit recorded", func() bool {
		f, ok := h.p.LastFailure("a", "openfaas-fn")
		return ok && strings.Contains(f.Message, "exited with code 2")
	})
}
