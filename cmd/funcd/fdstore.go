package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// funcd keeps its listening sockets in systemd's file descriptor store
// (FileDescriptorStoreMax= in the unit; https://systemd.io/FILE_DESCRIPTOR_STORE/).
// systemd holds a copy of each while funcd restarts, upgrades or is
// restarted after a crash, so the kernel keeps accepting connections into
// the socket's backlog and they are served by the next funcd, instead of
// being refused during the gap. Without systemd nothing changes.

// fdStore is the sockets systemd passed back at start, by name.
type fdStore struct {
	notifySocket string
	passed       map[string]*os.File
	log          *slog.Logger
}

// openFDStore takes the descriptors systemd passed (LISTEN_FDS, for this
// PID, named by LISTEN_FDNAMES) and clears those variables, so that no
// child inherits them.
func openFDStore(getenv func(string) string, log *slog.Logger) *fdStore {
	s := &fdStore{notifySocket: getenv("NOTIFY_SOCKET"), passed: map[string]*os.File{}, log: log}
	defer func() {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}()
	if pid, err := strconv.Atoi(getenv("LISTEN_PID")); err != nil || pid != os.Getpid() {
		return s
	}
	n, err := strconv.Atoi(getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return s
	}
	names := strings.Split(getenv("LISTEN_FDNAMES"), ":")
	const first = 3 // SD_LISTEN_FDS_START
	for i := range n {
		fd := first + i
		syscall.CloseOnExec(fd)
		name := "unknown"
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		f := os.NewFile(uintptr(fd), name)
		if old := s.passed[name]; old != nil {
			old.Close()
		}
		s.passed[name] = f
	}
	return s
}

// listen returns a listener on addr named name: the one systemd kept, when
// it listens on that same address, or a new one made by listen (which is
// then kept instead). A kept socket for another address (the settings
// changed) is closed and dropped from the store.
func (s *fdStore) listen(ctx context.Context, name, addr string, listen func(context.Context) (net.Listener, error)) (net.Listener, error) {
	if f := s.passed[name]; f != nil {
		delete(s.passed, name)
		ln, err := net.FileListener(f)
		f.Close()
		if err == nil && sameAddr(ln.Addr(), addr) {
			s.log.Info("took over the listening socket kept by systemd", "name", name, "address", ln.Addr().String())
			return ln, nil
		}
		if err == nil {
			ln.Close()
		}
		s.notify("FDSTOREREMOVE=1\nFDNAME="+name, nil)
	}
	ln, err := listen(ctx)
	if err != nil || ln == nil {
		return ln, err
	}
	s.keep(name, ln)
	return ln, nil
}

// keep hands a copy of ln's socket to systemd's store under name.
func (s *fdStore) keep(name string, ln net.Listener) {
	if s.notifySocket == "" {
		return
	}
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return
	}
	f, err := fl.File() // a duplicate: ln keeps working
	if err != nil {
		s.log.Warn("keep listening socket in systemd", "name", name, "err", err)
		return
	}
	defer f.Close()
	if err := s.notify("FDSTORE=1\nFDNAME="+name, f); err != nil {
		s.log.Warn("keep listening socket in systemd; connections during a restart will be refused", "name", name, "err", err)
	}
}

// discard closes the socket kept under name, if any, and drops it from the
// store: it would hold an address funcd now listens on otherwise.
func (s *fdStore) discard(name string) {
	if f := s.passed[name]; f != nil {
		delete(s.passed, name)
		f.Close()
		s.notify("FDSTOREREMOVE=1\nFDNAME="+name, nil)
	}
}

// close closes what systemd passed and funcd did not take.
func (s *fdStore) close() {
	for name, f := range s.passed {
		f.Close()
		s.notify("FDSTOREREMOVE=1\nFDNAME="+name, nil)
	}
}

// notify sends state to systemd with f attached, if not nil.
func (s *fdStore) notify(state string, f *os.File) error {
	if s.notifySocket == "" {
		return nil
	}
	path := s.notifySocket
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:] // abstract namespace
	}
	// An unconnected socket: Go refuses ancillary data on connected
	// datagram sockets.
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	defer syscall.Close(fd)
	to := &syscall.SockaddrUnix{Name: path}
	if f == nil {
		if err := syscall.Sendmsg(fd, []byte(state), nil, to, 0); err != nil {
			return fmt.Errorf("notify systemd: %w", err)
		}
		return nil
	}
	// Not f.Fd(): it would put the socket, shared with the listener, in
	// blocking mode, and the listener's Accept could then not be
	// interrupted by Close.
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	var serr error
	err = rc.Control(func(sfd uintptr) {
		serr = syscall.Sendmsg(fd, []byte(state), syscall.UnixRights(int(sfd)), to, 0)
	})
	if err = cmp.Or(err, serr); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	return nil
}

// sameAddr reports whether a listener on got serves what listening on want
// ("host:port", host empty for every address) would.
func sameAddr(got net.Addr, want string) bool {
	ta, ok := got.(*net.TCPAddr)
	if !ok {
		return false
	}
	host, port, err := net.SplitHostPort(want)
	if err != nil || port != strconv.Itoa(ta.Port) {
		return false
	}
	if host == "" {
		return ta.IP.IsUnspecified()
	}
	ip := net.ParseIP(host)
	if ip == nil {
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return false
		}
		ip = ips[0]
	}
	return ip.Equal(ta.IP) || ip.IsUnspecified() && ta.IP.IsUnspecified()
}
