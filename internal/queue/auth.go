package queue

import (
	"crypto/subtle"
	"encoding/base64"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Who may do what on the embedded server (authenticator.Check decides it
// for every connection, NATS and MQTT alike):
//
//   - funcd's own connections (internalUser, eventsUser) come only over the
//     in-process pipe, with a password made at every start.
//   - Outside clients log in as User with the password in
//     STATE/secrets/nats-password, into the EVENTS account. They get what
//     triggers need and nothing else: they publish events to any subject
//     outside the reserved spaces, and subscribe to nothing, so no client
//     reads another's events or the answers to another's requests.
//   - A client that also proves an nkey (CONNECT with nkey and the nonce
//     signed) may make requests: it subscribes to its own inbox,
//     _INBOX.<its public key>.>, and nothing else. A function's answer to
//     a request goes to that inbox, which no other client can read.
//
// reserved are the subject spaces an outside client may neither publish
// nor subscribe to: the JetStream, KV and object store APIs, the system
// account, the MQTT bridge's internals, funcd's own subjects, and other
// clients' inboxes.
var reserved = []string{"$JS.>", "$KV.>", "$O.>", "$SYS.>", "$MQTT.>", "$NRG.>", "funcd.>", "_INBOX.>"}

// InboxPrefix is the inbox an outside client authenticated with the nkey
// pub must use for its requests (nats.CustomInboxPrefix).
func InboxPrefix(pub string) string { return "_INBOX." + pub }

// authenticator implements server.Authentication.
type authenticator struct {
	internalPass string // of funcd's in-process connections
	outsidePass  string // of User; "" when no outside listener is on
	queue        *server.Account
	events       *server.Account
}

func newAuthenticator(outsidePass string, outside bool) (*authenticator, error) {
	internal, err := randomSecret()
	if err != nil {
		return nil, err
	}
	a := &authenticator{internalPass: internal}
	if outside {
		a.outsidePass = outsidePass
	}
	return a, nil
}

// Check authenticates one connection and registers what it may do.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false // no routes, gateways or leaf nodes
	}
	o := c.GetOpts()
	switch o.Username {
	case internalUser, eventsUser:
		if !inProcess(c) || !equal(o.Password, a.internalPass) {
			return false
		}
		if o.Username == internalUser {
			c.RegisterUser(&server.User{Username: internalUser, Account: a.queue})
			return true
		}
		// Triggers subscribe to event subjects and answer requests; they
		// publish nothing else, so a request whose reply subject names
		// the JetStream API cannot make them a deputy.
		c.RegisterUser(&server.User{Username: eventsUser, Account: a.events, Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
			Subscribe: &server.SubjectPermission{Deny: reserved},
		}})
		return true
	case User:
		if a.outsidePass == "" || !equal(o.Password, a.outsidePass) {
			return false
		}
		inbox, ok := provenInbox(c, o)
		if !ok {
			return false
		}
		c.RegisterUser(&server.User{Username: User, Account: a.events, Permissions: outsidePermissions(inbox)})
		return true
	}
	return false
}

// outsidePermissions: publish anywhere but the reserved spaces; subscribe
// only to inbox ("" for none).
func outsidePermissions(inbox string) *server.Permissions {
	sub := []string{"$FUNCD.NONE"} // an allow list that matches nothing a client can send to
	if inbox != "" {
		sub = []string{inbox + ".>"}
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{">"}, Deny: reserved},
		Subscribe: &server.SubjectPermission{Allow: sub},
	}
}

// provenInbox returns the inbox of a client that signed the server's
// nonce with an nkey, "" for a client without one, and false for a
// signature that does not verify.
func provenInbox(c server.ClientAuthentication, o *server.ClientOpts) (string, bool) {
	if o.Nkey == "" {
		return "", true
	}
	pub, err := nkeys.FromPublicKey(o.Nkey)
	if err != nil || !nkeys.IsValidPublicUserKey(o.Nkey) {
		return "", false
	}
	sig, err := base64.RawURLEncoding.DecodeString(o.Sig)
	if err != nil {
		if sig, err = base64.StdEncoding.DecodeString(o.Sig); err != nil {
			return "", false
		}
	}
	if nonce := c.GetNonce(); len(nonce) == 0 || pub.Verify(nonce, sig) != nil {
		return "", false
	}
	return InboxPrefix(o.Nkey), true
}

// inProcess reports whether c came over nats.InProcessServer's pipe
// rather than a socket.
func inProcess(c server.ClientAuthentication) bool {
	addr := c.RemoteAddress()
	return addr != nil && addr.Network() == "pipe"
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
