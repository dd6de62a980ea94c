package instance

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestPrivateDir(t *testing.T) {
	tests := []struct {
		name    string
		mode    fs.FileMode // of the existing dir; 0 for none
		wantWas fs.FileMode
	}{
		{"new", 0, 0},
		{"already private", 0o700, 0},
		{"world-readable", 0o755, 0o755},
		{"group-writable", 0o770, 0o770},
		{"open to all", 0o777, 0o777},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if tt.mode != 0 {
				if err := os.Mkdir(dir, tt.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tt.mode); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			was, err := PrivateDir(dir)
			if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("after PrivateDir the dir is %v, %v; want mode 0700", fi.Mode(), err)
			}
			if err != nil || was != tt.wantWas {
				t.Errorf("PrivateDir(%s dir) = %v, %v; want %v, nil (the mode it narrowed)", tt.name, was, err, tt.wantWas)
			}
		})
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := PrivateDir(file); err == nil {
		t.Errorf("PrivateDir(a file) = nil error, want one")
	}
}

func TestLockStateDir(t *testing.T) {
	dir := t.TempDir()
	l, err := LockStateDir(dir)
	if err != nil {
		t.Fatalf("LockStateDir = %v", err)
	}
	_, err = LockStateDir(dir)
	want := "state dir " + dir + " in use by another funcd: pid " + strconv.Itoa(os.Getpid())
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), want) {
		t.Errorf("second LockStateDir = %v, want ErrInUse saying %q", err, want)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	l2, err := LockStateDir(dir)
	if err != nil {
		t.Fatalf("LockStateDir after Close = %v, want the lock", err)
	}
	l2.Close()
}

func TestID(t *testing.T) {
	dir := t.TempDir()
	id, err := ID(dir)
	if err != nil || !validID(id) {
		t.Fatalf("ID = %q, %v; want 32 hex digits", id, err)
	}
	if again, err := ID(dir); again != id || err != nil {
		t.Errorf("second ID = %q, %v; want %q kept", again, err, id)
	}
	if other, _ := ID(t.TempDir()); other == id {
		t.Errorf("two state dirs got the same ID %q", id)
	}
	fi, err := os.Stat(filepath.Join(dir, idFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("instance-id file = %v, %v; want mode 0600", fi.Mode(), err)
	}
	for _, bad := range []string{"", "xyz", strings.Repeat("A", 32), strings.Repeat("a", 31)} {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, idFile), []byte(bad), 0o600)
		if got, err := ID(d); err == nil {
			t.Errorf("ID with instance-id %q = %q, nil; want an error", bad, got)
		}
	}
}

func claim(id, bridge, subnet string) Claim {
	return Claim{ID: id, StateDir: "/srv/" + id, PID: 4242, Bridge: bridge, Subnet: netip.MustParsePrefix(subnet)}
}

func TestTakeRefusesConflicts(t *testing.T) {
	first := claim("a1", "funcd0", "10.62.0.0/16")
	tests := []struct {
		name string
		c    Claim
		want string // "" when it must be granted
	}{
		{"same bridge", claim("b1", "funcd0", "10.63.0.0/16"), "bridge funcd0 in use by another funcd (pid 4242, state dir /srv/a1, bridge funcd0, subnet 10.62.0.0/16)"},
		{"subnet inside", claim("b1", "funcd1", "10.62.5.0/24"), "subnet 10.62.5.0/24 overlaps subnet 10.62.0.0/16"},
		{"subnet around", claim("b1", "funcd1", "10.0.0.0/8"), "subnet 10.0.0.0/8 overlaps subnet 10.62.0.0/16"},
		{"same subnet", claim("b1", "funcd1", "10.62.0.0/16"), "state dir /srv/a1"},
		{"same identity", claim("a1", "funcd1", "10.63.0.0/16"), "instance a1 in use"},
		{"disjoint", claim("b1", "funcd1", "10.63.0.0/16"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h, err := Take(dir, first)
			if err != nil {
				t.Fatalf("Take(first) = %v", err)
			}
			defer h.Release()
			h2, err := Take(dir, tt.c)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Take(%v) = %v, want it granted", tt.c, err)
				}
				h2.Release()
				return
			}
			if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Take(%v) = %v, want ErrInUse saying %q", tt.c, err, tt.want)
			}
			if got, _ := Live(dir); len(got) != 1 || got[0] != first {
				t.Errorf("after a refusal Live = %v, want only the first claim", got)
			}
		})
	}
}

// TestStaleClaimIsReplaced: a claim whose owner is gone (its file no
// longer locked, as after a crash) blocks nobody and is removed.
func TestStaleClaimIsReplaced(t *testing.T) {
	dir := t.TempDir()
	h, err := Take(dir, claim("a1", "funcd0", "10.62.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	h.f.Close() // what the kernel does when the process dies: the lock goes, the file stays
	if _, err := os.Stat(h.path); err != nil {
		t.Fatalf("claim file after the owner died: %v", err)
	}
	if got, err := Live(dir); len(got) != 0 || err != nil {
		t.Errorf("Live with a dead owner = %v, %v; want none", got, err)
	}
	if _, err := os.Stat(h.path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale claim file: %v, want it removed", err)
	}
	h2, err := Take(dir, claim("a1", "funcd0", "10.62.0.0/16"))
	if err != nil {
		t.Fatalf("Take after the owner died = %v, want it granted", err)
	}
	if got, _ := Live(dir); len(got) != 1 {
		t.Errorf("Live = %v, want the new claim", got)
	}
	if err := h2.Release(); err != nil {
		t.Fatalf("Release = %v", err)
	}
	if got, _ := Live(dir); len(got) != 0 {
		t.Errorf("Live after Release = %v, want none", got)
	}
}

func TestLiveMissingDir(t *testing.T) {
	if got, err := Live(filepath.Join(t.TempDir(), "none")); got != nil || err != nil {
		t.Errorf("Live(missing dir) = %v, %v; want nothing", got, err)
	}
}
