package client

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/funcd/funcd/internal/atomicfile"
)

// ConfigFileName is the credentials file inside the config directory
// (faas-cli's ~/.openfaas, or $OPENFAAS_CONFIG).
const ConfigFileName = "config.yml"

// authBasic is the only auth type funcd stores or uses.
const authBasic = "basic"

// configFile is faas-cli's config.yml. Keys funcd does not know (other
// auth types' options, future fields) are kept on rewrite.
type configFile struct {
	Auths []authEntry    `yaml:"auths"`
	Extra map[string]any `yaml:",inline"`
}

type authEntry struct {
	Gateway string         `yaml:"gateway,omitempty"`
	Auth    string         `yaml:"auth,omitempty"`
	Token   string         `yaml:"token,omitempty"`
	Extra   map[string]any `yaml:",inline"`
}

// normalizeGateway is the key a gateway URL is stored under: lower-cased,
// surrounding space and trailing slashes removed, as faas-cli does.
func normalizeGateway(gateway string) string {
	return strings.TrimRight(strings.ToLower(strings.TrimSpace(gateway)), "/")
}

// SaveCredentials stores Basic credentials for gateway in dir/config.yml,
// replacing any earlier entry for that gateway and keeping the others. The
// directory is created 0700, the file written atomically with mode 0600.
func SaveCredentials(dir, gateway, user, password string) error {
	path := filepath.Join(dir, ConfigFileName)
	if strings.Contains(user, ":") {
		return fmt.Errorf("save credentials: username must not contain ':'")
	}
	cfg, err := readConfig(path)
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	entry := authEntry{
		Gateway: normalizeGateway(gateway),
		Auth:    authBasic,
		Token:   base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
	}
	replaced := false
	for i, a := range cfg.Auths {
		if normalizeGateway(a.Gateway) == entry.Gateway {
			cfg.Auths[i] = entry
			replaced = true
		}
	}
	if !replaced {
		cfg.Auths = append(cfg.Auths, entry)
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("save credentials: encode %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

// LoadCredentials returns the Basic credentials stored for gateway in
// dir/config.yml. ok is false, with a nil error, when the file or an entry
// for the gateway is missing, or the entry is not Basic auth.
func LoadCredentials(dir, gateway string) (user, password string, ok bool, err error) {
	path := filepath.Join(dir, ConfigFileName)
	cfg, err := readConfig(path)
	if err != nil {
		return "", "", false, fmt.Errorf("load credentials: %w", err)
	}
	key := normalizeGateway(gateway)
	for _, a := range cfg.Auths {
		if normalizeGateway(a.Gateway) != key || a.Auth != authBasic {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(a.Token)
		if err != nil {
			return "", "", false, fmt.Errorf("load credentials for %s from %s: bad token: %w", key, path, err)
		}
		user, password, found := strings.Cut(string(raw), ":")
		if !found {
			return "", "", false, fmt.Errorf("load credentials for %s from %s: token is not user:password", key, path)
		}
		return user, password, true, nil
	}
	return "", "", false, nil
}

// readConfig parses path; a missing file is an empty config.
func readConfig(path string) (*configFile, error) {
	cfg := &configFile{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return cfg, nil
}
