package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/funcd/funcd/internal/api"
)

// cliImageCommands are the subcommands of "funcd image".
var cliImageCommands = []cliSubcommand{
	{"import", "load images from an archive (docker save, or an OCI layout as tar; plain or gzip)", cliImageImport},
	{"list", "list images with their digests, sizes and the functions using them", cliImageList},
	{"ls", "alias for list", cliImageList},
	{"remove", "remove images no function uses", cliImageRemove},
	{"rm", "alias for remove", cliImageRemove},
}

// cliImage dispatches "funcd image SUBCOMMAND".
func cliImage(ctx context.Context, env cliEnv, args []string) error {
	return cliDispatch(ctx, env, "image",
		"Manage function images on a box without a registry: import archives, list and remove them.\nAn imported image with a pinned tag deploys without asking a registry; for :latest, or to\nbe sure, use the pull policy missing or never (funcd up --pull-policy, or the annotation\ncom.funcd.pull-policy on the function).",
		cliImageCommands, args)
}

func cliImageImport(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("image import", "FILE|- [flags]",
		"Load the images in an archive into funcd, unpacked and ready to deploy: the output of\n`docker save NAME:TAG` (or `docker save NAME:TAG | gzip`), or an OCI image layout as tar.\nWith -, the archive is read from stdin. The archive is streamed, never held in memory.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	quiet := fs.Bool("quiet", false, "print no progress")
	forServices := cliServicesFlag(fs)
	pos, c, err := cliStart(fs, env, args, gateway, 1, 1, "a FILE, or - for stdin")
	if err != nil {
		return err
	}
	if err := cliImageNamespace("image import", *forServices, namespace); err != nil {
		return err
	}
	var archive io.Reader
	size := int64(-1)
	if pos[0] == "-" {
		if env.Stdin == nil {
			return errors.New("image import: no stdin to read the archive from")
		}
		archive = env.Stdin
	} else {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("image import: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		archive = f
	}
	progress := &cliProgress{w: io.Discard, total: size}
	if !*quiet {
		progress.w = env.Stderr
	}
	imgs, err := c.ImportImage(ctx, *namespace, progress.reader(archive), size)
	progress.finish()
	if err != nil {
		return err
	}
	for _, img := range imgs {
		fmt.Fprintf(env.Stdout, "Imported %s %s (%s)\n", img.Name, img.Digest, cliSize(img.Size))
	}
	return nil
}

func cliImageList(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("image list", "[flags]", "List images: name, digest, size and the functions deployed with each.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	noTrunc := fs.Bool("no-trunc", false, "print whole digests")
	forServices := cliServicesFlag(fs)
	_, c, err := cliStart(fs, env, args, gateway, 0, 0, "no arguments")
	if err != nil {
		return err
	}
	if err := cliImageNamespace("image list", *forServices, namespace); err != nil {
		return err
	}
	imgs, err := c.ListImages(ctx, *namespace)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE\tFUNCTIONS")
	for _, img := range imgs {
		digest := img.Digest
		if !*noTrunc {
			digest = cliShortDigest(digest)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", img.Name, digest, cliSize(img.Size), cliOrDash(strings.Join(img.Functions, ",")))
	}
	return tw.Flush()
}

func cliImageRemove(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("image remove", "REF... [flags]", "Remove images. An image a deployed function (or, with --services, a side service) uses is refused.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	forServices := cliServicesFlag(fs)
	pos, c, err := cliStart(fs, env, args, gateway, 1, -1, "one or more image references")
	if err != nil {
		return err
	}
	if err := cliImageNamespace("image remove", *forServices, namespace); err != nil {
		return err
	}
	return cliRemoveEach(env, pos, "image remove: no such image", "Removed image", func(ref string) (string, string, error) {
		return ref, "", c.RemoveImage(ctx, ref, *namespace) // "NAME.NS" would read as part of the reference
	})
}

// cliServicesFlag is --services: the side services' images rather than a
// function namespace's.
func cliServicesFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("services", false, "the side services' images (docker-compose.yaml), in their namespace "+api.ServicesNamespace)
}

// cliImageNamespace points *namespace at the services' namespace for
// --services, which --namespace excludes.
func cliImageNamespace(cmd string, services bool, namespace *string) error {
	if !services {
		return nil
	}
	if *namespace != "" {
		return fmt.Errorf("%s: --services and --namespace exclude each other", cmd)
	}
	*namespace = api.ServicesNamespace
	return nil
}

// cliShortDigest keeps the algorithm and 12 hex digits, as docker does.
func cliShortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return algo + ":" + hex[:12]
}

// cliSize renders bytes in binary units ("12.5MiB").
func cliSize(n int64) string { return api.FormatBytes(n) + "B" }

// cliProgressMin is the smallest upload that prints progress.
const cliProgressMin = 4 << 20

// cliProgress shows an upload's progress on one line, rewritten in place:
// "sent 120 MiB of 300 MiB (40%)", or "sent 120 MiB" when the total is
// unknown (stdin). Uploads under cliProgressMin show nothing. The HTTP
// transport reads the body in its own goroutine, hence the lock.
type cliProgress struct {
	w     io.Writer
	total int64 // -1: unknown

	mu      sync.Mutex
	sent    int64
	shown   int64 // MiB on the line, -1 before the first
	printed bool
	done    bool
}

func (p *cliProgress) reader(r io.Reader) io.Reader {
	p.shown = -1
	return &cliProgressReader{r: r, p: p}
}

type cliProgressReader struct {
	r io.Reader
	p *cliProgress
}

func (r *cliProgressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.add(int64(n), err == io.EOF)
	return n, err
}

func (p *cliProgress) add(n int64, eof bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.sent += n
	if p.total >= 0 && p.total < cliProgressMin || p.total < 0 && p.sent < cliProgressMin {
		return
	}
	if mib := p.sent >> 20; mib != p.shown {
		p.shown, p.printed = mib, true
		fmt.Fprintf(p.w, "\r%s", p.line())
	}
	if eof {
		p.endLocked()
	}
}

// finish ends the progress line, if one was printed, so that what is
// printed next starts on a line of its own.
func (p *cliProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLocked()
}

func (p *cliProgress) endLocked() {
	if p.printed && !p.done {
		fmt.Fprintf(p.w, "\r%s\n", p.line())
	}
	p.done = true
}

func (p *cliProgress) line() string {
	if p.total <= 0 {
		return fmt.Sprintf("sent %d MiB", p.sent>>20)
	}
	return fmt.Sprintf("sent %d MiB of %d MiB (%d%%)", p.sent>>20, p.total>>20, p.sent*100/p.total)
}
