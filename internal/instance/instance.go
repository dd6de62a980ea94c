// Package instance makes one funcd's state its own, so that several funcds
// can share a host and a containerd without touching each other's
// functions:
//
//   - the state directory is private (mode 0700) and locked for the
//     process's life: two funcds on one state directory refuse to run;
//   - an identity, random and kept in the state directory, labels every
//     container the instance creates, and adoption at start claims only
//     containers carrying it;
//   - a claim on the bridge and subnet, in a per-host directory, makes a
//     second funcd on the same bridge or an overlapping subnet refuse to
//     start, naming the first.
//
// Locks are flock(2) locks on open files: the kernel drops them when the
// process ends, however it ends, so a crash leaves nothing that blocks the
// next start.
//
// It imports only the standard library, golang.org/x/sys and
// internal/atomicfile; it knows nothing of functions or containerd.
package instance

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/funcd/funcd/internal/atomicfile"
)

// ErrInUse is wrapped by the errors that refuse a start because another
// live funcd holds the state directory, the bridge or the subnet.
var ErrInUse = errors.New("in use by another funcd")

// Files in the state directory.
const (
	lockFile = "lock"        // flock held for the process's life; holds its PID
	idFile   = "instance-id" // the instance's identity
)

// PrivateDir creates dir with mode 0700, or narrows an existing one to
// 0700. When it had to narrow it, it returns the mode it found, so the
// caller can say so; otherwise it returns 0.
func PrivateDir(dir string) (was fs.FileMode, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("create %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("check %s: not a directory", dir)
	}
	if fi.Mode().Perm() == 0o700 {
		return 0, nil
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return 0, fmt.Errorf("narrow %s to mode 0700: %w", dir, err)
	}
	return fi.Mode().Perm(), nil
}

// Lock is a state directory held by this process.
type Lock struct {
	f *os.File
}

// LockStateDir takes the lock of state directory dir, held until Close or
// the process's end. When another process holds it, the error (wrapping
// ErrInUse) names its PID.
func LockStateDir(dir string) (*Lock, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state dir: %w", err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state dir %s: %w", dir, err)
	}
	if !ok {
		b, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("state dir %s %w: pid %s; stop it, or give this one another --state-dir", dir, ErrInUse, pidText(b))
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state dir %s: %w", dir, err)
	}
	return &Lock{f: f}, nil
}

// Close releases the lock. The file stays, emptied: removing it would let
// a process that opened it just before lock a file no longer named.
func (l *Lock) Close() error {
	_ = l.f.Truncate(0)
	return l.f.Close()
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// pidText is the PID a lock file holds, or "unknown" while its holder has
// not written it yet.
func pidText(b []byte) string {
	if _, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// idBytes is the size of an identity: 128 random bits, as 32 hex digits.
const idBytes = 16

// ID returns the identity of the instance whose state directory is dir,
// creating it on first start. Call it with the state directory locked.
func ID(dir string) (string, error) {
	path := filepath.Join(dir, idFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if !validID(id) {
			return "", fmt.Errorf("instance id in %s: %q is not %d hex digits; restore the file from a backup (containers labelled with the old id are left alone)", path, id, 2*idBytes)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read instance id: %w", err)
	}
	raw := make([]byte, idBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("create instance id: %w", err)
	}
	id := hex.EncodeToString(raw)
	if err := atomicfile.Write(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("create instance id: %w", err)
	}
	return id, nil
}

func validID(id string) bool {
	if len(id) != 2*idBytes {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}
