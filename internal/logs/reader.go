package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Query selects lines.
type Query struct {
	Instance string    // only this replica, when set
	Tail     int       // only the last Tail lines of the history; <= 0 for all
	Since    time.Time // only lines at or after this instant, when set
	Follow   bool      // after the history, keep sending new lines until ctx ends
}

// PollInterval is how often Read looks for new lines when following.
const PollInterval = 200 * time.Millisecond

// Read sends the lines stored in dir (a FunctionDir) that match q to emit,
// merged across replicas in time order. With q.Follow it then keeps
// sending lines as they are written, including those of replicas started
// later, until ctx ends, and returns nil. An error from emit ends Read
// with that error.
func Read(ctx context.Context, dir string, q Query, emit func(Line) error) error {
	r := &reader{dir: dir, q: q, files: map[string]*follower{}}
	defer r.close()
	history, err := r.history()
	if err != nil {
		return err
	}
	if q.Tail > 0 && len(history) > q.Tail {
		history = history[len(history)-q.Tail:]
	}
	for _, l := range history {
		if err := emit(l); err != nil {
			return err
		}
	}
	if !q.Follow {
		return nil
	}
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		lines, err := r.poll()
		if err != nil {
			return err
		}
		for _, l := range lines {
			if err := emit(l); err != nil {
				return err
			}
		}
	}
}

// reader keeps the open log files of one function while following.
type reader struct {
	dir   string
	q     Query
	files map[string]*follower // by instance
}

// follower reads one replica's current log file from where it left off.
type follower struct {
	instance string
	f        *os.File
	partial  []byte // the start of a line not yet complete
}

func (r *reader) close() {
	for _, fl := range r.files {
		fl.f.Close()
	}
}

// instances lists the replicas that have a log file in dir.
func (r *reader) instances() ([]string, error) {
	entries, err := os.ReadDir(r.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), rotatedSuffix)
		id, ok := strings.CutSuffix(name, ".log")
		if !ok || id == "" || seen[id] || (r.q.Instance != "" && id != r.q.Instance) {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, nil
}

// history reads every replica's rotated and current file, keeping the
// current ones open for following.
func (r *reader) history() ([]Line, error) {
	ids, err := r.instances()
	if err != nil {
		return nil, err
	}
	var all []Line
	for _, id := range ids {
		path := filepath.Join(r.dir, id+".log")
		// Open the current file first: if it is rotated meanwhile, its
		// lines are read twice rather than lost.
		f, err := os.Open(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read logs: %w", err)
		}
		if old, err := os.ReadFile(path + rotatedSuffix); err == nil {
			all = append(all, r.lines(id, old)...)
		}
		if f == nil {
			continue
		}
		fl := &follower{instance: id, f: f}
		r.files[id] = fl
		lines, err := r.readNew(fl)
		if err != nil {
			return nil, err
		}
		all = append(all, lines...)
	}
	sortLines(all)
	return all, nil
}

// poll returns the lines written since the last look, in time order.
func (r *reader) poll() ([]Line, error) {
	ids, err := r.instances()
	if err != nil {
		return nil, err
	}
	var all []Line
	for _, id := range ids {
		fl := r.files[id]
		path := filepath.Join(r.dir, id+".log")
		if fl == nil {
			f, err := os.Open(path)
			if err != nil {
				continue // only the rotated file left, or not created yet
			}
			fl = &follower{instance: id, f: f}
			r.files[id] = fl
		}
		lines, err := r.readNew(fl)
		if err != nil {
			return nil, err
		}
		all = append(all, lines...)
		// Rotated: the open file is now path.1 and fully read; go on
		// with the new one from its start.
		if cur, err := os.Stat(path); err == nil {
			if fi, err := fl.f.Stat(); err == nil && !os.SameFile(cur, fi) {
				fl.f.Close()
				delete(r.files, id)
				if f, err := os.Open(path); err == nil {
					fl = &follower{instance: id, f: f}
					r.files[id] = fl
					lines, err := r.readNew(fl)
					if err != nil {
						return nil, err
					}
					all = append(all, lines...)
				}
			}
		}
	}
	sortLines(all)
	return all, nil
}

// readNew reads fl's file to its current end and returns the complete
// lines that match the query.
func (r *reader) readNew(fl *follower) ([]Line, error) {
	data, err := io.ReadAll(fl.f)
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	data = append(fl.partial, data...)
	end := bytes.LastIndexByte(data, '\n') + 1
	fl.partial = append([]byte(nil), data[end:]...)
	return r.lines(fl.instance, data[:end]), nil
}

// lines parses complete lines, dropping those that do not parse or do not
// match the query.
func (r *reader) lines(instance string, data []byte) []Line {
	var out []Line
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		data = rest
		l, err := parse(instance, line)
		if err != nil || l.Time.Before(r.q.Since) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// sortLines orders lines by time, keeping each file's order for equal
// times.
func sortLines(ls []Line) {
	slices.SortStableFunc(ls, func(a, b Line) int { return a.Time.Compare(b.Time) })
}
