package basicauth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Store holds the admin credentials and follows their files: when either
// file changes (the admin wrote a new password), the next check reads
// them again, so Basic auth accepts the new password without a restart.
// The files are looked at (stat) at most once a second.
type Store struct {
	dir string
	log *slog.Logger
	now func() time.Time // the clock; tests move it

	mu      sync.Mutex
	cur     Credentials
	stamps  [2]stamp  // of UserFile and PasswordFile when cur was read
	checked time.Time // when the files were last looked at
}

// stamp tells a file's versions apart: an atomic write makes a new inode,
// an edit in place changes the time or size.
type stamp struct {
	ino   uint64
	size  int64
	mtime time.Time
}

// recheck is how often, at most, the files are looked at.
const recheck = time.Second

// NewStore creates the credentials in dir as Ensure does and returns a
// store that follows them. log (nil: none) hears of changes.
func NewStore(dir string, log *slog.Logger) (*Store, error) {
	return newStore(dir, log, time.Now)
}

func newStore(dir string, log *slog.Logger, now func() time.Time) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := Ensure(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, log: log, now: now, cur: c, checked: now()}
	s.stamps = s.stampFiles()
	return s, nil
}

// Current returns the credentials in the files now (as of at most a
// second ago). When the files changed but cannot be read, or one is
// empty, the last good credentials stay, and the problem is logged.
func (s *Store) Current() Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.checked) < recheck && !now.Before(s.checked) {
		return s.cur
	}
	s.checked = now
	stamps := s.stampFiles()
	if stamps == s.stamps {
		return s.cur
	}
	c, err := s.read()
	if err != nil {
		s.log.Warn("admin credentials changed but cannot be read; the previous ones stay in force", "err", err)
		s.stamps = stamps // said once per change
		return s.cur
	}
	if c != s.cur {
		s.log.Info("admin credentials changed; sessions made with the old ones end", "user", c.User)
	}
	s.cur, s.stamps = c, stamps
	return s.cur
}

// Fingerprint identifies c without revealing it: sessions remember the
// fingerprint of the credentials they were made with.
func (c Credentials) Fingerprint() [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "funcd-credentials\x00%d\x00%s\x00%s", len(c.User), c.User, c.Password)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Require wraps next so that it runs only for requests carrying the
// current credentials, as the package's Require does for fixed ones.
func (s *Store) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Valid(s.Current(), r) {
			Deny(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Store) read() (Credentials, error) {
	var c Credentials
	for _, f := range []struct {
		name string
		v    *string
	}{{UserFile, &c.User}, {PasswordFile, &c.Password}} {
		data, err := os.ReadFile(filepath.Join(s.dir, f.name))
		if err != nil {
			return Credentials{}, fmt.Errorf("credentials: %w", err)
		}
		if *f.v = strings.TrimSpace(string(data)); *f.v == "" {
			return Credentials{}, errors.New("credentials: " + f.name + " is empty")
		}
	}
	return c, nil
}

func (s *Store) stampFiles() [2]stamp {
	var out [2]stamp
	for i, name := range []string{UserFile, PasswordFile} {
		fi, err := os.Stat(filepath.Join(s.dir, name))
		if err != nil {
			continue // a zero stamp: gone, which is a change too
		}
		out[i] = stamp{ino: inode(fi), size: fi.Size(), mtime: fi.ModTime()}
	}
	return out
}
