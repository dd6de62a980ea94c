// Package config reads funcd's daemon settings from flags and FUNCD_*
// environment variables, with every default in one place. No other package
// reads the environment.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// Daemon is the configuration of `funcd up`.
type Daemon struct {
	Listen             string
	UIListen           string // "" serves the web UI on Listen
	StateDir           string
	ContainerdAddress  string
	Bridge             string
	Subnet             netip.Prefix
	CNIBinDir          string
	InsecureRegistries []string
	Nameservers        []string
	Timeout            time.Duration
	ReadyTimeout       time.Duration
	StopGrace          time.Duration
	ScaleDownDelay     time.Duration
	MemoryBudget       int64 // bytes; 0 for none
	PidsLimit          int64
	MaxReplicas        uint64 // of one function
	LogLevel           string
	LogMaxSize         int64 // bytes of a replica's log file before it is rotated
	PullPolicy         api.PullPolicy
	MaxImageSize       int64 // bytes of an image archive POSTed to /system/images
	GoMemoryLimit      int64 // bytes: funcd's own soft memory limit; 0 keeps the Go runtime's
	// Compose is the docker-compose.yaml of the side services: --compose,
	// else STATE/docker-compose.yaml when it exists; "" for none.
	Compose string

	// The queue of asynchronous invocations and the event triggers.
	QueueWorkers       int   // queued invocations running at once
	QueueMaxBody       int64 // bytes
	QueueMaxBytes      int64 // bytes; 0 for no cap
	QueueRetryAttempts int
	QueueRetryCodes    []int
	QueueRetryMinWait  time.Duration
	QueueRetryMaxWait  time.Duration
	QueueFsync         bool
	QueueTimeout       time.Duration
	NATSListen         string // "" for in-process only
	MQTTListen         string // "" for no MQTT
	// CallbackAllow are ranges callbacks may reach although they are the
	// host's own, loopback, link-local or the functions' network.
	CallbackAllow []netip.Prefix
}

// cniBinDirs are searched in order for the CNI plugins.
// DefaultStateDir is --state-dir's default, which funcd install also needs.
const DefaultStateDir = "/var/lib/funcd"

var cniBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// ParseDaemon parses args (without the subcommand) for `funcd up`. Each flag
// --some-name falls back to the environment variable FUNCD_SOME_NAME before
// its default. getenv is os.Getenv in production.
func ParseDaemon(args []string, getenv func(string) string, usage io.Writer) (Daemon, error) {
	return parseDaemon(args, getenv, usage, nil)
}

