package queue

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// User is the name outside NATS and MQTT clients log in with, when
// --nats-listen or --mqtt-listen is on.
const User = "funcd"

// The embedded server has two accounts, so that nothing an outside client
// does can reach the queue:
//
//	FUNCD   the queue's streams and funcd's own connection (internalUser);
//	        no outside credential maps to it
//	EVENTS  outside clients (User) and the connection triggers listen on
//	        (eventsUser); JetStream only for the MQTT bridge's sessions
const (
	queueAccount  = "FUNCD"
	eventsAccount = "EVENTS"

	internalUser = "funcd-internal"
	eventsUser   = "funcd-events"
)

// accounts declares both accounts with JetStream. EVENTS holds only what
// the MQTT bridge keeps (sessions, retained messages, QoS 1 state), capped
// so devices cannot fill the disk with retained messages.
const accounts = `accounts {
	FUNCD: { jetstream: enabled }
	EVENTS: { jetstream: { max_mem: 16M, max_file: 64M } }
}`

// natsServer is the running embedded server and funcd's two in-process
// connections to it.
type natsServer struct {
	ns     *server.Server
	queue  *nats.Conn // FUNCD: the streams
	events *nats.Conn // EVENTS: trigger subscriptions and replies
	auth   *authenticator
}

func (s *natsServer) close() {
	if s.events != nil {
		s.events.Close()
	}
	if s.queue != nil {
		s.queue.Close()
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// startServer starts the embedded NATS server with JetStream on file
// storage under cfg.StoreDir and connects to it in-process, once in each
// account.
func startServer(cfg Config, maxPayload int32, log *slog.Logger) (*natsServer, error) {
	if (cfg.NATSListen != "" || cfg.MQTTListen != "") && cfg.Password == "" {
		return nil, fmt.Errorf("queue: a password is required to listen for outside clients")
	}
	if err := migrateStore(cfg.StoreDir); err != nil {
		return nil, err
	}
	auth, err := newAuthenticator(cfg.Password, cfg.NATSListen != "" || cfg.MQTTListen != "")
	if err != nil {
		return nil, err
	}
	opts := &server.Options{}
	if err := opts.ProcessConfigString(accounts); err != nil {
		return nil, fmt.Errorf("queue: nats accounts: %w", err)
	}
	opts.ServerName = "funcd"
	opts.DontListen = cfg.NATSListen == ""
	opts.JetStream = true
	opts.StoreDir = cfg.StoreDir
	opts.JetStreamMaxStore = jetStreamMaxStore
	opts.JetStreamMaxMemory = 64 << 20
	opts.SyncAlways = cfg.SyncAlways
	opts.MaxPayload = maxPayload
	opts.NoSigs = true
	opts.AlwaysEnableNonce = true // outside clients may prove an nkey
	opts.CustomClientAuthentication = auth
	if cfg.NATSListen != "" {
		if opts.Host, opts.Port, err = splitHostPort(cfg.NATSListen); err != nil {
			return nil, fmt.Errorf("--nats-listen: %w", err)
		}
	}
	if cfg.MQTTListen != "" {
		if opts.MQTT.Host, opts.MQTT.Port, err = splitHostPort(cfg.MQTTListen); err != nil {
			return nil, fmt.Errorf("--mqtt-listen: %w", err)
		}
		// The first MQTT login creates the bridge's streams; on a slow SD
		// card (or under emulation in CI) that outlasts the server's 5 s
		// default, and the device is hung up on.
		opts.MQTT.JSAPITimeout = 30 * time.Second
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("queue: nats server: %w", err)
	}
	// The server registers copies of the configured accounts.
	if auth.queue, err = ns.LookupAccount(queueAccount); err == nil {
		auth.events, err = ns.LookupAccount(eventsAccount)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: nats accounts: %w", err)
	}
	ns.SetLoggerV2(natsLogger{log}, false, false, false)
	ns.Start()
	s := &natsServer{ns: ns, auth: auth}
	if !ns.ReadyForConnections(30 * time.Second) {
		s.close()
		return nil, fmt.Errorf("queue: nats server did not start within 30s (store %s)", cfg.StoreDir)
	}
	if s.queue, err = connectInProcess(ns, internalUser, auth.internalPass, log); err == nil {
		s.events, err = connectInProcess(ns, eventsUser, auth.internalPass, log)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func connectInProcess(ns *server.Server, user, pass string, log *slog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.UserInfo(user, pass),
		nats.Name(user), nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats", "user", user, "subject", subject, "err", err) // e.g. a slow trigger subscription dropping messages
		}))
	if err != nil {
		return nil, fmt.Errorf("queue: connect in-process as %s: %w", user, err)
	}
	return nc, nil
}

// migrateStore moves the streams of a store written before the queue had
// an account of its own (JetStream kept them under the global account,
// "$G") to the queue's account, so an upgrade keeps every queued
// invocation. The rename is atomic; a store already moved is left alone.
func migrateStore(storeDir string) error {
	old := filepath.Join(storeDir, "jetstream", "$G")
	moved := filepath.Join(storeDir, "jetstream", queueAccount)
	if _, err := os.Stat(old); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(moved); err == nil {
		return fmt.Errorf("queue: both %s and %s exist; keep the one holding the queue and remove the other", old, moved)
	}
	if err := os.Rename(old, moved); err != nil {
		return fmt.Errorf("queue: move the streams to their account: %w", err)
	}
	return nil
}

// splitHostPort parses "host:port" or ":port"; port 0 picks a free one.
func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if port == 0 {
		port = -1 // nats-server's "random port"
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

func randomSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// natsLogger sends the server's log to slog. Its notices (startup banner,
// JetStream details) are debug: funcd logs what matters itself.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(string, ...any)           {}
