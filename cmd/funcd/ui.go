package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/funcd/funcd/internal/config"
	"github.com/funcd/funcd/internal/ui"
)

// serveUI serves the web UI on an origin of its own when --ui-listen is
// set: gw (the gateway with the UI mounted) behind ui.Origin, on a server
// of its own whose end goes to errc. stop shuts it down.
func serveUI(cfg config.Daemon, gw http.Handler, errc chan<- error, log *slog.Logger) (stop func(), err error) {
	if cfg.UIListen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.UIListen)
	if err != nil {
		return nil, fmt.Errorf("listen on --ui-listen: %w", err)
	}
	srv := &http.Server{
		Handler:           ui.Origin(gw),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.Timeout + 5*time.Second,
		WriteTimeout:      cfg.Timeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() { errc <- fmt.Errorf("ui: %w", srv.Serve(ln)) }()
	log.Info("the web UI is served on an origin of its own", "address", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("ui http shutdown", "err", err)
		}
	}, nil
}
