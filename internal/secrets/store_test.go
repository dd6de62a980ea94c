package secrets

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const ns = "openfaas-fn"

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestRoundTrip(t *testing.T) {
	root := t.TempDir()
	s := New(root)
	if names, err := s.List(ns); err != nil || names == nil || len(names) != 0 {
		t.Errorf("List(empty) = %#v, %v; want an empty non-nil slice", names, err)
	}
	if err := s.Create(ns, "db", []byte("v1")); err != nil {
		t.Fatalf("Create = %v", err)
	}
	if err := s.Create(ns, "db", []byte("v0")); !errors.Is(err, ErrExists) {
		t.Errorf("Create(again) = %v, want ErrExists", err)
	}
	if err := s.Create(ns, "api.key", []byte("\x00bin")); err != nil {
		t.Fatalf("Create = %v", err)
	}
	path, err := s.Path(ns, "db")
	if err != nil || path != filepath.Join(root, "namespaces", ns, "db") {
		t.Fatalf("Path(db) = %q, %v", path, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "v1" {
		t.Errorf("db = %q, want v1", b)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("mode of %s = %v, want 0600", path, m)
	}
	for _, d := range []string{filepath.Join(root, "namespaces"), filepath.Join(root, "namespaces", ns)} {
		if m := mode(t, d); m != 0o700 {
			t.Errorf("mode of %s = %v, want 0700", d, m)
		}
	}
	if err := s.Update(ns, "db", []byte("v2")); err != nil {
		t.Fatalf("Update = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "v2" {
		t.Errorf("after Update db = %q, want v2", b)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("mode after Update = %v, want 0600", m)
	}
	if err := s.Update(ns, "nope", []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update(nope) = %v, want ErrNotFound", err)
	}
	// A leftover temporary file of an interrupted write is not a secret.
	os.WriteFile(filepath.Join(root, "namespaces", ns, ".db.tmp-1"), nil, 0o600)
	if names, err := s.List(ns); err != nil || !reflect.DeepEqual(names, []string{"api.key", "db"}) {
		t.Errorf("List = %v, %v; want [api.key db]", names, err)
	}
	if err := s.Remove(ns, "db"); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if err := s.Remove(ns, "db"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove(again) = %v, want ErrNotFound", err)
	}
	if _, err := s.Path(ns, "db"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Path after Remove = %v, want ErrNotFound", err)
	}
}

// TestUpdateIsAtomic checks that an update replaces the file (a new inode)
// rather than rewriting it in place, and leaves no temporary file.
func TestUpdateIsAtomic(t *testing.T) {
	s := New(t.TempDir())
	s.Create(ns, "db", []byte("old"))
	path, _ := s.Path(ns, "db")
	before, _ := os.Stat(path)
	if err := s.Update(ns, "db", []byte("new")); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if os.SameFile(before, after) {
		t.Error("Update rewrote the file in place; want a rename over it")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("secrets dir holds %d entries, want only db", len(entries))
	}
}

// snapshotTree lists every path below dir with its content.
func snapshotTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		} else {
			out[p] = d.Type().String()
		}
		return nil
	})
	return out
}

