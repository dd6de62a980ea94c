// Package basicauth creates funcd's admin credentials on first start and
// guards handlers with HTTP Basic auth, the scheme faas-cli and the
// OpenFaaS UI speak. It never logs or returns the password in errors.
package basicauth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/funcd/funcd/internal/atomicfile"
)

// File names inside the secrets directory, as faasd names them.
const (
	UserFile     = "basic-auth-user"
	PasswordFile = "basic-auth-password"
)

// Credentials are one user and password.
type Credentials struct {
	User     string
	Password string
}

// Ensure reads the credentials from dir, creating them on first start: user
// "admin" and a random password, files of mode 0600 in a directory of mode
// 0700. Existing files are never changed.
func Ensure(dir string) (Credentials, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Credentials{}, fmt.Errorf("credentials dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return Credentials{}, fmt.Errorf("credentials dir: %w", err)
	}
	user, err := readOrCreate(filepath.Join(dir, UserFile), func() (string, error) { return "admin", nil })
	if err != nil {
		return Credentials{}, err
	}
	pass, err := readOrCreate(filepath.Join(dir, PasswordFile), randomPassword)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{User: user, Password: pass}, nil
}

func readOrCreate(path string, create func() (string, error)) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		v := strings.TrimSpace(string(data))
		if v == "" {
			return "", fmt.Errorf("credentials: %s is empty", path)
		}
		return v, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("credentials: %w", err)
	}
	v, err := create()
	if err != nil {
		return "", err
	}
	if err := atomicfile.Write(path, []byte(v), 0o600); err != nil {
		return "", fmt.Errorf("credentials: %w", err)
	}
	return v, nil
}

func randomPassword() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 40)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// Require wraps next so that it runs only for requests carrying c. Others
// get 401 with the WWW-Authenticate header browsers need to prompt.
func Require(c Credentials, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Valid(c, r) {
			Deny(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Valid reports whether r carries c as HTTP Basic credentials.
func Valid(c Credentials, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	return ok && c.Match(user, pass)
}

// Match reports whether user and password are c's, in constant time:
// hashing first makes the comparison the same whatever the lengths, and
// both halves are always compared.
func (c Credentials) Match(user, password string) bool {
	wantUser, wantPass := sha256.Sum256([]byte(c.User)), sha256.Sum256([]byte(c.Password))
	gotUser, gotPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	return subtle.ConstantTimeCompare(gotUser[:], wantUser[:])&subtle.ConstantTimeCompare(gotPass[:], wantPass[:]) == 1
}

// Deny answers 401 with the WWW-Authenticate header browsers need to
// prompt.
func Deny(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="Restricted"`)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte("invalid credentials"))
}

// EnsurePassword returns the password kept in the file at path, creating
// the file (0600) with a random one the first time.
func EnsurePassword(path string) (string, error) {
	return readOrCreate(path, randomPassword)
}
