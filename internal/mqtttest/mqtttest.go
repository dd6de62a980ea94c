// Package mqtttest is a minimal MQTT 3.1.1 client for tests: connect with
// a user and password, subscribe, publish at QoS 0 or 1. It speaks just
// enough of the protocol to check what funcd's embedded broker lets a
// device do; it is not for production use.
//
// It imports only the standard library.
package mqtttest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Packet types (the high nibble of a packet's first byte).
const (
	connect    = 0x10
	connack    = 0x20
	publish    = 0x30
	puback     = 0x40
	subscribe  = 0x82 // with the reserved bits 0010
	suback     = 0x90
	disconnect = 0xe0
)

// SubackFailure is the return code of a refused subscription.
const SubackFailure = 0x80

// Client is one MQTT connection.
type Client struct {
	conn   net.Conn
	nextID uint16
}

// Dial connects and logs in. A refused login is an error naming the
// CONNACK return code.
func Dial(addr, clientID, user, password string) (*Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn}
	// A server's first MQTT login creates its JetStream streams: seconds
	// under qemu-user (the arm unit tests) with other packages' tests running.
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	// Protocol name, level 4, flags (user, password, clean session),
	// keep-alive 30 s, then the payload.
	flags := byte(0x02)
	if user != "" {
		flags |= 0x80
	}
	if password != "" {
		flags |= 0x40
	}
	body := append(str("MQTT"), 4, flags, 0, 30)
	body = append(body, str(clientID)...)
	if user != "" {
		body = append(body, str(user)...)
	}
	if password != "" {
		body = append(body, str(password)...)
	}
	if err := c.send(connect, body); err != nil {
		conn.Close()
		return nil, err
	}
	kind, ack, err := c.read()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read CONNACK: %w", err)
	}
	if kind != connack || len(ack) != 2 || ack[1] != 0 {
		conn.Close()
		return nil, fmt.Errorf("CONNACK %#x % x: login refused", kind, ack)
	}
	return c, nil
}

// Close disconnects.
func (c *Client) Close() error {
	_ = c.send(disconnect, nil)
	return c.conn.Close()
}

// Subscribe asks for one topic filter at QoS qos and returns the SUBACK's
// return code: the granted QoS, or SubackFailure.
func (c *Client) Subscribe(filter string, qos byte) (byte, error) {
	id := c.id()
	body := append([]byte{byte(id >> 8), byte(id)}, str(filter)...)
	if err := c.send(subscribe, append(body, qos)); err != nil {
		return 0, err
	}
	for {
		kind, ack, err := c.read()
		if err != nil {
			return 0, fmt.Errorf("read SUBACK: %w", err)
		}
		if kind&0xf0 != suback {
			continue // e.g. a retained message
		}
		if len(ack) != 3 || uint16(ack[0])<<8|uint16(ack[1]) != id {
			return 0, fmt.Errorf("SUBACK % x for packet %d", ack, id)
		}
		return ack[2], nil
	}
}

// Publish sends a message at QoS 0 or 1; at QoS 1 it waits for the
// PUBACK. A broker may answer a refused publish by closing the
// connection, which is then the error.
func (c *Client) Publish(topic string, payload []byte, qos byte) error {
	body := str(topic)
	if qos > 0 {
		id := c.id()
		body = append(body, byte(id>>8), byte(id))
	}
	if err := c.send(publish|qos<<1, append(body, payload...)); err != nil {
		return err
	}
	if qos == 0 {
		return nil
	}
	for {
		kind, _, err := c.read()
		if err != nil {
			return fmt.Errorf("read PUBACK: %w", err)
		}
		if kind&0xf0 == puback {
			return nil
		}
	}
}

// Receive waits up to d for a PUBLISH and returns its topic and payload.
func (c *Client) Receive(d time.Duration) (topic string, payload []byte, err error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	defer c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		kind, body, err := c.read()
		if err != nil {
			return "", nil, err
		}
		if kind&0xf0 != publish {
			continue
		}
		if len(body) < 2 {
			return "", nil, errors.New("short PUBLISH")
		}
		n := int(body[0])<<8 | int(body[1])
		if len(body) < 2+n {
			return "", nil, errors.New("short PUBLISH topic")
		}
		rest := body[2+n:]
		if kind&0x06 != 0 && len(rest) >= 2 { // QoS 1 or 2: a packet id, acknowledged
			_ = c.send(puback, rest[:2])
			rest = rest[2:]
		}
		return string(body[2 : 2+n]), rest, nil
	}
}

func (c *Client) id() uint16 {
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return c.nextID
}

func (c *Client) send(kind byte, body []byte) error {
	pkt := []byte{kind}
	for n := len(body); ; n >>= 7 { // remaining length, 7 bits a byte
		if n < 0x80 {
			pkt = append(pkt, byte(n))
			break
		}
		pkt = append(pkt, byte(n&0x7f|0x80))
	}
	_, err := c.conn.Write(append(pkt, body...))
	return err
}

func (c *Client) read() (byte, []byte, error) {
	var hdr [1]byte
	if _, err := io.ReadFull(c.conn, hdr[:]); err != nil {
		return 0, nil, err
	}
	n, shift := 0, 0
	for {
		var b [1]byte
		if _, err := io.ReadFull(c.conn, b[:]); err != nil {
			return 0, nil, err
		}
		n |= int(b[0]&0x7f) << shift
		if b[0]&0x80 == 0 {
			break
		}
		if shift += 7; shift > 21 {
			return 0, nil, errors.New("bad remaining length")
		}
	}
	body := make([]byte, n)
	_, err := io.ReadFull(c.conn, body)
	return hdr[0], body, err
}

func str(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
