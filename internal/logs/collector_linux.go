package logs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Collector records the output of every task in one set of goroutines of
// the process that owns it (funcd), instead of a log driver process per
// task. Each task's stdout and stderr are FIFOs next to its log file
// (ID.stdout and ID.stderr beside ID.log); the task's shim opens their
// write ends and also a read end of its own, which it never reads. So
// while no collector reads (funcd stopped or restarting) nothing breaks
// and nothing is lost: output waits in the pipe (PipeBytes per stream),
// and once that is full the function's writes wait too, until a
// collector reads again. The FIFOs live as long as the replica's log
// file (Remove).
type Collector struct {
	maxSize int64
	log     *slog.Logger

	mu     sync.Mutex
	closed bool
	active map[string]*capture // by log file path
	wg     sync.WaitGroup
}

// PipeBytes is what each FIFO holds while nobody reads it. Pages are only
// taken as output waits, so an idle replica costs nothing for it.
const PipeBytes = 1 << 20

// NewCollector returns a collector whose log files rotate at maxSize
// bytes (<= 0: never). log receives one line per problem.
func NewCollector(maxSize int64, log *slog.Logger) *Collector {
	if log == nil {
		log = slog.Default()
	}
	return &Collector{maxSize: maxSize, log: log, active: map[string]*capture{}}
}

// capture reads the two FIFOs of one task into its log file.
type capture struct {
	logPath string
	stdout  *os.File
	stderr  *os.File
	holders []*os.File // write ends held until the shim has its own
	done    chan struct{}
}

// Pipes are the FIFOs a new task gets as its stdout and stderr.
type Pipes struct {
	Stdout, Stderr string
	c              *Collector
	cp             *capture
}

// Attach makes fresh FIFOs for the task logging to logPath and starts
// reading them. Until Started or Abort is called the collector also holds
// write ends, so that reads do not end before the shim has opened its
// own. A capture still reading an earlier task of the same log file is
// given a moment to finish, then stopped.
func (c *Collector) Attach(logPath string) (*Pipes, error) {
	c.stopOld(logPath)
	out, errp := logPath+stdoutFIFO, logPath+stderrFIFO
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return nil, fmt.Errorf("log pipes for %s: %w", logPath, err)
	}
	cp := &capture{logPath: logPath, done: make(chan struct{})}
	fail := func(err error) (*Pipes, error) {
		cp.closeAll()
		return nil, fmt.Errorf("log pipes for %s: %w", logPath, err)
	}
	for _, p := range []string{out, errp} {
		if err := makeFIFO(p); err != nil {
			return fail(err)
		}
	}
	var err error
	if cp.stdout, cp.holders, err = openFIFO(out, cp.holders, true); err != nil {
		return fail(err)
	}
	if cp.stderr, cp.holders, err = openFIFO(errp, cp.holders, true); err != nil {
		return fail(err)
	}
	if err := c.start(cp); err != nil {
		return fail(err)
	}
	return &Pipes{Stdout: out, Stderr: errp, c: c, cp: cp}, nil
}

// makeFIFO makes a FIFO at path, or keeps the one there: an earlier task
// of the same replica used it, and nobody holds it any more (so it is
// empty). Reusing it keeps the mknod, milliseconds on a busy ext4, off
// the cold path of a woken replica.
func makeFIFO(path string) error {
	fi, err := os.Lstat(path)
	if err == nil && fi.Mode()&fs.ModeNamedPipe != 0 {
		return nil
	}
	if err == nil {
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	return syscall.Mkfifo(path, 0o600)
}

// Started tells the collector the task was created: its shim holds the
// write ends now, so the collector's are closed and the capture ends when
// the shim's do (the task is gone).
func (p *Pipes) Started() {
	for _, h := range p.cp.holders {
		_ = h.Close()
	}
	p.cp.holders = nil
}

// Abort stops the capture of a task that was not created.
func (p *Pipes) Abort() {
	p.Started()
	p.cp.closeAll()
	<-p.cp.done
}

// openFIFO opens path's read end without blocking and, when hold is set,
// a write end kept in holders.
func openFIFO(path string, holders []*os.File, hold bool) (*os.File, []*os.File, error) {
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, holders, err
	}
	setPipeSize(r)
	if hold {
		w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			_ = r.Close()
			return nil, holders, err
		}
		holders = append(holders, w)
	}
	return r, holders, nil
}

// fSetPipeSz is Linux's F_SETPIPE_SZ fcntl.
const fSetPipeSz = 1031

