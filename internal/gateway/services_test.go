package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/logs"
)

type fakeServices struct {
	list      []api.ServiceStatus
	restarted []string
}

func (f *fakeServices) List() []api.ServiceStatus { return f.list }
func (f *fakeServices) Has(name string) bool {
	for _, s := range f.list {
		if s.Name == name {
			return true
		}
	}
	return false
}
func (f *fakeServices) UsingImage(ref string) []string {
	var out []string
	for _, s := range f.list {
		if s.Image == ref {
			out = append(out, s.Name)
		}
	}
	return out
}
func (f *fakeServices) Restart(name string) error {
	f.restarted = append(f.restarted, name)
	return nil
}

func newServicesEnv(t *testing.T) (*env, *fakeServices) {
	t.Helper()
	dir := t.TempDir()
	svcs := &fakeServices{list: []api.ServiceStatus{{Name: "db", Image: "postgres:16", State: "running", PID: 42}}}
	sdir := logs.FunctionDir(dir, api.ServicesNamespace, "db")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sdir, "db-1.log"), []byte("2026-11-26T03:00:01Z stdout ready\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fns := &fakeFunctions{}
	cfg := Config{Credentials: creds, Logs: logs.NewStore(dir), Services: svcs}
	return &env{fns: fns, gw: New(fns, invoked, cfg, slog.New(slog.DiscardHandler))}, svcs
}

func TestServiceRoutes(t *testing.T) {
	e, svcs := newServicesEnv(t)
	rec := e.do("GET", "/system/services", "", authRight)
	var list []api.ServiceStatus
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list) != 1 || list[0].PID != 42 {
		t.Errorf("GET /system/services = %d %q, want the one service", rec.Code, rec.Body)
	}
	if rec := e.do("GET", "/system/services/db/logs?tail=1", "", authRight); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"text":"ready"`) || !strings.Contains(rec.Body.String(), `"namespace":"funcd"`) {
		t.Errorf("GET logs of db = %d %q, want its line", rec.Code, rec.Body)
	}
	if rec := e.do("GET", "/system/services/db/logs?tail=x", "", authRight); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("GET logs with a bad tail = %d, want 422", rec.Code)
	}
	if rec := e.do("POST", "/system/services/db/restart", "", authRight); rec.Code != http.StatusAccepted || len(svcs.restarted) != 1 {
		t.Errorf("POST restart db = %d (restarted %v), want 202", rec.Code, svcs.restarted)
	}
	for _, target := range []string{"/system/services/nosuch/logs", "/system/services/nosuch/restart"} {
		method := "GET"
		if strings.HasSuffix(target, "restart") {
			method = "POST"
		}
		if rec := e.do(method, target, "", authRight); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "nosuch") {
			t.Errorf("%s %s = %d %q, want 404 naming it", method, target, rec.Code, rec.Body)
		}
	}
}

func TestServiceRoutesRefuseOutsiders(t *testing.T) {
	for _, rt := range []struct{ method, target string }{
		{"GET", "/system/services"}, {"GET", "/system/services/db/logs"}, {"POST", "/system/services/db/restart"},
	} {
		for _, a := range []auth{authNone, authWrongPassword, authBearer} {
			e, svcs := newServicesEnv(t)
			if rec := e.do(rt.method, rt.target, "", a); rec.Code != http.StatusUnauthorized || len(svcs.restarted) > 0 {
				t.Errorf("%s %s with auth %d = %d, want 401 and nothing restarted", rt.method, rt.target, a, rec.Code)
			}
		}
	}
}

func TestImagesOfServices(t *testing.T) {
	for _, svcs := range []Services{nil, &fakeServices{}} {
		imgs := &fakeImages{}
		g := New(&fakeFunctions{}, invoked, Config{Credentials: creds, Namespaces: fakeNamespaces{}, Images: imgs, MaxImageSize: 1 << 20, Services: svcs}, slog.New(slog.DiscardHandler))
		e := &env{fns: &fakeFunctions{}, gw: g}
		rec := e.do("GET", "/system/images?namespace="+api.ServicesNamespace, "", authRight)
		if want := svcs != nil; (rec.Code == http.StatusOK) != want {
			t.Errorf("GET /system/images?namespace=funcd with services %v = %d %q", want, rec.Code, rec.Body)
		}
	}
}

// TestRemoveImageOfService: an image a side service runs from is not
// removed (409 naming the service); another is.
func TestRemoveImageOfService(t *testing.T) {
	imgs := &fakeImages{}
	svcs := &fakeServices{list: []api.ServiceStatus{{Name: "db", Image: "postgres:16"}}}
	g := New(&fakeFunctions{}, invoked, Config{Credentials: creds, Namespaces: fakeNamespaces{}, Images: imgs, MaxImageSize: 1 << 20, Services: svcs}, slog.New(slog.DiscardHandler))
	e := &env{fns: &fakeFunctions{}, gw: g}
	rec := e.do("DELETE", "/system/images?namespace="+api.ServicesNamespace+"&name=postgres:16", "", authRight)
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "db") {
		t.Errorf("DELETE the image service db runs from = %d %q, want 409 naming db", rec.Code, rec.Body)
	}
	if rec := e.do("DELETE", "/system/images?namespace="+api.ServicesNamespace+"&name=redis:7", "", authRight); rec.Code == http.StatusConflict {
		t.Errorf("DELETE an image no service runs from = %d %q, want no 409", rec.Code, rec.Body)
	}
}