// parseDaemon is ParseDaemon. When inspect is not nil it is given the
// flags, with their defaults, instead of parsing anything.
func parseDaemon(args []string, getenv func(string) string, usage io.Writer, inspect func(*flag.FlagSet)) (Daemon, error) {
	var d Daemon
	var subnet, budget string
	var logMaxSize, queueMaxBody, queueMaxBytes, retryCodes, pullPolicy, maxImageSize, goMemoryLimit string
	var insecure, nameservers, callbackAllow listFlag
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&d.Listen, "listen", ":8080", "address for the API, the UI and invocations")
	fs.StringVar(&d.UIListen, "ui-listen", "", "host:port serving the web UI on an origin of its own (then --listen serves no UI\nand takes no UI sessions); empty serves it on --listen")
	fs.StringVar(&d.StateDir, "state-dir", DefaultStateDir, "where funcd keeps its state (functions, secrets, logs, queue)")
	fs.StringVar(&d.ContainerdAddress, "containerd-address", "/run/containerd/containerd.sock", "containerd's socket")
	fs.StringVar(&d.Bridge, "bridge", "funcd0", "name of the CNI bridge functions attach to")
	fs.StringVar(&subnet, "subnet", "10.62.0.0/16", "IPv4 subnet of the bridge network")
	fs.StringVar(&d.CNIBinDir, "cni-bin-dir", firstDir(cniBinDirs), "directory of the CNI plugins")
	fs.Var(&insecure, "insecure-registry", "host:port of a registry reached over plain HTTP (repeatable; localhost and 127.0.0.0/8 always are)")
	fs.Var(&nameservers, "nameserver", "DNS server for functions (repeatable; default: the host's upstream resolvers)")
	fs.DurationVar(&d.Timeout, "timeout", 60*time.Second, "longest synchronous invocation, including the wait for a ready replica")
	fs.DurationVar(&d.ReadyTimeout, "ready-timeout", 30*time.Second, "how long a new replica may take to become ready")
	fs.DurationVar(&d.StopGrace, "stop-grace", 10*time.Second, "time a replica gets to drain and exit on SIGTERM before SIGKILL")
	fs.DurationVar(&d.ScaleDownDelay, "scale-down-delay", 30*time.Second, "how long the load must stay low before autoscaling removes replicas")
	fs.StringVar(&budget, "memory-budget", "80%", "what the memory limits of all replicas may add up to: a quantity (e.g. 2Gi), a percentage of the host's RAM, or 0 for no budget")
	fs.Int64Var(&d.PidsLimit, "pids-limit", 1024, "processes per replica (0 for no limit)")
	fs.Uint64Var(&d.MaxReplicas, "max-replicas", 100, "most replicas of one function: com.openfaas.scale.min/max, scale requests and\nautoscaling stay within it (the addresses of --subnet bound all replicas together)")
	fs.StringVar(&d.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&logMaxSize, "log-max-size", "1Mi", "size (e.g. 512Ki, 1Mi) at which a replica's log file STATE/logs/NS/FUNCTION/ID.log\nis rotated to ID.log.1; one rotated file is kept, so each replica's logs take at most twice this")
	fs.StringVar(&pullPolicy, "pull-policy", "", "when a deploy asks the registry for the image: always, missing (only when there is\nno local copy) or never (imported images only); default: a pinned tag or digest\npresent locally is used, :latest is pulled, falling back to the local copy\n(annotation com.funcd.pull-policy overrides it per function)")
	fs.StringVar(&maxImageSize, "max-image-size", "4Gi", "largest image archive POST /system/images (funcd image import) takes, uncompressed (413 above it)")
	fs.StringVar(&goMemoryLimit, "go-memory-limit", "32Mi", "soft limit of funcd's own Go memory (heap, stacks, runtime): near it funcd\ncollects garbage sooner and hands free pages back to the kernel; a heap that\nneeds more still gets it; 0 keeps Go's default (GOMEMLIMIT, else none)")
	fs.IntVar(&d.QueueWorkers, "queue-workers", 32, "queued invocations running at once, all functions together\n(a function's label com.openfaas.queue.max-inflight caps its own share)")
	fs.StringVar(&queueMaxBody, "queue-max-body", "1Mi", "largest body of an asynchronous invocation (413 above it)")
	fs.StringVar(&queueMaxBytes, "queue-max-bytes", "1Gi", "what the invocations waiting in the queue may take on disk (503 above it; 0 for no cap)")
	fs.IntVar(&d.QueueRetryAttempts, "queue-retry-attempts", 10, "attempts at a queued invocation before it becomes a dead letter\n(annotation com.openfaas.retry.attempts overrides it per function)")
	fs.StringVar(&retryCodes, "queue-retry-codes", "408,429,502,503,504", "function statuses that are retried (com.openfaas.retry.codes);\nerrors reaching the function always are")
	fs.DurationVar(&d.QueueRetryMinWait, "queue-retry-min-wait", 2*time.Second, "first wait before a retry, doubled each time (com.openfaas.retry.min_wait)")
	fs.DurationVar(&d.QueueRetryMaxWait, "queue-retry-max-wait", 2*time.Minute, "longest wait between retries (com.openfaas.retry.max_wait)")
	fs.DurationVar(&d.QueueTimeout, "queue-timeout", 5*time.Minute, "longest queued invocation, including the wait for a ready replica\n(--timeout bounds synchronous ones)")
	fs.BoolVar(&d.QueueFsync, "queue-fsync", true, "fsync each queued invocation before answering 202, so a power cut loses none;\nfalse trades that for throughput (a crash of funcd alone still loses none)")
	fs.StringVar(&d.NATSListen, "nats-listen", "", "host:port where outside NATS clients may connect (user funcd, password in\nSTATE/secrets/nats-password); empty keeps NATS inside funcd")
	fs.Var(&callbackAllow, "callback-allow", "CIDR range X-Callback-Url may reach although it is loopback, link-local,\nthe functions' network or an address of this host (repeatable; default: none)")
	fs.StringVar(&d.MQTTListen, "mqtt-listen", "", "host:port of an MQTT listener (e.g. :1883), same credentials as --nats-listen;\nMQTT topic a/b/c invokes functions whose topic annotation is a/b/c")
	fs.StringVar(&d.Compose, "compose", "", "docker-compose.yaml of the side services funcd runs beside functions\n(default: STATE/docker-compose.yaml when it exists; none is fine); reloaded on SIGHUP")
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: funcd up [flags]\n\nRuns the funcd daemon: the OpenFaaS API, invocations and the function supervisor.\nEvery flag --name can also be set with the environment variable FUNCD_NAME\n(upper case, '-' as '_'), e.g. FUNCD_STATE_DIR=/srv/funcd.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if inspect != nil {
		inspect(fs)
		return d, nil
	}
	if err := applyEnv(fs, getenv); err != nil {
		return d, err
	}
	if err := fs.Parse(args); err != nil {
		return d, err
	}
	if fs.NArg() > 0 {
		return d, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	d.InsecureRegistries, d.Nameservers = insecure, nameservers
	var err error
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return d, fmt.Errorf("--subnet: %w", err)
	}
	d.Subnet = p.Masked()
	if d.CNIBinDir == "" {
		return d, fmt.Errorf("--cni-bin-dir: no CNI plugins found in %s; install containernetworking-plugins", strings.Join(cniBinDirs, " or "))
	}
	for _, c := range callbackAllow {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return d, fmt.Errorf("--callback-allow: %q is not a CIDR range such as 192.168.1.10/32", c)
		}
		d.CallbackAllow = append(d.CallbackAllow, p.Masked())
	}
	for _, ns := range d.Nameservers {
		if _, err := netip.ParseAddr(ns); err != nil {
			return d, fmt.Errorf("--nameserver: %w", err)
		}
	}
	if d.MemoryBudget, err = parseBudget(budget, hostMemory); err != nil {
		return d, fmt.Errorf("--memory-budget: %w", err)
	}
	if d.MaxReplicas < 1 {
		return d, errors.New("--max-replicas must be at least 1")
	}
	if d.PidsLimit < 0 {
		return d, errors.New("--pids-limit must not be negative")
	}
	if d.LogMaxSize, err = api.ParseMemory(logMaxSize); err != nil || d.LogMaxSize <= 0 {
		return d, fmt.Errorf("--log-max-size: %q is not a positive size such as 1Mi", logMaxSize)
	}
	if pullPolicy != "" {
		if d.PullPolicy, err = api.ParsePullPolicy(pullPolicy); err != nil {
			return d, fmt.Errorf("--pull-policy: %w", err)
		}
	}
	if d.MaxImageSize, err = api.ParseMemory(maxImageSize); err != nil || d.MaxImageSize <= 0 {
		return d, fmt.Errorf("--max-image-size: %q is not a positive size such as 4Gi", maxImageSize)
	}
	if d.GoMemoryLimit, err = api.ParseMemory(goMemoryLimit); err != nil || d.GoMemoryLimit < 0 {
		return d, fmt.Errorf("--go-memory-limit: %q is not a size such as 32Mi, or 0", goMemoryLimit)
	}
	if d.QueueMaxBody, err = api.ParseMemory(queueMaxBody); err != nil || d.QueueMaxBody <= 0 || d.QueueMaxBody > 32<<20 {
		return d, fmt.Errorf("--queue-max-body: %q is not a size from 1 to 32Mi", queueMaxBody)
	}
	if d.QueueMaxBytes, err = api.ParseMemory(queueMaxBytes); err != nil || d.QueueMaxBytes < 0 {
		return d, fmt.Errorf("--queue-max-bytes: %q is not a size such as 512Mi, or 0", queueMaxBytes)
	}
	if d.QueueRetryCodes, err = api.ParseStatusList(retryCodes); err != nil {
		return d, fmt.Errorf("--queue-retry-codes: %w", err)
	}
	if d.QueueTimeout <= 0 {
		return d, errors.New("--queue-timeout must be positive")
	}
	if d.QueueWorkers < 1 || d.QueueRetryAttempts < 1 || d.QueueRetryMinWait < 0 || d.QueueRetryMaxWait < d.QueueRetryMinWait {
		return d, errors.New("--queue-workers and --queue-retry-attempts must be at least 1, --queue-retry-max-wait at least --queue-retry-min-wait")
	}
	if d.Timeout <= 0 || d.ReadyTimeout <= 0 || d.StopGrace < 0 {
		return d, errors.New("--timeout and --ready-timeout must be positive, --stop-grace not negative")
	}
	if d.Compose == "" {
		if path := filepath.Join(d.StateDir, "docker-compose.yaml"); fileExists(path) {
			d.Compose = path
		}
	}
	return d, nil
}

