package cpgtest

import (
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/remote"
)

// The default timings of a Cluster. A node not heard from within
// DefaultToken leaves the view, so a fault's view change takes about
// two tokens (the token, then the consensus of 1.2 tokens at most).
// Shorter tokens make tests faster but let a loaded machine (the race
// detector, other tests on two cores) starve a node past its token and
// change a view the test did not change.
const (
	DefaultToken     = 500 * time.Millisecond
	DefaultHeartbeat = DefaultToken / 10
	// DefaultTimeout bounds every wait of the kit: a fault's new view,
	// an expectation, a retried call. It only ends a test that would
	// otherwise hang.
	DefaultTimeout = 10 * time.Second
)

// EnvLog names the environment variable that sends the nodes' logs to
// stderr at a zerolog level: CPGTEST_LOG=debug (or info, warn, ...).
const EnvLog = "CPGTEST_LOG"

// Option changes how NewCluster builds its cluster.
type Option func(*settings)

type settings struct {
	token, heartbeat time.Duration
	timeout          time.Duration
	edits            []func(*remote.Config)
	log              *zerolog.Logger
}

func defaultSettings() settings {
	return settings{token: DefaultToken, heartbeat: DefaultHeartbeat, timeout: DefaultTimeout}
}

// WithTimings sets the nodes' token and heartbeat (defaults DefaultToken
// and DefaultHeartbeat); join and consensus follow from the token as in
// remote.Config.Validate.
func WithTimings(token, heartbeat time.Duration) Option {
	return func(s *settings) { s.token, s.heartbeat = token, heartbeat }
}

// WithConfig changes each node's configuration before it starts (after
// the kit's: node list, timings, state directory). Listen, the node list
// and the client socket are the kit's: a node runs on the in-memory
// network only.
func WithConfig(edit func(*remote.Config)) Option {
	return func(s *settings) { s.edits = append(s.edits, edit) }
}

// WithTimeout sets how long the kit waits for a fault's view, an
// expectation or a retried call before it fails the test (default
// DefaultTimeout). A probe's own ProbeOptions.Timeout overrides it for
// that probe's expectations.
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithLogger gives the nodes a logger (default: none, or stderr at the
// level of CPGTEST_LOG).
func WithLogger(l zerolog.Logger) Option { return func(s *settings) { s.log = &l } }

// nodeLogger is the logger of node id.
func (s *settings) nodeLogger() zerolog.Logger {
	if s.log != nil {
		return *s.log
	}
	env := os.Getenv(EnvLog)
	lvl, err := zerolog.ParseLevel(env)
	if env == "" || err != nil || lvl == zerolog.NoLevel {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}).Level(lvl).With().Timestamp().Logger()
}
