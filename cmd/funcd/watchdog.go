package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notify sends a state to systemd (sd_notify); without NOTIFY_SOCKET it
// does nothing.
func notify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// watchdog tells systemd every half interval that funcd is alive, as long
// as health passes within a quarter interval; after a whole interval
// without word, systemd kills and restarts funcd (WatchdogSec=). health is
// loaded afresh each time: nil means still starting, counted as alive.
func watchdog(ctx context.Context, interval time.Duration, health *atomic.Pointer[func(context.Context) error], send func(string) error, log *slog.Logger) {
	if interval <= 0 {
		return
	}
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	failing := false
	for {
		var err error
		if check := health.Load(); check != nil {
			cctx, cancel := context.WithTimeout(ctx, interval/4)
			err = (*check)(cctx)
			cancel()
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if !failing {
				log.Error("health check failed; systemd will restart funcd unless it recovers", "err", err)
			}
			failing = true
		default:
			if failing {
				log.Info("health check passes again")
			}
			failing = false
			if err := send(daemon.SdNotifyWatchdog); err != nil {
				log.Warn("notify systemd", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// selfCheck returns a health check that asks funcd's own API for /healthz
// on addr (the address it listens on; an unspecified IP is reached over
// loopback) and runs alive: a wedged accept loop or server fails the
// first, a stuck supervisor the second.
func selfCheck(addr net.Addr, alive func(context.Context) error) func(context.Context) error {
	host := addr.String()
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		// Go's listeners on :port and [::]:port take IPv4 too.
		host = net.JoinHostPort("127.0.0.1", fmt.Sprint(ta.Port))
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	url := "http://" + host + "/healthz"
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("own API: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("own API: GET /healthz = %s", resp.Status)
		}
		if alive == nil {
			return errors.New("no supervisor check")
		}
		return alive(ctx)
	}
}
