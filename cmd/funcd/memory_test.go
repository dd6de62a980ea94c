package main

import "testing"

func TestTrimmer(t *testing.T) {
	const mb = 1 << 20
	tr := trimmer{cycles: 10, base: 12 * mb}
	for _, step := range []struct {
		what         string
		cycles, held uint64
		want         bool
	}{
		{"idle, nothing grew", 10, 12 * mb, false},
		{"busy, collecting all the time", 60, 40 * mb, false},
		{"still busy", 90, 40 * mb, false},
		{"quiet after the work", 91, 40 * mb, true},
	} {
		if got := tr.due(step.cycles, step.held); got != step.want {
			t.Errorf("%s: due(%d, %d MB) = %t, want %t", step.what, step.cycles, step.held/mb, got, step.want)
		}
	}
	tr.trimmed(92, 14*mb)
	if tr.due(92, 14*mb+trimGrowth-1) {
		t.Error("due after a trim with less than trimGrowth more held")
	}
	if tr.due(92, 9*mb); tr.base != 9*mb {
		t.Errorf("base = %d after the scavenger returned memory, want 9 MB", tr.base)
	}
	if !tr.due(92, 9*mb+trimGrowth) {
		t.Error("not due with trimGrowth more held than the lowered base, and quiet")
	}
}

func TestLimitFor(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		what         string
		configured   int64
		live, stacks uint64
		want         int64
	}{
		{"no limit asked for", 0, 100 * mb, 10 * mb, 0},
		{"small live heap: the configured limit", 32 * mb, 4 * mb, 1 * mb, 32 * mb},
		{"a thousand functions: room for twice the live heap", 32 * mb, 15 * mb, 7 * mb, 2*15*mb + 7*mb + limitHeadroom},
	} {
		if got := limitFor(c.configured, c.live, c.stacks); got != c.want {
			t.Errorf("%s: limitFor(%d, %d, %d) = %d, want %d", c.what, c.configured, c.live, c.stacks, got, c.want)
		}
	}
}
