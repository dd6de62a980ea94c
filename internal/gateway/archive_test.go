package gateway

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestCapReader(t *testing.T) {
	for _, tt := range []struct {
		data     string
		max      int64
		want     string
		wantOver bool
	}{
		{"", 0, "", false},
		{"abc", 3, "abc", false},
		{"abc", 4, "abc", false},
		{"abcd", 3, "abc", true},
		{"abcd", 0, "", true},
	} {
		c := &capReader{r: iotest.OneByteReader(bytes.NewReader([]byte(tt.data))), left: tt.max}
		got, err := io.ReadAll(c)
		if string(got) != tt.want || c.over != tt.wantOver || tt.wantOver != errors.Is(err, errTooLarge) {
			t.Errorf("capReader(%q, %d) = %q, over %v, %v; want %q, over %v", tt.data, tt.max, got, c.over, err, tt.want, tt.wantOver)
		}
		if _, err := c.Read(make([]byte, 1)); tt.wantOver && !errors.Is(err, errTooLarge) {
			t.Errorf("capReader(%q, %d) read after the cap = %v, want errTooLarge again", tt.data, tt.max, err)
		}
	}
}

// FuzzOpenArchive feeds outside bytes to the upload sniffer, plain and
// gzip-compressed. It must never panic; a body it accepts as tar must come
// out byte for byte; the gzip path must give the plain path's verdict on
// the same bytes; anything refused is errBadArchive; and no more than the
// cap is ever handed on.
func FuzzOpenArchive(f *testing.F) {
	f.Add(tarOf(f, 1), uint16(0))
	f.Add(tarOf(f, 700), uint16(600))
	f.Add(gzipOf(f, tarOf(f, 10)), uint16(0))
	f.Add([]byte("garbage"), uint16(3))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0}, uint16(0))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, small uint16) {
		plain, plainErr := readArchive(data, int64(len(data))+1<<20)
		if plainErr != nil && !errors.Is(plainErr, errBadArchive) {
			t.Fatalf("openArchive(%q) = %v, want nil or errBadArchive", data, plainErr)
		}
		isGzip := bytes.HasPrefix(data, []byte{0x1f, 0x8b})
		if plainErr == nil && !isGzip && !bytes.Equal(plain, data) {
			t.Fatalf("openArchive(%q) handed on %q, want the body unchanged", data, plain)
		}
		if plainErr == nil && (isGzip && !isTar(plain) || !isGzip && !isTar(data)) {
			t.Fatalf("openArchive(%q) accepted a stream without the tar magic", data)
		}

		if !isGzip { // the same bytes compressed: the same verdict
			zipped, err := readArchive(gzipOf(t, data), int64(len(data))+1<<20)
			if (err == nil) != (plainErr == nil) || err == nil && !bytes.Equal(zipped, data) {
				t.Fatalf("openArchive(gzip(%q)) = %q, %v; plain = %v", data, zipped, err, plainErr)
			}
		}

		// A small cap: never more than it handed on, and errTooLarge
		// once the body is longer.
		u, err := openArchive(bytes.NewReader(data), int64(small))
		if err != nil {
			if !errors.Is(err, errBadArchive) && !errors.Is(err, errTooLarge) {
				t.Fatalf("openArchive(%q, cap %d) = %v", data, small, err)
			}
			return
		}
		got, err := io.ReadAll(u)
		if int64(len(got)) > int64(small) {
			t.Fatalf("openArchive(%q, cap %d) handed on %d bytes", data, small, len(got))
		}
		if !isGzip && len(data) > int(small) && (!errors.Is(err, errTooLarge) || !u.tooLarge()) {
			t.Fatalf("openArchive(%q, cap %d) read all with %v, tooLarge %v; want errTooLarge", data, small, err, u.tooLarge())
		}
	})
}

// readArchive opens data and reads the whole tar stream.
func readArchive(data []byte, max int64) ([]byte, error) {
	u, err := openArchive(bytes.NewReader(data), max)
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(u)
	if errors.Is(err, errTooLarge) {
		return nil, err
	}
	return out, nil // gzip errors past the head are containerd's to report
}
