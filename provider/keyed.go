package provider

import (
	"sort"
	"sync"

	"github.com/funcd/funcd/internal/api"
)

// keyedMutex hands out one mutex per function so that a slow deploy of one
// function never blocks work on another.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[key]*refMutex
}

type refMutex struct {
	sync.Mutex
	refs int
}

// lock locks k and returns the unlock function.
func (m *keyedMutex) lock(k key) func() {
	m.mu.Lock()
	if m.locks == nil {
		m.locks = map[key]*refMutex{}
	}
	l := m.locks[k]
	if l == nil {
		l = &refMutex{}
		m.locks[k] = l
	}
	l.refs++
	m.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		m.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(m.locks, k)
		}
		m.mu.Unlock()
	}
}

func sortStatuses(s []api.FunctionStatus) {
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
}
