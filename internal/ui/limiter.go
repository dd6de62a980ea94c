package ui

import (
	"net/netip"
	"sync"
	"time"
)

// Login rate limit: freeFailures wrong logins from one client are free;
// after them, one try per failureDelay; failures are forgotten
// failureMemory after the last one, and at a success.
const (
	freeFailures  = 5
	failureDelay  = 10 * time.Second
	failureMemory = 15 * time.Minute
	maxClients    = 10000 // addresses remembered; beyond, the rest share one
)

// limiter counts failed logins per client address.
type limiter struct {
	mu      sync.Mutex
	clients map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

func newLimiter() *limiter { return &limiter{clients: map[string]*failures{}} }

// wait returns how long client must wait before its next try; 0 when it
// may try now.
func (l *limiter) wait(client string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.clients[l.key(client)]
	if f == nil {
		return 0
	}
	since := now.Sub(f.last)
	if since >= failureMemory {
		delete(l.clients, l.key(client))
		return 0
	}
	if f.n < freeFailures || since >= failureDelay {
		return 0
	}
	return failureDelay - since
}

func (l *limiter) failed(client string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.clients[client]
	if f == nil {
		if len(l.clients) >= maxClients {
			l.forget(now)
		}
		k := client
		if len(l.clients) >= maxClients {
			k = "" // full of recent failures: the newcomers share one count
		}
		if f = l.clients[k]; f == nil {
			f = &failures{}
			l.clients[k] = f
		}
	}
	f.n++
	f.last = now
}

func (l *limiter) succeeded(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, l.key(client))
}

// key is client's own entry, or the shared one when it has none and the
// table is full.
func (l *limiter) key(client string) string {
	if _, ok := l.clients[client]; ok || len(l.clients) < maxClients {
		return client
	}
	return ""
}

func (l *limiter) forget(now time.Time) {
	for k, f := range l.clients {
		if now.Sub(f.last) >= failureMemory {
			delete(l.clients, k)
		}
	}
}

// clientKey is the address a login came from, as counted: the IP of
// RemoteAddr (no X-Forwarded-For: it is the client's to write), an IPv6
// address by its /64, which one host usually holds whole.
func clientKey(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
