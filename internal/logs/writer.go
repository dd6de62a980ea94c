package logs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// MaxLineBytes is the longest line stored as one; longer output is split.
const MaxLineBytes = 16 << 10

// Writer appends timestamped lines to one replica's log file, rotating it
// at a size cap. It is safe for concurrent use by the stdout and stderr
// copiers.
//
// A line that cannot be written (the disk is full) is dropped and counted,
// never holding up the function; every later line tries again, and the
// first one stored after a gap is preceded by a line on stderr saying how
// many were lost and why (LostNote). Bytes of a line written only in part
// are cut off again, so the file holds whole lines.
type Writer struct {
	path    string
	maxSize int64
	now     func() time.Time
	open    func(path string) (file, error)

	mu       sync.Mutex
	f        file // nil while the file could not be opened
	size     int64
	torn     bool      // the file ends in part of a line that could not be cut off
	lost     int64     // lines dropped since the last one stored
	lostWhy  error     // the last reason
	openErr  error     // why the file could not be opened
	reopenAt time.Time // no new attempt to open the file before this
}

// file is what a Writer needs of its open file.
type file interface {
	io.WriteCloser
	Stat() (fs.FileInfo, error)
	Truncate(size int64) error
}

// reopenEvery spaces out attempts to open a file that could not be.
const reopenEvery = time.Second

// LostNote is the text of the line that says how many lines were dropped,
// and why, before the line that follows it.
const LostNote = "[funcd] %d line(s) of output lost: %v"

// NewWriter opens (appending) or creates the log file at path. maxSize is
// the cap of the current file in bytes; <= 0 means no cap.
func NewWriter(path string, maxSize int64) (*Writer, error) {
	w := &Writer{path: path, maxSize: maxSize, now: time.Now, open: openFile}
	if err := w.openLocked(); err != nil {
		return nil, err
	}
	return w, nil
}

func openFile(path string) (file, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

// openLocked opens the file and learns its size. w.mu is held (or w is
// not shared yet).
func (w *Writer) openLocked() error {
	f, err := w.open(w.path)
	if err == nil {
		var fi fs.FileInfo
		if fi, err = f.Stat(); err == nil {
			w.f, w.size = f, fi.Size()
			return nil
		}
		f.Close()
	}
	w.openErr = fmt.Errorf("open log: %w", err)
	w.reopenAt = w.now().Add(reopenEvery)
	return w.openErr
}

// WriteLine stores text (without newline) as one line of stream, stamped
// with the current time. When it cannot, the line is dropped and counted,
// and the error says why.
func (w *Writer) WriteLine(stream string, text []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	b := format(now, stream, text)
	if w.lost > 0 {
		b = append(format(now, Stderr, fmt.Appendf(nil, LostNote, w.lost, rootCause(w.lostWhy))), b...)
	}
	if err := w.append(now, b); err != nil {
		w.lost++
		w.lostWhy = err
		return err
	}
	w.lost, w.lostWhy = 0, nil
	return nil
}

// append writes b to the file, rotating it first when b would take it
// past the cap, and opening it first when it is not open.
func (w *Writer) append(now time.Time, b []byte) error {
	if w.f != nil && w.maxSize > 0 && w.size > 0 && w.size+int64(len(b)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	if w.f == nil {
		if now.Before(w.reopenAt) {
			return w.openErr
		}
		if err := w.openLocked(); err != nil {
			return err
		}
	}
	if w.torn {
		b = append([]byte{'\n'}, b...)
	}
	n, err := w.f.Write(b)
	if err == nil {
		w.size += int64(n)
		w.torn = false
		return nil
	}
	if n > 0 {
		// Cut off the part written; that frees space even on a full disk.
		if terr := w.f.Truncate(w.size); terr != nil {
			w.size += int64(n)
			w.torn = true
		}
	}
	return fmt.Errorf("write log: %w", err)
}

// rotate moves the current file to path.1 and starts a new one. When the
// file cannot be moved or opened, it is left closed: the next line opens
// it again (appending) and tries once more.
func (w *Writer) rotate() error {
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	if err := os.Rename(w.path, w.path+rotatedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rotate log: %w", err)
	}
	w.torn = false // the torn line went with the old file
	return w.openLocked()
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// rootCause is the innermost error: "no space left on device" rather than
// the operation and path around it.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// Copy stores everything read from r as lines of stream until r ends. A
// line longer than MaxLineBytes is split; a last line without a newline is
// stored as it is. Lines that cannot be written are dropped (see Writer);
// the error is only about reading r.
func (w *Writer) Copy(stream string, r io.Reader) error {
	br := bufio.NewReaderSize(r, MaxLineBytes)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			text := line
			if text[len(text)-1] == '\n' {
				text = text[:len(text)-1]
				if len(text) > 0 && text[len(text)-1] == '\r' {
					text = text[:len(text)-1]
				}
			}
			_ = w.WriteLine(stream, text) // counted, and noted in the file once it takes lines again
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			return fmt.Errorf("read %s: %w", stream, err)
		}
	}
}
