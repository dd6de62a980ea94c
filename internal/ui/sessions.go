package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/funcd/funcd/internal/basicauth"
)

// Cookie and header names.
const (
	CookieName = "funcd_session"
	CSRFHeader = "X-Funcd-CSRF"
)

// Session limits.
const (
	IdleTimeout = 12 * time.Hour     // a session unused this long ends
	MaxAge      = 7 * 24 * time.Hour // a session this old ends however used
	MaxSessions = 1000               // beyond this, the oldest ends
)

// tokenBytes is the size of a session token and a CSRF token.
const tokenBytes = 32

// Credentials gives the admin credentials in force now (a
// basicauth.Store).
type Credentials interface {
	Current() basicauth.Credentials
}

// Sessions are the web UI's logins, kept in memory: a restart logs
// everyone out. A session is found by its cookie's token (kept hashed, so
// a lookup's timing says nothing of the tokens) and carries the CSRF token
// its page sends back on every request. It ends after IdleTimeout unused,
// MaxAge after login, at logout, and when the admin credentials change.
type Sessions struct {
	creds Credentials
	now   func() time.Time

	mu   sync.Mutex
	byID map[[32]byte]*session
}

type session struct {
	csrf        string
	user        string
	fingerprint [32]byte // of the credentials logged in with
	created     time.Time
	seen        time.Time
}

// NewSessions returns an empty set of sessions checked against creds.
func NewSessions(creds Credentials) *Sessions {
	return newSessions(creds, time.Now)
}

func newSessions(creds Credentials, now func() time.Time) *Sessions {
	return &Sessions{creds: creds, now: now, byID: map[[32]byte]*session{}}
}

// create starts a session for user and returns its cookie token.
func (s *Sessions) create(user string, fingerprint [32]byte) (token string, err error) {
	token, err = newToken()
	if err != nil {
		return "", err
	}
	csrf, err := newToken()
	if err != nil {
		return "", err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= MaxSessions {
		s.dropExpired(now)
	}
	for len(s.byID) >= MaxSessions {
		s.dropOldest()
	}
	s.byID[sha256.Sum256([]byte(token))] = &session{csrf: csrf, user: user, fingerprint: fingerprint, created: now, seen: now}
	return token, nil
}

// lookup returns the live session of r's cookie, marking it used, or nil.
func (s *Sessions) lookup(r *http.Request) *session {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	token, ok := parseToken(c.Value)
	if !ok {
		return nil
	}
	fp := s.creds.Current().Fingerprint()
	now := s.now()
	id := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byID[id]
	if ss == nil {
		return nil
	}
	if !s.live(ss, now) || ss.fingerprint != fp {
		delete(s.byID, id)
		return nil
	}
	ss.seen = now
	cp := *ss
	return &cp
}

// end ends the session of r's cookie, if any.
func (s *Sessions) end(r *http.Request) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return
	}
	if token, ok := parseToken(c.Value); ok {
		s.mu.Lock()
		delete(s.byID, sha256.Sum256([]byte(token)))
		s.mu.Unlock()
	}
}

// Len is the number of sessions held, live or not yet found expired.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

func (s *Sessions) live(ss *session, now time.Time) bool {
	return now.Sub(ss.seen) < IdleTimeout && now.Sub(ss.created) < MaxAge
}

func (s *Sessions) dropExpired(now time.Time) {
	for id, ss := range s.byID {
		if !s.live(ss, now) {
			delete(s.byID, id)
		}
	}
}

func (s *Sessions) dropOldest() {
	var oldest [32]byte
	var at time.Time
	for id, ss := range s.byID {
		if at.IsZero() || ss.created.Before(at) {
			oldest, at = id, ss.created
		}
	}
	delete(s.byID, oldest)
}

// Require wraps next so that it runs for requests carrying either the
// admin's HTTP Basic credentials (as faas-cli sends them) or a live
// session cookie with its CSRF token in the X-Funcd-CSRF header. A cookie
// without the right header is 403: another site's page can make a browser
// send the cookie, never the header. The header is wanted on every
// request, GET included.
func (s *Sessions) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			if !basicauth.Valid(s.creds.Current(), r) {
				basicauth.Deny(w)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if _, err := r.Cookie(CookieName); err != nil {
			if r.Header.Get(CSRFHeader) != "" {
				// The UI's page: no WWW-Authenticate, which would make
				// the browser prompt over it.
				http.Error(w, "not logged in: log in again at /ui/login", http.StatusUnauthorized)
				return
			}
			basicauth.Deny(w)
			return
		}
		ss := s.lookup(r)
		if ss == nil {
			http.Error(w, "session expired or unknown: log in again at /ui/login", http.StatusUnauthorized)
			return
		}
		if !ss.csrfMatches(r.Header.Get(CSRFHeader)) {
			http.Error(w, "missing or wrong "+CSRFHeader+" header", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (ss *session) csrfMatches(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(ss.csrf)) == 1
}

// newToken returns tokenBytes random bytes, base64url without padding.
func newToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// parseToken checks a cookie's value is a token newToken could have made.
func parseToken(v string) (string, bool) {
	if len(v) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(v)
	if err != nil || len(b) != tokenBytes {
		return "", false
	}
	return v, true
}
