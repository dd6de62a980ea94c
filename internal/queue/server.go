package queue

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"
)

// User is the name outside NATS and MQTT clients log in with, when
// --nats-listen or --mqtt-listen is on.
const User = "funcd"

// internalUser is funcd's own in-process connection.
const internalUser = "funcd-internal"

// startServer starts the embedded NATS server with JetStream on file
// storage under cfg.StoreDir and connects to it in-process.
func startServer(cfg Config, maxPayload int32, log *slog.Logger) (*server.Server, *nats.Conn, error) {
	internalPass, err := randomSecret()
	if err != nil {
		return nil, nil, err
	}
	// The server keeps bcrypt hashes, not the passwords (and then does not
	// warn about plaintext ones at every start). The lowest cost: the
	// passwords are random, long and never typed, so slowing guesses buys
	// nothing, and a device reconnecting pays ~1 ms, not ~60.
	internalHash, err := bcrypt.GenerateFromPassword([]byte(internalPass), bcrypt.MinCost)
	if err != nil {
		return nil, nil, err
	}
	opts := &server.Options{
		ServerName:         "funcd",
		DontListen:         cfg.NATSListen == "",
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		JetStreamMaxStore:  jetStreamMaxStore,
		JetStreamMaxMemory: 64 << 20,
		SyncAlways:         cfg.SyncAlways,
		MaxPayload:         maxPayload,
		NoSigs:             true,
		Users: []*server.User{
			{Username: internalUser, Password: string(internalHash)},
		},
	}
	if cfg.NATSListen != "" || cfg.MQTTListen != "" {
		if cfg.Password == "" {
			return nil, nil, fmt.Errorf("queue: a password is required to listen for outside clients")
		}
		// Outside clients (sensors, scripts) publish events and make
		// requests; the queue's own subjects and the JetStream API stay
		// funcd's, so no client can read queued requests or drop a stream.
		internal := []string{"funcd.>", "$JS.>", "$KV.>", "$O.>", "$SYS.>"}
		hash, err := bcrypt.GenerateFromPassword([]byte(cfg.Password), bcrypt.MinCost)
		if err != nil {
			return nil, nil, err
		}
		opts.Users = append(opts.Users, &server.User{Username: User, Password: string(hash),
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Deny: internal},
				Subscribe: &server.SubjectPermission{Deny: internal},
			}})
	}
	if cfg.NATSListen != "" {
		if opts.Host, opts.Port, err = splitHostPort(cfg.NATSListen); err != nil {
			return nil, nil, fmt.Errorf("--nats-listen: %w", err)
		}
	}
	if cfg.MQTTListen != "" {
		if opts.MQTT.Host, opts.MQTT.Port, err = splitHostPort(cfg.MQTTListen); err != nil {
			return nil, nil, fmt.Errorf("--mqtt-listen: %w", err)
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("queue: nats server: %w", err)
	}
	ns.SetLoggerV2(natsLogger{log}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, nil, fmt.Errorf("queue: nats server did not start within 30s (store %s)", cfg.StoreDir)
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.UserInfo(internalUser, internalPass),
		nats.Name("funcd"), nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats", "subject", subject, "err", err) // e.g. a slow trigger subscription dropping messages
		}))
	if err != nil {
		ns.Shutdown()
		return nil, nil, fmt.Errorf("queue: connect in-process: %w", err)
	}
	return ns, nc, nil
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
