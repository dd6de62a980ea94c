// Command mkimage builds a Go main package into a single-layer OCI image and
// pushes it to a registry or writes it as a docker-archive or OCI archive:
//
//	mkimage -pkg ./examples/hello -ref 127.0.0.1:5000/hello:0.1 -push
//	mkimage -pkg ./examples/hello -ref 127.0.0.1:5000/hello:0.1 -tar hello.tar
//	mkimage -pkg ./examples/hello -ref example.com/hello:0.1 -tar hello.tar -format oci
//
// The README demo and the benchmarks use it; it is a thin wrapper over
// internal/imagebuild.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/funcd/funcd/internal/imagebuild"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	pkg, ref, tar, format, user, entrypoint string
	push                                    bool
	env                                     listFlag
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fs.StringVar(&o.pkg, "pkg", "", "directory of the Go main package to build (required)")
	fs.StringVar(&o.ref, "ref", "", "image reference, e.g. 127.0.0.1:5000/hello:0.1 (required)")
	fs.BoolVar(&o.push, "push", false, "push the image to the registry named in -ref (plain HTTP for localhost)")
	fs.StringVar(&o.tar, "tar", "", "write the image as a tar archive to this file (funcd image import loads it)")
	fs.StringVar(&o.format, "format", "docker", "format of -tar: docker (docker save's) or oci (an OCI image layout)")
	fs.StringVar(&o.entrypoint, "entrypoint", "", "binary path in the image (default /<package directory name>)")
	fs.StringVar(&o.user, "user", "", "image user, e.g. 65534:65534 (default root)")
	fs.Var(&o.env, "env", "KEY=VALUE recorded in the image config (repeatable)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.pkg == "" || o.ref == "":
		return o, errors.New("-pkg and -ref are required")
	case !o.push && o.tar == "":
		return o, errors.New("give -push, -tar FILE or both")
	case o.format != "docker" && o.format != "oci":
		return o, fmt.Errorf("-format %q: want docker or oci", o.format)
	}
	for _, kv := range o.env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return o, fmt.Errorf("-env %q is not KEY=VALUE", kv)
		}
	}
	if o.entrypoint == "" {
		abs, err := filepath.Abs(o.pkg)
		if err != nil {
			return o, err
		}
		o.entrypoint = "/" + filepath.Base(abs)
	}
	return o, nil
}

func run(ctx context.Context, args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "mkimage")
	if err != nil {
		return fmt.Errorf("create build dir: %w", err)
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "fn")
	if err := imagebuild.GoBuild(ctx, o.pkg, bin); err != nil {
		return err
	}
	img, err := imagebuild.Build(bin, imagebuild.Config{Entrypoint: o.entrypoint, Env: o.env, User: o.user})
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("image digest: %w", err)
	}
	if o.tar != "" {
		write := imagebuild.WriteTarball
		if o.format == "oci" {
			write = imagebuild.WriteOCIArchive
		}
		if err := write(img, o.ref, o.tar); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%s@%s)\n", o.tar, o.ref, digest)
	}
	if o.push {
		if err := imagebuild.Push(ctx, img, o.ref); err != nil {
			return err
		}
		fmt.Printf("pushed %s@%s\n", o.ref, digest)
	}
	return nil
}
