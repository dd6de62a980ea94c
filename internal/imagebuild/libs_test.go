package imagebuild

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseLdd(t *testing.T) {
	tests := []struct {
		name, out string
		want      []string
		wantErr   string
	}{
		{"debian prometheus", "\tlinux-vdso.so.1 (0x00007ffd5b3f2000)\n" +
			"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0f1c9e0000)\n" +
			"\t/lib64/ld-linux-x86-64.so.2 (0x00007f0f1cbd5000)\n",
			[]string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}, ""},
		{"arm64", "\tlinux-vdso.so.1 (0x0000ffff8a5e4000)\n\tlibc.so.6 => /lib/aarch64-linux-gnu/libc.so.6 (0x0000ffff8a3f0000)\n\t/lib/ld-linux-aarch64.so.1 (0x0000ffff8a5a7000)\n",
			[]string{"/lib/aarch64-linux-gnu/libc.so.6", "/lib/ld-linux-aarch64.so.1"}, ""},
		{"static", "\tstatically linked\n", nil, ""},
		{"empty", "", nil, ""},
		{"missing library", "\tlibfoo.so.1 => not found\n", nil, "libfoo.so.1 not found"},
		{"unclean path", "\tlibc.so.6 => /lib/../lib/libc.so.6 (0x1)\n", nil, "not clean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLdd(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parseLdd(%q) = %v, %v; want an error containing %q", tt.out, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseLdd(%q) = %q, %v; want %q", tt.out, got, err, tt.want)
			}
		})
	}
}

func FuzzParseLdd(f *testing.F) {
	f.Add("\tlinux-vdso.so.1 (0x1)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x2)\n\t/lib64/ld-linux-x86-64.so.2 (0x3)\n")
	f.Add("\tlibfoo.so => not found\n")
	f.Add("=> =>\n /a\x00 (\n")
	f.Fuzz(func(t *testing.T, out string) {
		libs, err := parseLdd(out)
		if err != nil {
			return
		}
		for _, l := range libs {
			if !path.IsAbs(l) || path.Clean(l) != l {
				t.Errorf("parseLdd(%q) returned %q, not a clean absolute path", out, l)
			}
		}
	})
}

// TestSharedLibrariesOfThisMachine asks ldd about a dynamically linked
// binary here (ldd is one): every library it names exists, and the ELF
// interpreter is among them.
func TestSharedLibrariesOfThisMachine(t *testing.T) {
	bin, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls here")
	}
	if _, err := exec.LookPath("ldd"); err != nil {
		t.Skip("no ldd here")
	}
	libs, err := SharedLibraries(t.Context(), bin)
	if err != nil {
		t.Fatalf("SharedLibraries(%s) = %v", bin, err)
	}
	interp := false
	for img, host := range libs {
		if img != host {
			t.Errorf("SharedLibraries(%s): %s in the image comes from %s, want the same path", bin, img, host)
		}
		if _, err := os.Stat(host); err != nil {
			t.Errorf("SharedLibraries(%s) names %s: %v", bin, host, err)
		}
		interp = interp || strings.HasPrefix(filepath.Base(img), "ld-")
	}
	if !interp {
		t.Errorf("SharedLibraries(%s) = %v, want the ELF interpreter (ld-*) among them", bin, libs)
	}
}

func TestSharedLibrariesOfStaticBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "static")
	if err := GoBuild(t.Context(), "../../test/testfn", bin); err != nil {
		t.Fatal(err)
	}
	libs, err := SharedLibraries(t.Context(), bin)
	if err != nil || len(libs) != 0 {
		t.Errorf("SharedLibraries(static Go binary) = %v, %v; want none", libs, err)
	}
}
