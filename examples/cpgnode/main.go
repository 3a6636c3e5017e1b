// Command cpgnode runs one actorcpg node as its own process, the way
// corosync runs as a daemon: client processes attach to it with
// ACTORCPG_NODE=unix:PATH (its client socket, -socket or -state DIR's
// cpg.sock: local processes of root, its own user and the config file's
// uidgid entries) or ACTORCPG_NODE=HOST:PORT (its remoting port), each
// process on one session. When a client process dies (its session
// closes) or, attached over TCP, goes silent for -client-timeout, its
// handles are finalized and their groups see PROCDOWN.
//
// Without -c or -peers it runs a cluster of one on -listen:
//
//	go run ./examples/cpgnode -listen 127.0.0.1:7100
//
// A cluster is read from a corosync.conf-like file (see remote.ParseConfig
// and example.conf), with this node picked by the file's local.nodeid or by
// -id:
//
//	go run ./examples/cpgnode -c examples/cpgnode/example.conf -id 2
//
// or given on the command line, this node's own entry being -id and -listen:
//
//	go run ./examples/cpgnode -id 2 -listen 127.0.0.1:7102 -peers 1=127.0.0.1:7101,3=127.0.0.1:7103
//
// Flags given explicitly override the file; -peers adds to its nodelist.
// A time or size flag must lie within the bounds the file's key has (see
// remote.ParseConfig: -token 10ms..1h, -client-heartbeat in whole
// milliseconds, -max-message at most 1 GiB, ...). A bad flag exits with
// status 2, a bad configuration with status 1, each after one line
// "cpgnode: <error>" on stderr naming the flag, or the file, line and key,
// of the bad value.
//
// With -tls DIR (keys made by cpgkeygen; or the file's totem.crypto_ca,
// crypto_cert and crypto_key) nodes speak mutual TLS 1.3 and accept only
// the nodes of their node list; without it node-to-node traffic is
// unauthenticated, and a node listening beyond loopback says so in its
// log.
//
// With ACTORCPG_PPROF=127.0.0.1:6060 set it serves net/http/pprof there,
// for profiling benchmarks.
//
// Unless GOMAXPROCS is set, the node runs on one processor while mostly
// idle and on all of them under load (see procs.go): fewer thread wake-ups
// per message when latency matters, parallelism when throughput does.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"net/http"
	_ "net/http/pprof"

	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/remote"
)

// defaultListen is where a node listens when neither -listen nor a config
// file says.
const defaultListen = "127.0.0.1:7100"

func main() {
	cfg, level, mf, err := configureAll(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fs := newFlagSet(&options{})
		fs.SetOutput(os.Stderr)
		fs.Usage()
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cpgnode: %v\n", err)
		os.Exit(exitCode(err))
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	logger := zerolog.New(os.Stderr).Level(level).With().Timestamp().Logger()
	if addr := os.Getenv("ACTORCPG_PPROF"); addr != "" {
		// Profiling for benchmarks: go tool pprof http://ADDR/debug/pprof/profile
		go func() { logger.Error().Err(http.ListenAndServe(addr, nil)).Msg("pprof server") }()
	}
	opts := []actors.Option{actors.WithLogger(logger)}
	var m *metricsServer
	if mf.addr != "" {
		// The node runs in a system whose protoactor metrics go to the
		// same registry as the node's own.
		m = newMetricsServer()
		opts = append(opts, actors.WithActorSystem(m.actorSystem(logger)), actors.WithGroupMetrics(mf.groups))
	}
	node, err := actors.Start(cfg, opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cpgnode: %v\n", err)
		os.Exit(1)
	}
	if m != nil {
		addr, err := m.serve(mf.addr, node, logger)
		if err != nil {
			fmt.Fprintf(os.Stderr, "cpgnode: -metrics: %v\n", err)
			node.Stop()
			os.Exit(1)
		}
		fmt.Printf("cpgnode: metrics at http://%s/metrics\n", addr)
	}
	fmt.Printf("cpgnode: node %d listening on %s\n", cfg.NodeID, node.Address())
	stop := make(chan struct{})
	go governProcs(stop, logger)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case <-node.Done():
		// The node stopped on its own (a panic in its node actor): exit
		// non-zero so that whoever runs it starts a fresh one.
		fmt.Fprintf(os.Stderr, "cpgnode: %v\n", node.Err())
		os.Exit(1)
	}
	close(stop)
	node.Stop()
}