// WriteEnvironmentFile writes an environment file for `funcd up` (as
// systemd's EnvironmentFile= reads it) with every setting commented out at
// its default, each with its description.
func WriteEnvironmentFile(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Settings of funcd up, read by systemd (EnvironmentFile=) and install.sh.\n")
	b.WriteString("# Uncomment a line to change a setting, then: systemctl restart funcd\n")
	b.WriteString("# (functions keep running). Lists take commas: FUNCD_NAMESERVER=1.1.1.1,9.9.9.9\n")
	_, err := parseDaemon(nil, nil, io.Discard, func(fs *flag.FlagSet) {
		fs.VisitAll(func(f *flag.Flag) {
			b.WriteString("\n")
			for _, line := range strings.Split(f.Usage, "\n") {
				b.WriteString("# " + line + "\n")
			}
			fmt.Fprintf(&b, "#%s=%s\n", EnvName(f.Name), f.DefValue)
		})
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// EnvName is the environment variable that sets flag name: FUNCD_ and the
// name in upper case, '-' as '_'.
func EnvName(flag string) string {
	return "FUNCD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets each flag from FUNCD_<NAME> when that variable is set.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := EnvName(f.Name)
		v := getenv(name)
		if v == "" || err != nil {
			return
		}
		if lf, ok := f.Value.(*listFlag); ok {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					*lf = append(*lf, item)
				}
			}
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = fmt.Errorf("%s=%q: %w", name, v, e)
		}
	})
	return err
}

// parseBudget reads a memory budget: a quantity, or a percentage of what
// total() reports.
func parseBudget(s string, total func() (int64, error)) (int64, error) {
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || p < 0 || p > 100 {
			return 0, fmt.Errorf("%q: a percentage must be between 0%% and 100%%", s)
		}
		t, err := total()
		if err != nil {
			return 0, err
		}
		return int64(float64(t) * p / 100), nil
	}
	return api.ParseMemory(s)
}

// hostMemory returns MemTotal from /proc/meminfo, in bytes.
func hostMemory() (int64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("read host memory: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read host memory: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("read host memory: no MemTotal in /proc/meminfo")
}

func firstDir(dirs []string) string {
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return ""
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}
