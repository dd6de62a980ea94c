// Command testsvc is the side service of the e2e tests: a small HTTP
// key/value store whose values are files in a directory (a volume), with a
// fetch endpoint to test names on the network, and a -healthcheck mode for
// compose's healthcheck exec.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

func main() {
	listen := flag.String("listen", ":8000", "address to serve on")
	data := flag.String("data", "/data", "directory of the values")
	health := flag.String("healthcheck", "", "GET this URL and exit 0 on 200, 1 otherwise (no server)")
	exit := flag.Int("exit", -1, "print a line and exit with this code at once (restart policy tests)")
	flag.Parse()
	if *health != "" {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(*health)
		if err != nil || resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if *exit >= 0 {
		fmt.Printf("testsvc exiting with %d\n", *exit)
		os.Exit(*exit)
	}
	if err := os.MkdirAll(*data, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("GET /env/{key}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, os.Getenv(r.PathValue("key"))) })
	mux.HandleFunc("GET /kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join(*data, filepath.Base(r.PathValue("key"))))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("PUT /kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := os.WriteFile(filepath.Join(*data, filepath.Base(r.PathValue("key"))), b, 0o644); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	// GET /get?url= fetches url and relays status and body.
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	fmt.Printf("testsvc listening on %s\n", *listen)
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