// TestTraversalRefused tries to escape the store through every operation
// and checks nothing outside it was created, changed, removed or read.
func TestTraversalRefused(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "state", "secrets")
	os.MkdirAll(filepath.Join(top, "state", "victim"), 0o700)
	os.WriteFile(filepath.Join(top, "state", "victim", "file"), []byte("victim"), 0o600)
	os.WriteFile(filepath.Join(top, "outside"), []byte("outside"), 0o600)
	s := New(root)
	if err := s.Create(ns, "ok", []byte("v")); err != nil {
		t.Fatal(err)
	}
	// A symlink planted in the store is not a secret and is never followed.
	os.Symlink(filepath.Join(top, "outside"), filepath.Join(root, "namespaces", ns, "planted"))
	before := snapshotTree(t, top)

	bad := []string{"", "..", "../outside", "../../outside", "../../../outside", "../victim", "a/b", "/etc/passwd",
		"./x", "x/..", ".hidden", "A", strings.Repeat("a", 254), "a\x00b", "planted"}
	for _, name := range bad {
		for _, n := range []string{ns, name} {
			if n == "planted" {
				continue // a valid namespace name
			}
			nm := name
			if n == name {
				nm = "ok" // the namespace is the bad part
			}
			if _, err := s.Path(n, nm); err == nil {
				t.Errorf("Path(%q, %q) = nil error", n, nm)
			}
			if err := s.Create(n, nm, []byte("pwned")); err == nil {
				t.Errorf("Create(%q, %q) = nil error", n, nm)
			}
			if err := s.Update(n, nm, []byte("pwned")); err == nil {
				t.Errorf("Update(%q, %q) = nil error", n, nm)
			}
			if err := s.Remove(n, nm); err == nil {
				t.Errorf("Remove(%q, %q) = nil error", n, nm)
			}
			if dir, err := s.View(n, "view1", []string{nm}); err == nil {
				t.Errorf("View(%q, [%q]) = %q, nil error", n, nm, dir)
			}
			if n != name {
				continue
			}
			if _, err := s.List(n); err == nil && name != "planted" {
				t.Errorf("List(%q) = nil error", n)
			}
		}
		// The view id is a path element too.
		if name != "planted" {
			if dir, err := s.View(ns, name, []string{"ok"}); err == nil {
				t.Errorf("View(id %q) = %q, nil error", name, dir)
			}
			if err := s.RemoveView(ns, name); err == nil {
				t.Errorf("RemoveView(id %q) = nil error", name)
			}
		}
	}
	after := snapshotTree(t, top)
	if !reflect.DeepEqual(before, after) {
		for p := range after {
			if _, ok := before[p]; !ok {
				t.Errorf("created %s", p)
			}
		}
		for p, v := range before {
			if after[p] != v {
				t.Errorf("changed or removed %s", p)
			}
		}
	}
}

func readView(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("read %s through the view: %v", name, err)
	}
	return string(b)
}

func TestViews(t *testing.T) {
	root := t.TempDir()
	s := New(root)
	s.Create(ns, "a", []byte("a1"))
	s.Create(ns, "b", []byte("b1"))
	s.Create(ns, "c", []byte("c1"))
	dir, err := s.View(ns, "fn-1", []string{"a", "b"})
	if err != nil {
		t.Fatalf("View = %v", err)
	}
	if dir != filepath.Join(root, "views", ns, "fn-1") {
		t.Errorf("View dir = %q", dir)
	}
	other, _ := s.View(ns, "fn-2", []string{"c"})
	if got := readView(t, dir, "a") + readView(t, dir, "b"); got != "a1b1" {
		t.Errorf("view reads %q, want a1b1", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "c")); err == nil {
		t.Error("view fn-1 holds c, which it did not ask for")
	}
	if link, _ := os.Readlink(filepath.Join(dir, "a")); link != "..data/a" {
		t.Errorf("a -> %q, want a relative link ..data/a", link)
	}
	if m := mode(t, filepath.Join(root, "views")); m != 0o700 {
		t.Errorf("views dir mode = %v, want 0700", m)
	}

	// A running function holds the directory open: the path must keep
	// working across the swap, and show the new value.
	d, _ := os.Open(dir)
	defer d.Close()
	oldData, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := s.Update(ns, "a", []byte("a2")); err != nil {
		t.Fatalf("Update = %v", err)
	}
	if got := readView(t, dir, "a") + readView(t, dir, "b"); got != "a2b1" {
		t.Errorf("after Update view reads %q, want a2b1", got)
	}
	if got := readView(t, other, "c"); got != "c1" {
		t.Errorf("unrelated view reads %q, want c1", got)
	}
	newData, _ := os.Readlink(filepath.Join(dir, "..data"))
	if newData == oldData {
		t.Errorf("..data still points to %s", oldData)
	}
	if _, err := os.Stat(filepath.Join(dir, oldData)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old data dir %s is still there: %v", oldData, err)
	}
	names, _ := d.Readdirnames(-1)
	slices.Sort(names)
	want := []string{"..data", newData, "a", "b"}
	slices.Sort(want)
	if !reflect.DeepEqual(names, want) {
		t.Errorf("view holds %v, want %v", names, want)
	}

	// A missing secret fails the view and leaves nothing.
	if _, err := s.View(ns, "fn-3", []string{"a", "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("View(missing) = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(root, "views", ns, "fn-3")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed view left %v", err)
	}

	for _, id := range []string{"fn-1", "fn-2", "fn-1"} {
		if err := s.RemoveView(ns, id); err != nil {
			t.Errorf("RemoveView(%s) = %v", id, err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "views", ns)); len(entries) != 0 {
		t.Errorf("views left: %v", entries)
	}
}
