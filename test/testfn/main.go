// Command testfn is the function the end-to-end tests deploy. Its behaviour
// is driven by paths and environment variables:
//
//	/ and unknown paths  echo the request as JSON (method, path, query,
//	                     headers, body, version from env VERSION, hostname)
//	/env                 the process environment as a JSON object
//	/file?path=/x        the file's content, 404 if it does not exist
//	/exit?code=N         answer, then exit with code N
//	/sleep?ms=N          sleep N milliseconds, then answer
//	/ready               200, or 503 when env READY is "false"
//	/log?text=T          print T as a line on stdout (&stream=stderr: on
//	                     stderr; &n=N: N times, numbered), then answer
//	/record?ms=N         remember the call (X-Call-Id, X-Topic, X-Connector,
//	                     body) after sleeping N ms; /recorded lists them
//	/status?code=N       answer status N
//	/flaky?fail=N        503 for the first N calls with one X-Call-Id, then 200
//	/latency             body: a Unix time in ns; remember now minus it;
//	                     /latencies lists them (ns) and forgets them
//	/alloc?mib=N         allocate N MiB more, write every page, and keep it
//	/spin?ms=N           keep one CPU busy for N milliseconds
//
// With env ROOT_PATH=/record (or any path above), / is served as that path:
// triggers invoke /.
//
// It listens on :8080 after env START_DELAY_MS milliseconds, and on SIGTERM
// finishes in-flight requests and exits 0.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	log.SetPrefix("testfn: ")
	if d, err := strconv.Atoi(os.Getenv("START_DELAY_MS")); err == nil && d > 0 {
		log.Printf("delaying start by %dms", d)
		time.Sleep(time.Duration(d) * time.Millisecond)
	}
	exitCode := make(chan int, 1)
	mux := http.NewServeMux()
	rec := &recorder{perCall: map[string]int{}}
	mux.HandleFunc("/", echo)
	if root := os.Getenv("ROOT_PATH"); root != "" { // for triggers, which invoke /
		mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
			r.URL.Path = root
			mux.ServeHTTP(w, r)
		})
	}
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }) // static, for benchmarks
	mux.HandleFunc("/env", env)
	mux.HandleFunc("/file", file)
	mux.HandleFunc("/write", write)
	mux.HandleFunc("/sockets", sockets)
	mux.HandleFunc("/get", get)
	mux.HandleFunc("/sleep", sleep)
	mux.HandleFunc("/ready", ready)
	mux.HandleFunc("/log", logLine)
	mux.HandleFunc("/record", rec.record)
	mux.HandleFunc("/recorded", rec.recorded)
	mux.HandleFunc("/flaky", rec.flaky)
	mux.HandleFunc("/latency", rec.latency)
	mux.HandleFunc("/latencies", rec.listLatencies)
	mux.HandleFunc("/status", status)
	mux.HandleFunc("/alloc", alloc)
	mux.HandleFunc("/spin", spin)
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil {
			http.Error(w, "code must be an integer", http.StatusBadRequest)
			return
		}
		w.Header().Set("Connection", "close")
		fmt.Fprintf(w, "exiting with code %d\n", code)
		select {
		case exitCode <- code:
		default:
		}
	})
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("listening on :8080, VERSION=%q", os.Getenv("VERSION"))

	code := 0
	select {
	case err := <-errc:
		log.Printf("serve: %v", err)
		os.Exit(1)
	case s := <-sig:
		log.Printf("got %v, finishing in-flight requests", s)
	case code = <-exitCode:
		log.Printf("asked to exit with code %d", code)
	}
	// Shutdown returns once every response, the /exit one included, is
	// written.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Printf("shutdown: %v", err)
	}
	os.Exit(code)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("write response: %v", err)
	}
}

func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	host, _ := os.Hostname()
	writeJSON(w, map[string]any{
		"method":   r.Method,
		"path":     r.URL.Path,
		"query":    r.URL.Query(),
		"headers":  r.Header,
		"body":     string(body),
		"version":  os.Getenv("VERSION"),
		"hostname": host,
	})
}

func env(w http.ResponseWriter, _ *http.Request) {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	writeJSON(w, m)
}

func file(w http.ResponseWriter, r *http.Request) {
	data, err := os.ReadFile(r.URL.Query().Get("path"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	default:
		_, _ = w.Write(data)
	}
}

// write tries to create the file named by ?path= and says what happened:
// 200 "wrote" or 500 with the error.
// write writes "x" to ?path=, or ?mb= MiB of zeros.
func write(w http.ResponseWriter, r *http.Request) {
	data := []byte("x")
	if mb, err := strconv.Atoi(r.URL.Query().Get("mb")); err == nil && mb > 0 {
		data = make([]byte, mb<<20)
	}
	if err := os.WriteFile(r.URL.Query().Get("path"), data, 0o644); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "wrote")
}

