package gateway

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// An image upload is a tar archive (docker-archive or OCI image layout),
// plain or gzip-compressed. Its format is read from its first bytes, not
// from the Content-Type, and the tar stream is handed on as it arrives:
// nothing is buffered beyond a peek.

// errBadArchive marks an upload that is no tar archive; the message says
// what it is instead. It is a 400.
var errBadArchive = errors.New("bad image archive")

// errTooLarge is what reads past the cap return.
var errTooLarge = errors.New("image archive too large")

// tarMagic is where a POSIX, GNU or PAX tar header says "ustar".
const (
	tarMagicOffset = 257
	tarMagic       = "ustar"
	tarHeadLen     = tarMagicOffset + len(tarMagic)
)

// otherFormats are formats an image might come in that funcd does not
// take, named so the answer can say what was sent.
var otherFormats = []struct {
	magic, name string
}{
	{"\x28\xb5\x2f\xfd", "zstd-compressed"},
	{"\xfd7zXZ\x00", "xz-compressed"},
	{"BZh", "bzip2-compressed"},
	{"PK\x03\x04", "a zip file"},
	{"{", "JSON"},
}

// upload is the tar stream of an image upload, with caps on both the
// bytes received and the bytes of tar they decompress to.
type upload struct {
	io.Reader
	body, tar *capReader
}

// tooLarge reports whether either cap was hit.
func (u *upload) tooLarge() bool { return u.body.over || u.tar.over }

// openArchive checks that body starts a tar archive, plain or gzip, and
// returns a reader of the tar stream. At most max bytes of body, and at
// most max bytes of tar, are read; past them reads fail with errTooLarge.
// A body that is no tar archive is an error wrapping errBadArchive.
func openArchive(body io.Reader, max int64) (*upload, error) {
	u := &upload{body: &capReader{r: body, left: max}}
	br := bufio.NewReaderSize(u.body, 64<<10)
	head, err := br.Peek(tarHeadLen)
	if err != nil && !errors.Is(err, io.EOF) && !u.body.over {
		return nil, fmt.Errorf("read image archive: %w", err)
	}
	if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, badArchive(u, "gzip: %v", err)
		}
		u.tar = &capReader{r: zr, left: max}
		inner := bufio.NewReaderSize(u.tar, 64<<10)
		head, err := inner.Peek(tarHeadLen)
		if !isTar(head) {
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, badArchive(u, "gzip: %v", err)
			}
			return nil, badArchive(u, "the gzip stream holds no tar archive: %s", describe(head))
		}
		u.Reader = inner
		return u, nil
	}
	if !isTar(head) {
		return nil, badArchive(u, "the body is neither a tar archive nor gzip-compressed: %s", describe(head))
	}
	u.tar = &capReader{r: br, left: max}
	u.Reader = u.tar
	return u, nil
}

// badArchive is an errBadArchive, or errTooLarge when a cap was hit
// before the format was known.
func badArchive(u *upload, format string, args ...any) error {
	if u.body.over || u.tar != nil && u.tar.over {
		return errTooLarge
	}
	return fmt.Errorf("%w: %s", errBadArchive, fmt.Sprintf(format, args...))
}

func isTar(head []byte) bool {
	return len(head) >= tarHeadLen && string(head[tarMagicOffset:tarHeadLen]) == tarMagic
}

// describe says what the first bytes of something that is no tar look like.
func describe(head []byte) string {
	if len(head) == 0 {
		return "it is empty"
	}
	for _, f := range otherFormats {
		if bytes.HasPrefix(head, []byte(f.magic)) {
			return "it is " + f.name + "; send a tar archive, plain or gzip-compressed (docker save, or an OCI layout as tar)"
		}
	}
	if len(head) < tarHeadLen {
		return fmt.Sprintf("it is only %d bytes long", len(head))
	}
	return fmt.Sprintf("it starts with %q", head[:min(len(head), 16)])
}

// capReader reads at most left bytes from r; a read past them returns
// errTooLarge and sets over, as does an http.MaxBytesReader under it
// tripping first. Unlike an error, over can be asked after the reader was
// handed to code that rewraps errors.
type capReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.over {
		return 0, errTooLarge
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p))-1 > c.left {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if _, ok := err.(*http.MaxBytesError); ok {
		c.over, err = true, errTooLarge
	}
	if int64(n) <= c.left {
		c.left -= int64(n)
		return n, err
	}
	n, c.left, c.over = int(c.left), 0, true
	return n, errTooLarge
}
