package provider

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

func withAnnotation(k, v string) func(*api.FunctionDeployment) {
	return func(d *api.FunctionDeployment) {
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[k] = v
	}
}

// TestPullPolicy: the annotation wins over the host's policy; without
// either, the runtime gets the default (today's behaviour).
func TestPullPolicy(t *testing.T) {
	tests := []struct {
		host       api.PullPolicy
		annotation string // "" for none
		want       api.PullPolicy
	}{
		{api.PullDefault, "", api.PullDefault},
		{api.PullNever, "", api.PullNever},
		{api.PullDefault, "missing", api.PullMissing},
		{api.PullNever, "always", api.PullAlways},
		{api.PullAlways, "never", api.PullNever},
	}
	for _, tt := range tests {
		t.Run(string(tt.host)+"/"+tt.annotation, func(t *testing.T) {
			h := newHarness(t)
			p := h.startWith(func(c *Config) { c.PullPolicy = tt.host })
			var mods []func(*api.FunctionDeployment)
			if tt.annotation != "" {
				mods = append(mods, withAnnotation(annotationPullPolicy, tt.annotation))
			}
			if err := p.Deploy(context.Background(), deployment("f", mods...)); err != nil {
				t.Fatalf("Deploy = %v", err)
			}
			h.rt.mu.Lock()
			got := h.rt.policies
			h.rt.mu.Unlock()
			if !reflect.DeepEqual(got, []api.PullPolicy{tt.want}) {
				t.Errorf("EnsureImage policies = %q, want [%q]", got, tt.want)
			}
		})
	}
}

func TestPullPolicyValidated(t *testing.T) {
	h := newHarness(t)
	for _, v := range []string{"", "Always", "if-not-present", "sometimes"} {
		err := h.p.Deploy(context.Background(), deployment("f", withAnnotation(annotationPullPolicy, v)))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), annotationPullPolicy) {
			t.Errorf("Deploy with %s=%q = %v, want ErrInvalid naming the annotation", annotationPullPolicy, v, err)
		}
	}
	if len(h.rt.ids()) != 0 {
		t.Errorf("a refused deploy left containers %v", h.rt.ids())
	}
}

// TestPullNeverWithoutImage: the runtime's "not present" is bad input,
// and its message (naming funcd image import) reaches the caller.
func TestPullNeverWithoutImage(t *testing.T) {
	h := newHarness(t)
	d := deployment("f", withAnnotation(annotationPullPolicy, "never"))
	d.Image = "absent:1"
	err := h.p.Deploy(context.Background(), d)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "absent:1") || !strings.Contains(err.Error(), "funcd image import") {
		t.Errorf("Deploy = %v, want ErrInvalid naming the image and funcd image import", err)
	}
}

func TestImagesInUse(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	imgs, err := h.p.ImportImages(ctx, api.DefaultNamespace, strings.NewReader("docker.io/library/fn:1 docker.io/library/other:2"))
	if err != nil || len(imgs) != 2 || imgs[0].Name != "docker.io/library/fn:1" || imgs[0].Digest == "" {
		t.Fatalf("ImportImages = %+v, %v; want both images with digests", imgs, err)
	}
	if err := h.p.Deploy(ctx, deployment("a")); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Deploy(ctx, deployment("b")); err != nil {
		t.Fatal(err)
	}

	list, err := h.p.Images(ctx, api.DefaultNamespace)
	if err != nil || len(list) != 2 || !reflect.DeepEqual(list[0].Functions, []string{"a", "b"}) || list[1].Functions != nil {
		t.Fatalf("Images = %+v, %v; want fn:1 used by a and b, other:2 by none", list, err)
	}

	// Refused while used, whatever the scale: parked at zero too.
	if err := h.p.Scale(ctx, "a", api.DefaultNamespace, 0); err != nil {
		t.Fatal(err)
	}
	err = h.p.RemoveImage(ctx, api.DefaultNamespace, "fn:1")
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "a, b") {
		t.Fatalf("RemoveImage(fn:1) while used = %v, want ErrInUse naming a, b", err)
	}
	for _, fn := range []string{"a", "b"} {
		if err := h.p.Delete(ctx, fn, api.DefaultNamespace); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.p.RemoveImage(ctx, api.DefaultNamespace, "fn:1"); err != nil {
		t.Fatalf("RemoveImage(fn:1) after the functions went = %v", err)
	}
	if err := h.p.RemoveImage(ctx, api.DefaultNamespace, "fn:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveImage(fn:1) again = %v, want ErrNotFound", err)
	}
	if err := h.p.RemoveImage(ctx, api.DefaultNamespace, "Not A Ref"); !errors.Is(err, ErrInvalid) {
		t.Errorf("RemoveImage(bad ref) = %v, want ErrInvalid", err)
	}
}

func TestImagesBadInput(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.p.ImportImages(ctx, api.DefaultNamespace, strings.NewReader("x/ok:1 bad")); !errors.Is(err, ErrInvalid) {
		t.Errorf("ImportImages(bad archive) = %v, want ErrInvalid", err)
	}
	if _, err := h.p.ImportImages(ctx, api.ServicesNamespace, strings.NewReader("x/ok:1")); err != nil {
		t.Errorf("ImportImages into the services' namespace = %v, want it taken (funcd image import --services)", err)
	}
	for name, call := range map[string]func() error{
		"import": func() error { _, err := h.p.ImportImages(ctx, "nope", strings.NewReader("x/ok:1")); return err },
		"list":   func() error { _, err := h.p.Images(ctx, "nope"); return err },
		"remove": func() error { return h.p.RemoveImage(ctx, "nope", "x/ok:1") },
	} {
		if err := call(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"nope" not found`) {
			t.Errorf("%s in an unknown namespace = %v, want ErrInvalid naming it", name, err)
		}
	}
}