// sockets reports which kinds of ICMP sockets the function may open: raw
// ones need CAP_NET_RAW, ping ones (datagram) the ping_group_range sysctl.
func sockets(w http.ResponseWriter, _ *http.Request) {
	try := func(typ int) string {
		fd, err := syscall.Socket(syscall.AF_INET, typ, syscall.IPPROTO_ICMP)
		if err != nil {
			return err.Error()
		}
		syscall.Close(fd)
		return "ok"
	}
	writeJSON(w, map[string]string{"raw": try(syscall.SOCK_RAW), "ping": try(syscall.SOCK_DGRAM)})
}

// get fetches ?url= and relays status and body: one function calling
// another through the gateway.
func get(w http.ResponseWriter, r *http.Request) {
	resp, err := http.Get(r.URL.Query().Get("url"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func logLine(w http.ResponseWriter, r *http.Request) {
	out := os.Stdout
	if r.URL.Query().Get("stream") == "stderr" {
		out = os.Stderr
	}
	text := r.URL.Query().Get("text")
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil {
		fmt.Fprintln(out, text)
		fmt.Fprintln(w, "logged")
		return
	}
	bw := bufio.NewWriter(out)
	for i := range n {
		fmt.Fprintf(bw, "%s %d\n", text, i)
	}
	bw.Flush()
	fmt.Fprintln(w, "logged")
}

func sleep(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 {
		http.Error(w, "ms must be a non-negative integer", http.StatusBadRequest)
		return
	}
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		fmt.Fprintf(w, "slept %dms\n", ms)
	case <-r.Context().Done():
	}
}

func ready(w http.ResponseWriter, _ *http.Request) {
	if os.Getenv("READY") == "false" {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

func status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err != nil || code < 200 || code > 599 {
		http.Error(w, "code must be an HTTP status", http.StatusBadRequest)
		return
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, "status %d\n", code)
}

// recorder remembers calls, for tests of queued and triggered invocations.
type recorder struct {
	mu        sync.Mutex
	calls     []call
	perCall   map[string]int
	latencies []int64
}

type call struct {
	CallID    string `json:"callId"`
	Topic     string `json:"topic"`
	Connector string `json:"connector"`
	Body      string `json:"body"`
}

func (rc *recorder) record(w http.ResponseWriter, r *http.Request) {
	if ms, err := strconv.Atoi(r.URL.Query().Get("ms")); err == nil && ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rc.mu.Lock()
	rc.calls = append(rc.calls, call{r.Header.Get("X-Call-Id"), r.Header.Get("X-Topic"), r.Header.Get("X-Connector"), string(body)})
	rc.mu.Unlock()
	fmt.Fprintf(w, "recorded %s\n", body)
}

func (rc *recorder) recorded(w http.ResponseWriter, _ *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	writeJSON(w, append([]call{}, rc.calls...))
}

func (rc *recorder) flaky(w http.ResponseWriter, r *http.Request) {
	fail, _ := strconv.Atoi(r.URL.Query().Get("fail"))
	id := r.Header.Get("X-Call-Id")
	rc.mu.Lock()
	rc.perCall[id]++
	n := rc.perCall[id]
	rc.mu.Unlock()
	if n <= fail {
		http.Error(w, fmt.Sprintf("failing call %d of %d", n, fail), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "succeeded on call %d\n", n)
}

func (rc *recorder) latency(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64))
	sent, err := strconv.ParseInt(strings.TrimSpace(string(body)), 10, 64)
	if err != nil {
		http.Error(w, "body must be a Unix time in ns", http.StatusBadRequest)
		return
	}
	d := time.Now().UnixNano() - sent
	rc.mu.Lock()
	rc.latencies = append(rc.latencies, d)
	rc.mu.Unlock()
}

func (rc *recorder) listLatencies(w http.ResponseWriter, _ *http.Request) {
	rc.mu.Lock()
	l := rc.latencies
	rc.latencies = nil
	rc.mu.Unlock()
	writeJSON(w, append([]int64{}, l...))
}

// kept holds what /alloc allocated, so the memory stays in use.
var (
	keptMu sync.Mutex
	kept   [][]byte
)

func alloc(w http.ResponseWriter, r *http.Request) {
	mib, err := strconv.Atoi(r.URL.Query().Get("mib"))
	if err != nil || mib < 1 || mib > 1024 {
		http.Error(w, "mib must be an integer from 1 to 1024", http.StatusBadRequest)
		return
	}
	b := make([]byte, mib<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1 // touch every page: memory in use, not just reserved
	}
	keptMu.Lock()
	kept = append(kept, b)
	total := 0
	for _, k := range kept {
		total += len(k)
	}
	keptMu.Unlock()
	fmt.Fprintf(w, "holding %d MiB\n", total>>20)
}

func spin(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 || ms > 60_000 {
		http.Error(w, "ms must be an integer from 0 to 60000", http.StatusBadRequest)
		return
	}
	n, end := 0, time.Now().Add(time.Duration(ms)*time.Millisecond)
	for time.Now().Before(end) {
		n++
	}
	fmt.Fprintf(w, "spun %d times\n", n)
}
