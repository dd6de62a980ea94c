package compose

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load as a compose file: it must not
// panic, and every error must be an *Error naming the file.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"services:\n  a:\n    image: x\n",
		"services:\n  web:\n    image: x:${TAG:-1}\n    ports: [\"127.0.0.1:80:80\", \"7000-7001:80-81/udp\"]\n    volumes: [\"./a:/a:ro\", \"d:/d\"]\n    depends_on: {db: {condition: service_healthy}}\n    healthcheck: {test: [\"CMD\", \"true\"], retries: 2}\n  db:\n    image: y\n    deploy: {resources: {limits: {memory: 1g, cpus: \"0.5\"}}}\nvolumes:\n  d: {}\n",
		"x-a: &a {image: x}\nservices:\n  a:\n    <<: *a\n    extends: b\n  b:\n    image: y\n    profiles: [p]\n",
		"services: [1, 2]\n",
		"a: b: c\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "docker-compose.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Load(context.Background(), path, []string{"TAG=1"})
		var ce *Error
		switch {
		case err == nil && p == nil:
			t.Fatal("Load returned neither a project nor an error")
		case err != nil && !errors.As(err, &ce):
			t.Fatalf("Load error %v is a %T, want *compose.Error", err, err)
		case err != nil && ce.File != path:
			t.Fatalf("Error.File = %q, want %q", ce.File, path)
		}
	})
}
