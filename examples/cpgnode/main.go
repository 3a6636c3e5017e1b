// Command cpgnode runs one actorcpg node as its own process, the way
// corosync runs as a daemon: client processes attach to it with
// ACTORCPG_NODE=127.0.0.1:PORT (or cpg.WithAddress) over protoactor
// remoting. When a client process dies or goes silent for -client-timeout,
// its handles are finalized and their groups see PROCDOWN.
//
//	go run ./examples/cpgnode -listen 127.0.0.1:7100
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/remote"
)

func main() {
	cfg := remote.DefaultConfig()
	id := flag.Uint("id", uint(cfg.NodeID), "node `id`")
	flag.StringVar(&cfg.Listen, "listen", "127.0.0.1:7100", "`host:port` to listen on for clients")
	flag.StringVar(&cfg.StateDir, "state", "", "`dir` that keeps the ring sequence across restarts")
	flag.DurationVar(&cfg.ClientTimeout, "client-timeout", cfg.ClientTimeout, "finalize the handles of a client silent this long")
	flag.DurationVar(&cfg.ClientHeartbeat, "client-heartbeat", cfg.ClientHeartbeat, "how often clients must send a heartbeat")
	flag.Uint64Var(&cfg.MaxMessageSize, "max-message", cfg.MaxMessageSize, "largest multicast in `bytes`")
	level := flag.String("log", "info", "log `level` (debug, info, warn, error)")
	flag.Parse()
	cfg.NodeID = uint32(*id)

	lvl, err := zerolog.ParseLevel(*level)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cpgnode: -log: %v\n", err)
		os.Exit(2)
	}
	logger := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger()
	node, err := actors.Start(cfg, actors.WithLogger(logger))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cpgnode: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("cpgnode: node %d listening on %s\n", cfg.NodeID, node.Address())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	node.Stop()
}
