package containerd

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/containerd/containerd/remotes"
	"github.com/containerd/containerd/remotes/docker"
)

func (c *Client) resolver() remotes.Resolver {
	r := c.registries
	return docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(
			docker.WithPlainHTTP(r.plainHTTP),
			docker.WithAuthorizer(docker.NewDockerAuthorizer(
				docker.WithAuthCreds(r.credentials),
			)),
		),
	})
}

// plainHTTP reports whether host (host or host:port) is reached without TLS.
func (r Registries) plainHTTP(host string) (bool, error) {
	if slices.Contains(r.Insecure, host) {
		return true, nil
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback(), nil
}

// credentials looks host up in the Docker config file. A missing file, or a
// host it does not name, means anonymous access.
func (r Registries) credentials(host string) (string, string, error) {
	if r.DockerConfig == "" {
		return "", "", nil
	}
	data, err := os.ReadFile(r.DockerConfig)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("read registry credentials: %w", err)
	}
	return lookupCredentials(data, host)
}

func lookupCredentials(configJSON []byte, host string) (string, string, error) {
	var cfg struct {
		Auths map[string]struct {
			Auth     string `json:"auth"`
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(configJSON, &cfg); err != nil {
		return "", "", fmt.Errorf("parse registry credentials: %w", err)
	}
	for key, a := range cfg.Auths {
		if registryHost(key) != registryHost(host) {
			continue
		}
		if a.Auth == "" {
			return a.Username, a.Password, nil
		}
		raw, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			return "", "", fmt.Errorf("registry credentials for %s: auth is not base64", key)
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return "", "", fmt.Errorf("registry credentials for %s: auth is not user:password", key)
		}
		return user, pass, nil
	}
	return "", "", nil
}

// registryHost reduces a config.json key ("https://index.docker.io/v1/",
// "ghcr.io") to the host containerd asks about.
func registryHost(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	key, _, _ = strings.Cut(key, "/")
	switch key {
	case "index.docker.io", "docker.io":
		return "registry-1.docker.io"
	}
	return key
}
