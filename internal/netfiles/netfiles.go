// Package netfiles writes the resolv.conf and hosts files that every
// function gets. Functions live in their own network namespace, where the
// host's systemd-resolved stub (127.0.0.53) is unreachable, so resolv.conf
// names real upstream resolvers; the hosts file names the host "gateway" so
// a function can call http://gateway:8080/function/other.
package netfiles

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/funcd/funcd/internal/atomicfile"
)

// Hosts' resolver files, most useful first: systemd-resolved's list of
// upstreams, then the ordinary file.
var hostResolvConfs = []string{"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"}

// Options say what to write.
type Options struct {
	Gateway     netip.Addr // the host's address on the bridge
	Nameservers []string   // explicit resolvers; empty means the host's upstreams
	Log         *slog.Logger
}

// Files are the paths written.
type Files struct {
	ResolvConf string
	Hosts      string
}

// Write writes dir/resolv.conf and dir/hosts.
func Write(dir string, opts Options) (Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, fmt.Errorf("network files: %w", err)
	}
	servers, search := opts.Nameservers, []string(nil)
	if len(servers) == 0 {
		servers, search = hostResolvers(hostResolvConfs)
		if len(servers) == 0 && opts.Log != nil {
			opts.Log.Warn("no upstream DNS resolver found on the host; functions can only reach addresses, not names (set --nameserver)")
		}
	}
	f := Files{ResolvConf: filepath.Join(dir, "resolv.conf"), Hosts: filepath.Join(dir, "hosts")}
	if err := atomicfile.WriteIfChanged(f.ResolvConf, resolvConf(servers, search), 0o644); err != nil {
		return Files{}, err
	}
	// In place: replicas adopted from the last run have it bind-mounted.
	// Side services' names are added by UpdateHosts once they are known.
	if err := UpdateHosts(f.Hosts, opts.Gateway, nil); err != nil {
		return Files{}, err
	}
	return f, nil
}

// hostResolvers returns the first non-loopback nameservers found in files,
// and that file's search domains.
func hostResolvers(files []string) (servers, search []string) {
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		servers, search = parseResolvConf(data)
		if len(servers) > 0 {
			return servers, search
		}
	}
	return nil, nil
}

func parseResolvConf(data []byte) (servers, search []string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			addr, err := netip.ParseAddr(fields[1])
			if err == nil && !addr.IsLoopback() {
				servers = append(servers, addr.String())
			}
		case "search":
			search = fields[1:]
		}
	}
	return servers, search
}

func resolvConf(servers, search []string) []byte {
	var b bytes.Buffer
	b.WriteString("# written by funcd\n")
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	return b.Bytes()
}

func hosts(gateway netip.Addr, services ...Host) []byte {
	b := []byte(fmt.Sprintf("# written by funcd\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\tgateway\n", gateway))
	for _, h := range services {
		b = fmt.Appendf(b, "%s\t%s\n", h.Addr, h.Name)
	}
	return b
}

// Host is a name the hosts file gives an address: a side service.
type Host struct {
	Name string
	Addr netip.Addr
}

// UpdateHosts rewrites the hosts file at path, written by Write, to list
// services beside the gateway. It writes in place, not by renaming: the
// file is bind-mounted into running containers, which keep the inode they
// were given and so see the change.
func UpdateHosts(path string, gateway netip.Addr, services []Host) error {
	want := hosts(gateway, services...)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, want) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("hosts file: %w", err)
	}
	// Write before truncating, so a reader never meets an empty file.
	_, werr := f.WriteAt(want, 0)
	if werr == nil {
		werr = f.Truncate(int64(len(want)))
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("hosts file: %w", werr)
	}
	return nil
}
