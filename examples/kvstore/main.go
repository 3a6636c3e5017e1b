package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/examples/kvstore/server"
	"github.com/actorcpg/actorcpg/remote"
)

func main() {
	var cfg server.Config
	flag.StringVar(&cfg.HTTP, "http", "127.0.0.1:8400", "serve the HTTP API on `127.0.0.1:PORT`")
	flag.IntVar(&cfg.Replicas, "n", 3, "the configured number of replicas (one per node): a side with a majority of them takes writes")
	flag.StringVar(&cfg.Group, "group", "kvstore", "the CPG group of the replicas")
	flag.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "how long a write or consistent read waits to be committed before answering 504")
	flag.IntVar(&cfg.ChunkBytes, "chunk", 64<<10, "bytes of entries in one state transfer part")
	flag.IntVar(&cfg.Window, "window", 4, "state transfer parts a donor has in flight")
	embedded := flag.Bool("embedded", false, "start an embedded single node (node id 1) instead of attaching to $ACTORCPG_NODE")
	level := flag.String("log", "info", "log level")
	flag.Parse()
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvstore: -log:", err)
		os.Exit(2)
	}
	cfg.Log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly, NoColor: true}).Level(lvl).With().Timestamp().Logger()
	if err := run(cfg, *embedded); err != nil {
		cfg.Log.Error().Err(err).Msg("kvstore")
		os.Exit(1)
	}
}

// run attaches to the node (or starts the embedded one), serves until a
// signal (exit 0) or until the node is lost (an error).
func run(cfg server.Config, embedded bool) error {
	switch {
	case embedded:
		node, err := actors.Start(remote.DefaultConfig())
		if err != nil {
			return err
		}
		defer node.Stop()
		cfg.CPG = []cpg.Option{cpg.WithNode(node)}
	case os.Getenv(cpg.EnvNode) == "":
		return errors.New("no node: set " + cpg.EnvNode + " (examples/cluster/cluster.sh exec K sets it) or give -embedded")
	}
	srv, err := server.Start(cfg)
	if err != nil {
		return err
	}
	cfg.Log.Info().Str("url", srv.URL()).Stringer("member", srv.Member()).Int("replicas", cfg.Replicas).Msg("serving")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
		srv.Close()
		return nil
	case <-srv.Done():
		return srv.Err()
	}
}
