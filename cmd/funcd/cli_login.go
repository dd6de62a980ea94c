package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

// cliInfoTimeout bounds the gateway lookup of `funcd version`.
const cliInfoTimeout = 5 * time.Second

func cliLogin(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("login", "[-u USER] (-p PASSWORD | --password-stdin) [flags]",
		"Check credentials against the gateway and save them for later commands.\nThe file is shared with faas-cli: $OPENFAAS_CONFIG/config.yml, default ~/.openfaas/config.yml.")
	gateway := cliGatewayFlag(fs)
	var (
		user, password string
		fromStdin      bool
		timeout        time.Duration
	)
	fs.StringVar(&user, "username", "admin", "gateway username")
	fs.StringVar(&user, "u", "admin", "shorthand for --username")
	fs.StringVar(&password, "password", "", "gateway password (visible to other users; prefer --password-stdin)")
	fs.StringVar(&password, "p", "", "shorthand for --password")
	fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from stdin")
	fs.BoolVar(&fromStdin, "s", false, "shorthand for --password-stdin")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the gateway")
	pos, err := cliParse(fs, env, args)
	if err != nil {
		return err
	}
	if err := cliWantArgs(fs, pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	switch {
	case password != "" && fromStdin:
		return errors.New("login: --password and --password-stdin are mutually exclusive")
	case fromStdin:
		b, err := io.ReadAll(env.Stdin)
		if err != nil {
			return fmt.Errorf("login: read password from stdin: %w", err)
		}
		password = strings.TrimSpace(string(b))
	case password != "":
		fmt.Fprintln(env.Stderr, "WARNING! Using --password is insecure, consider: cat password.txt | funcd login --password-stdin")
		password = strings.TrimSpace(password)
	default:
		return errors.New("login: give --password or --password-stdin")
	}
	if password == "" {
		return errors.New("login: the password is empty")
	}
	user = strings.TrimSpace(user)
	if user == "" {
		return errors.New("login: the username is empty")
	}

	gw := cliGateway(env, *gateway, "")
	dir, err := cliConfigDir(env)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	fmt.Fprintln(env.Stdout, "Calling the gateway to validate the credentials...")
	c := client.New(gw, client.WithBasicAuth(user, password))
	checkCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := c.ListFunctions(checkCtx, ""); err != nil {
		var se *client.StatusError
		if errors.As(err, &se) && se.Code == http.StatusUnauthorized {
			return errors.New("unable to login, either username or password is incorrect")
		}
		return fmt.Errorf("login to %s: %w", gw, err)
	}
	if err := client.SaveCredentials(dir, gw, user, password); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	fmt.Fprintf(env.Stdout, "credentials saved for %s %s\n", user, gw)
	return nil
}

func cliVersion(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("version", "[flags]", "Print the CLI's version, commit, Go release and platform and, if reachable, the gateway's.")
	gateway := cliGatewayFlag(fs)
	pos, err := cliParse(fs, env, args)
	if err != nil {
		return err
	}
	if err := cliWantArgs(fs, pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	b := thisBuild()
	fmt.Fprintf(env.Stdout, "CLI:\n version: %s\n commit:  %s\n go:      %s\n os/arch: %s\n",
		b.Version, b.Commit, b.Go, b.Platform)

	gw := cliGateway(env, *gateway, "")
	c, err := cliClient(env, gw)
	if err != nil {
		fmt.Fprintf(env.Stderr, "\nGateway %s: %v\n", gw, err)
		return nil
	}
	infoCtx, cancel := context.WithTimeout(ctx, cliInfoTimeout)
	defer cancel()
	info, err := c.Info(infoCtx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "\nGateway %s not reachable: %v\n", gw, err)
		return nil
	}
	cliWriteInfo(env.Stdout, gw, info)
	return nil
}

func cliWriteInfo(w io.Writer, gateway string, info api.GatewayInfo) {
	v := info.Version
	if v == nil {
		v = &api.VersionInfo{}
	}
	fmt.Fprintf(w, "\nGateway:\n uri:     %s\n version: %s\n sha:     %s\n arch:    %s\n",
		gateway, cliOrDash(v.Release), cliOrDash(v.SHA), cliOrDash(info.Arch))
	p := info.Provider
	if p == nil {
		return
	}
	pv := p.Version
	if pv == nil {
		pv = &api.VersionInfo{}
	}
	fmt.Fprintf(w, "\nProvider:\n name:          %s\n orchestration: %s\n version:       %s\n sha:           %s\n",
		cliOrDash(p.Name), cliOrDash(p.Orchestration), cliOrDash(pv.Release), cliOrDash(pv.SHA))
}