// usageError is a mistake on the command line itself (exit status 2), as
// opposed to a bad configuration (exit status 1).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// exitCode is the exit status for an error of configure.
func exitCode(err error) int {
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

// options holds the flags' values.
type options struct {
	file            string
	id              uint
	listen          string
	state           string
	socket          string
	clientTimeout   time.Duration
	clientHeartbeat time.Duration
	maxMessage      uint64
	token           time.Duration
	heartbeat       time.Duration
	join            time.Duration
	consensus       time.Duration
	peers           peerList
	level           logLevel
	testLinks       bool
	tlsDir          string
	metrics         string
	metricsGroups   int
}

// newFlagSet defines cpgnode's flags on o. It prints nothing itself: its
// caller reports errors.
func newFlagSet(o *options) *flag.FlagSet {
	d := remote.DefaultConfig()
	o.level = logLevel(zerolog.InfoLevel)
	fs := flag.NewFlagSet("cpgnode", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.file, "c", "", "read the cluster configuration from `file` (corosync.conf-like; see example.conf)")
	fs.UintVar(&o.id, "id", 0, "this node's `id` (default: the file's local.nodeid, else 1)")
	fs.StringVar(&o.listen, "listen", "", "`host:port` to listen on for clients and other nodes (default "+defaultListen+"; with -c: local.listen, else this node's ring0_addr)")
	fs.StringVar(&o.state, "state", "", "`dir` that keeps the ring sequence across restarts")
	fs.StringVar(&o.socket, "socket", "", "client socket `path` (mode 0660) for clients on this host, ACTORCPG_NODE=unix:PATH (default: DIR/cpg.sock with -state DIR)")
	timeVar := func(dst *time.Duration, name string, def time.Duration, usage string) {
		*dst = def
		fs.Var(timeFlag{dst, flagFields[name]}, name, usage)
	}
	timeVar(&o.clientTimeout, "client-timeout", d.ClientTimeout, "finalize the handles of a client silent this `duration` (at most 1h)")
	timeVar(&o.clientHeartbeat, "client-heartbeat", d.ClientHeartbeat, "how often clients must send a heartbeat: a `duration` of whole ms, below client-timeout/2")
	o.maxMessage = d.MaxMessageSize
	fs.Var(sizeFlag{&o.maxMessage, flagFields["max-message"]}, "max-message", "largest multicast in `bytes` (at most 1 GiB)")
	timeVar(&o.token, "token", d.Token, "failure-detection timeout: a `duration` of 10ms..1h; heartbeat, join and consensus not given as flags are derived from it")
	timeVar(&o.heartbeat, "heartbeat", d.Heartbeat, "how often a node tells the others it is alive: a `duration` of at most token/3")
	timeVar(&o.join, "join", d.Join, "how long a view change waits for the reachable nodes to settle: a `duration` of at most token")
	timeVar(&o.consensus, "consensus", d.Consensus, "bound on one view-change attempt: a `duration` of at least token, at most 72m")
	fs.Var(&o.peers, "peers", "other nodes as `id=host:port,...`, added to the file's nodelist")
	fs.Var(&o.level, "log", "log `level` (debug, info, warn, error)")
	fs.StringVar(&o.tlsDir, "tls", "", "mutual TLS between nodes with the keys cpgkeygen made in `dir` (ca.pem, node-ID.pem, node-ID-key.pem for this node's id); overrides the file's totem.crypto_*")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at http://`host:port`/metrics (e.g. 127.0.0.1:9464)")
	fs.IntVar(&o.metricsGroups, "metrics-groups", 0, "with -metrics, also per-group series (label group) for the first `n` groups the node sees, the rest summed under group=\"_other\"; 0: none (a label per group is unbounded cardinality)")
	fs.BoolVar(&o.testLinks, "test-link-control", false, "obey wire.LinkControl messages that cut links to other nodes (fault tests only)")
	return fs
}

// configure turns cpgnode's arguments into a validated node configuration
// and a log level, starting nothing. On top of remote.DefaultConfig it
// applies the -c file, then the flags given explicitly, then -peers; with
// a node list, a node not in it is added with its -listen address.
func configure(args []string) (remote.Config, zerolog.Level, error) {
	cfg, level, _, err := configureAll(args)
	return cfg, level, err
}

// metricsFlags are -metrics (the address, "": none) and -metrics-groups.
type metricsFlags struct {
	addr   string
	groups int
}

// configureAll is configure, also returning the metrics flags.
func configureAll(args []string) (remote.Config, zerolog.Level, metricsFlags, error) {
	var o options
	fs := newFlagSet(&o)
	if err := fs.Parse(args); err != nil {
		return remote.Config{}, 0, metricsFlags{}, usageError{err}
	}
	if fs.NArg() > 0 {
		return remote.Config{}, 0, metricsFlags{}, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["id"] && (o.id == 0 || o.id > math.MaxUint32) {
		return remote.Config{}, 0, metricsFlags{}, usageError{fmt.Errorf("invalid value %d for flag -id: want 1..%d", o.id, uint32(math.MaxUint32))}
	}

	cfg := remote.DefaultConfig()
	cfg.Listen = defaultListen
	if o.file != "" {
		cfg.NodeID = 0 // from local.nodeid or -id
		var err error
		if cfg, err = remote.LoadConfig(o.file, cfg); err != nil {
			return remote.Config{}, 0, metricsFlags{}, err
		}
	}
	for name, field := range flagFields {
		if set[name] {
			cfg.SetOrigin(field, "-"+name)
		}
	}
	for name, apply := range map[string]func(){
		"id":                func() { cfg.NodeID = uint32(o.id) },
		"listen":            func() { cfg.Listen = o.listen },
		"state":             func() { cfg.StateDir = o.state },
		"socket":            func() { cfg.ClientSocket = o.socket },
		"client-timeout":    func() { cfg.ClientTimeout = o.clientTimeout },
		"client-heartbeat":  func() { cfg.ClientHeartbeat = o.clientHeartbeat },
		"max-message":       func() { cfg.MaxMessageSize = o.maxMessage },
		"token":             func() { cfg.Token = o.token },
		"heartbeat":         func() { cfg.Heartbeat = o.heartbeat },
		"join":              func() { cfg.Join = o.join },
		"consensus":         func() { cfg.Consensus = o.consensus },
		"test-link-control": func() { cfg.TestLinkControl = o.testLinks },
	} {
		if set[name] {
			apply()
		}
	}
	if set["token"] {
		// As for a file's token: let Validate derive the timers not given.
		for name, d := range map[string]*time.Duration{"heartbeat": &cfg.Heartbeat, "join": &cfg.Join, "consensus": &cfg.Consensus} {
			if !set[name] {
				*d = 0
				cfg.SetOrigin(name, "") // derived from -token
			}
		}
	}

	cfg.Nodes = slices.Clone(cfg.Nodes)
	for _, p := range o.peers {
		if p.NodeID == cfg.NodeID {
			return remote.Config{}, 0, metricsFlags{}, fmt.Errorf("-peers: node %d is this node; its address comes from -listen or the config file", p.NodeID)
		}
		for _, n := range cfg.Nodes {
			if n.NodeID == p.NodeID {
				return remote.Config{}, 0, metricsFlags{}, fmt.Errorf("-peers: node %d is already in the nodelist of %s", p.NodeID, o.file)
			}
			if n.Addr == p.Addr {
				return remote.Config{}, 0, metricsFlags{}, fmt.Errorf("-peers: node %d: %s is already node %d's address", p.NodeID, p.Addr, n.NodeID)
			}
		}
		cfg.Nodes = append(cfg.Nodes, p)
	}
	if cfg.NodeID == 0 {
		if len(cfg.Nodes) > 0 {
			return remote.Config{}, 0, metricsFlags{}, fmt.Errorf("%s: no local.nodeid says which node this is: give -id", o.file)
		}
		cfg.NodeID = remote.DefaultConfig().NodeID
	}
	if set["tls"] {
		cfg.CryptoCA, cfg.CryptoCert, cfg.CryptoKey = remote.NodeTLSFiles(o.tlsDir, cfg.NodeID)
		for _, f := range []string{"crypto_ca", "crypto_cert", "crypto_key"} {
			cfg.SetOrigin(f, "-tls")
		}
	}
	if len(cfg.Nodes) > 0 && cfg.AddrOf(cfg.NodeID) == "" && cfg.Listen != "" {
		for _, n := range cfg.Nodes {
			if n.Addr == cfg.Listen {
				return remote.Config{}, 0, metricsFlags{}, fmt.Errorf("-listen: %s is already node %d's address", cfg.Listen, n.NodeID)
			}
		}
		cfg.Nodes = append(cfg.Nodes, remote.NodeAddr{NodeID: cfg.NodeID, Addr: cfg.Listen})
	}
	if err := cfg.Validate(); err != nil {
		return remote.Config{}, 0, metricsFlags{}, err
	}
	if o.metrics != "" {
		if _, _, err := net.SplitHostPort(o.metrics); err != nil {
			return remote.Config{}, 0, metricsFlags{}, usageError{fmt.Errorf("invalid value %q for flag -metrics: %v", o.metrics, err)}
		}
	}
	if o.metricsGroups < 0 || o.metricsGroups > 100000 {
		return remote.Config{}, 0, metricsFlags{}, usageError{fmt.Errorf("invalid value %d for flag -metrics-groups: want 0..100000", o.metricsGroups)}
	}
	if o.metricsGroups > 0 && o.metrics == "" {
		return remote.Config{}, 0, metricsFlags{}, usageError{errors.New("-metrics-groups needs -metrics")}
	}
	return cfg, zerolog.Level(o.level), metricsFlags{o.metrics, o.metricsGroups}, nil
}

// flagFields maps the flags that set one configuration value to its key
// in the configuration file, by which remote.Config.Validate names it.
var flagFields = map[string]string{
	"id": "nodeid", "listen": "listen", "state": "state_dir", "socket": "client_socket",
	"client-timeout": "client_timeout", "client-heartbeat": "client_heartbeat",
	"max-message": "max_message_size", "token": "token", "heartbeat": "heartbeat",
	"join": "join", "consensus": "consensus",
}

// timeFlag is a flag of a time setting: a Go duration within the bounds of
// the configuration file's key (remote.CheckTime).
type timeFlag struct {
	d   *time.Duration
	key string
}

func (f timeFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f timeFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration such as 1.5s or 250ms")
	}
	if err := remote.CheckTime(f.key, d); err != nil {
		return err
	}
	*f.d = d
	return nil
}

// sizeFlag is a flag of a size setting: decimal bytes within the bounds of
// the configuration file's key (remote.CheckSize).
type sizeFlag struct {
	n   *uint64
	key string
}

func (f sizeFlag) String() string {
	if f.n == nil {
		return ""
	}
	return strconv.FormatUint(*f.n, 10)
}

func (f sizeFlag) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return errors.New("not a number of bytes")
	}
	if err := remote.CheckSize(f.key, n); err != nil {
		return err
	}
	*f.n = n
	return nil
}

