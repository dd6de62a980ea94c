package containerd

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/containerd/images"
)

func TestOCINames(t *testing.T) {
	tests := []struct {
		ref, want string
		tagOnly   bool
	}{
		{"docker.io/me/fn:1", "docker.io/me/fn:1", false},
		{"me/fn:1", "docker.io/me/fn:1", false},
		{"fn:1", "docker.io/library/fn:1", false},
		{"127.0.0.1:5000/fn:1", "127.0.0.1:5000/fn:1", false},
		{"latest", "", true},
		{"v1.2", "", true},
	}
	for _, tt := range tests {
		n := &ociNames{}
		if got := n.translate(tt.ref); got != tt.want || (len(n.tagOnly) > 0) != tt.tagOnly {
			t.Errorf("translate(%q) = %q (tag only %v), want %q (%v)", tt.ref, got, n.tagOnly, tt.want, tt.tagOnly)
		}
	}
	n := &ociNames{}
	n.translate("latest")
	if err := n.check(0); !errors.Is(err, ErrBadArchive) || !strings.Contains(err.Error(), `"latest"`) {
		t.Errorf("check after a tag-only name = %v, want ErrBadArchive naming it", err)
	}
	if err := (&ociNames{}).check(0); !errors.Is(err, ErrBadArchive) || !strings.Contains(err.Error(), "names no image") {
		t.Errorf("check(0) = %v, want ErrBadArchive: names no image", err)
	}
	if err := (&ociNames{}).check(1); err != nil {
		t.Errorf("check(1) = %v, want nil", err)
	}
}

func TestUniqueImages(t *testing.T) {
	in := []images.Image{{Name: "a", Labels: map[string]string{"n": "1"}}, {Name: "b"}, {Name: "a", Labels: map[string]string{"n": "2"}}}
	got := uniqueImages(in)
	if len(got) != 2 || got[0].Name != "b" || got[1].Name != "a" || got[1].Labels["n"] != "2" {
		t.Errorf("uniqueImages = %+v, want b, then the last a", got)
	}
}
