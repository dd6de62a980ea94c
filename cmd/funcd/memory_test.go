package main

import (
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCleanReadOnlyMappings(t *testing.T) {
	const smaps = `00400000-01383000 r-xp 00000000 fe:00 9978043                            /usr/bin/funcd
Rss:                8384 kB
Anonymous:             0 kB
01383000-023fa000 r--p 00f83000 fe:00 9978043                            /usr/bin/funcd
Anonymous:             0 kB
023fa000-0249e000 rw-p 01ffa000 fe:00 9978043                            /usr/bin/funcd
Anonymous:             8 kB
0249e000-024c8000 rw-p 00000000 00:00 0
Anonymous:           168 kB
30000000-30001000 r--s 00000000 fe:00 12                                 /usr/bin/funcd
Anonymous:             0 kB
31000000-31002000 r--p 00000000 fe:00 12                                 /usr/bin/funcd
Anonymous:             4 kB
40000000-40001000 r--p 00000000 fe:00 13                                 /usr/bin/funcd2
Anonymous:             0 kB
50000000-50002000 r-xp 00000000 fe:00 14                                 /opt/my funcd (deleted)
Anonymous:             0 kB
7ffd1000-7ffd3000 r-xp 00000000 00:00 0                                  [vdso]
Anonymous:             0 kB
`
	got := cleanReadOnlyMappings(smaps, "/usr/bin/funcd")
	want := []mapping{{0x400000, 0x1383000}, {0x1383000, 0x23fa000}}
	if !slices.Equal(got, want) {
		t.Errorf("cleanReadOnlyMappings(/usr/bin/funcd) = %x, want %x (not the writable, shared, written or other files' mappings)", got, want)
	}
	got = cleanReadOnlyMappings(smaps, "/opt/my funcd (deleted)")
	if want := []mapping{{0x50000000, 0x50002000}}; !slices.Equal(got, want) {
		t.Errorf("cleanReadOnlyMappings of a path with a space = %x, want %x", got, want)
	}
}

// TestReleaseCode drops this test binary's code pages and checks that
// fewer are mapped afterwards, and that the code still runs.
func TestReleaseCode(t *testing.T) {
	before := exeRss(t)
	if before == 0 {
		t.Fatal("no resident pages of the test binary's read-only mappings")
	}
	releaseCode(slog.New(slog.NewTextHandler(io.Discard, nil)))
	after := exeRss(t)
	t.Logf("resident: %d kB before, %d kB after", before, after)
	if after >= before {
		t.Errorf("read-only mappings of the binary: %d kB resident before releaseCode, %d kB after, want fewer", before, after)
	}
	if got := strconv.Itoa(42); got != "42" { // code mapped back in
		t.Errorf("strconv.Itoa(42) = %q after releaseCode", got)
	}
}

// exeRss is the Rss in kB of the read-only mappings of this process's
// binary, from /proc/self/smaps.
func exeRss(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	total, in := 0, false
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = len(f) >= 6 && strings.HasSuffix(strings.TrimSpace(line), exe) && !strings.Contains(f[1], "w")
			continue
		}
		if in && len(f) == 3 && f[0] == "Rss:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			total += n
		}
	}
	return total
}

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