// peerList is the -peers flag: id=host:port entries, comma-separated; the
// flag may be given more than once.
type peerList []remote.NodeAddr

func (p *peerList) String() string {
	if p == nil {
		return ""
	}
	s := make([]string, len(*p))
	for i, n := range *p {
		s[i] = fmt.Sprintf("%d=%s", n.NodeID, n.Addr)
	}
	return strings.Join(s, ",")
}

// Set adds the entries of s.
func (p *peerList) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		idText, addr, ok := strings.Cut(item, "=")
		if !ok {
			return fmt.Errorf("%q is not id=host:port", item)
		}
		id, err := strconv.ParseUint(idText, 10, 32)
		if err != nil || id == 0 {
			return fmt.Errorf("%q: node id %q is not a number in 1..%d", item, idText, uint32(math.MaxUint32))
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%q: address %q is not host:port", item, addr)
		}
		for _, n := range *p {
			if n.NodeID == uint32(id) {
				return fmt.Errorf("node %d given twice", id)
			}
		}
		*p = append(*p, remote.NodeAddr{NodeID: uint32(id), Addr: addr})
	}
	return nil
}

// logLevel is the -log flag.
type logLevel zerolog.Level

func (l *logLevel) String() string { return zerolog.Level(*l).String() }

// Set parses a zerolog level name.
func (l *logLevel) Set(s string) error {
	lvl, err := zerolog.ParseLevel(s)
	if err != nil || s == "" {
		return errors.New("unknown level (want trace, debug, info, warn, error, fatal, panic or disabled)")
	}
	*l = logLevel(lvl)
	return nil
}
