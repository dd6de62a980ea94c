package logs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// MaxLineBytes is the longest line stored as one; longer output is split.
const MaxLineBytes = 16 << 10

// Writer appends timestamped lines to one replica's log file, rotating it
// at a size cap. It is safe for concurrent use by the stdout and stderr
// copiers.
type Writer struct {
	path    string
	maxSize int64
	now     func() time.Time

	mu   sync.Mutex
	f    *os.File
	size int64
}

// NewWriter opens (appending) or creates the log file at path. maxSize is
// the cap of the current file in bytes; <= 0 means no cap.
func NewWriter(path string, maxSize int64) (*Writer, error) {
	w := &Writer{path: path, maxSize: maxSize, now: time.Now}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// WriteLine stores text (without newline) as one line of stream, stamped
// with the current time.
func (w *Writer) WriteLine(stream string, text []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := format(w.now(), stream, text)
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(b)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	return nil
}

// rotate moves the current file to path.1 and starts a new one.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	if err := os.Rename(w.path, w.path+rotatedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rotate log: %w", err)
	}
	return w.open()
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// Copy stores everything read from r as lines of stream until r ends. A
// line longer than MaxLineBytes is split; a last line without a newline is
// stored as it is.
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
			if werr := w.WriteLine(stream, text); werr != nil {
				return werr
			}
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