// setPipeSize raises f's pipe buffer to PipeBytes, best effort: a smaller
// buffer only means the function waits sooner while nobody reads.
func setPipeSize(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, PipeBytes)
	})
}

// Adopt starts reading the FIFOs of tasks created before this collector
// (by an earlier funcd) under dir, the logs directory. A FIFO whose task
// is gone ends at once. Log files already being captured are left alone.
func (c *Collector) Adopt(dir string) error {
	dir, err := filepath.Abs(dir) // the keys of active are absolute, as NewTask's
	if err != nil {
		return fmt.Errorf("adopt log pipes under %s: %w", dir, err)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		logPath, ok := strings.CutSuffix(path, stdoutFIFO)
		if !ok || d.Type()&fs.ModeNamedPipe == 0 {
			return nil
		}
		c.mu.Lock()
		_, busy := c.active[logPath]
		c.mu.Unlock()
		if busy {
			return nil
		}
		cp := &capture{logPath: logPath, done: make(chan struct{})}
		if cp.stdout, _, err = openFIFO(path, nil, false); err != nil {
			c.log.Warn("cannot adopt a task's output", "pipe", path, "err", err)
			return nil
		}
		if cp.stderr, _, err = openFIFO(logPath+stderrFIFO, nil, false); err != nil {
			_ = cp.stdout.Close()
			c.log.Warn("cannot adopt a task's output", "pipe", logPath+stderrFIFO, "err", err)
			return nil
		}
		if err := c.start(cp); err != nil {
			cp.closeAll()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("adopt log pipes under %s: %w", dir, err)
	}
	return nil
}

// start registers cp and starts copying its streams.
func (c *Collector) start(cp *capture) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("log collector is closed")
	}
	c.active[cp.logPath] = cp
	c.wg.Add(1)
	go c.run(cp)
	return nil
}

// run copies cp's streams into its log file until both end (the task is
// gone). The FIFOs stay for the replica's next task; logs.Remove takes
// them with the replica's files.
func (c *Collector) run(cp *capture) {
	defer c.wg.Done()
	defer close(cp.done)
	w, err := NewWriter(cp.logPath, c.maxSize)
	if err != nil {
		c.log.Warn("cannot open a task's log file; discarding its output", "file", cp.logPath, "err", err)
	}
	var wg sync.WaitGroup
	for _, s := range []struct {
		name string
		f    *os.File
	}{{Stdout, cp.stdout}, {Stderr, cp.stderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.copy(w, s.name, s.f)
		}()
	}
	wg.Wait()
	cp.closeAll()
	if w != nil {
		_ = w.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active[cp.logPath] == cp {
		delete(c.active, cp.logPath)
	}
}

// Capturing reports how many tasks' output the collector reads.
func (c *Collector) Capturing() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.active)
}

// copy stores f's lines as stream until f ends or is closed.
func (c *Collector) copy(w *Writer, stream string, f *os.File) {
	var r io.Reader = f
	if w == nil {
		_, _ = io.Copy(io.Discard, r)
		return
	}
	if err := w.Copy(stream, r); err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.log.Warn("reading a task's output", "file", w.path, "err", err)
		_, _ = io.Copy(io.Discard, r)
	}
}

// closeAll closes every file of cp; blocked reads return.
func (cp *capture) closeAll() {
	for _, f := range append(cp.holders, cp.stdout, cp.stderr) {
		if f != nil {
			_ = f.Close()
		}
	}
}

// oldGrace is how long Attach lets an earlier task's capture of the same
// log file finish (its task was just deleted, so its pipes end at once).
const oldGrace = 2 * time.Second

func (c *Collector) stopOld(logPath string) {
	c.mu.Lock()
	old := c.active[logPath]
	delete(c.active, logPath)
	c.mu.Unlock()
	if old == nil {
		return
	}
	select {
	case <-old.done:
	case <-time.After(oldGrace):
		old.stopAfterDrain()
		<-old.done
	}
}

// drainWait is how long Close keeps reading what is already in the pipes.
const drainWait = 100 * time.Millisecond

// stopAfterDrain lets cp read what is in its pipes now, then stops it.
func (cp *capture) stopAfterDrain() {
	at := time.Now().Add(drainWait)
	for _, f := range []*os.File{cp.stdout, cp.stderr} {
		if f != nil {
			_ = f.SetReadDeadline(at)
		}
	}
}

// Close stops reading, after storing what the pipes hold now, and waits
// for every capture to end. The FIFOs stay: running tasks keep writing
// into them, and the next collector's Adopt reads on.
func (c *Collector) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for _, cp := range c.active {
		cp.stopAfterDrain()
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}
