// Command cpgbench is a port of Corosync's test/cpgbench.c: one process
// joins the group "cpg_bm" and floods it for a while at each message size
// from 64 B, five times larger each step, up to 1 MB, counting the messages
// delivered back to it. It prints Corosync's line per size:
//
//	messages received, bytes per write, seconds, TP/s, MB/s
//
// It runs on an embedded node, or attached with ACTORCPG_NODE.
//
//	go run ./examples/cpgbench -t 3
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	_ "github.com/actorcpg/actorcpg/actors" // the embedded default node (cpg.DefaultNode)
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

func main() {
	secs := flag.Float64("t", 10, "`seconds` per message size (cpgbench uses 10)")
	group := flag.String("g", "cpg_bm", "group `name`")
	flag.Parse()

	var delivered, bytes atomic.Int64
	h, err := cpg.Initialize(&cpg.Callbacks{
		Deliver: func(_ *cpg.Handle, _ []byte, _, _ uint32, msg []byte) {
			delivered.Add(1)
			bytes.Add(int64(len(msg)))
		},
	}, cpg.WithPid(uint32(os.Getpid())))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cpgbench: initialize: %v\n", err)
		os.Exit(1)
	}
	if err := h.Join([]byte(*group)); err != nil {
		fmt.Fprintf(os.Stderr, "cpgbench: join: %v\n", err)
		os.Exit(1)
	}
	// The dispatch goroutine, as cpgbench's dispatch thread (BLOCKING).
	go func() { _ = h.Dispatch(api.DispatchBlocking) }()

	// cpgbench's sizes: 64 B, five times larger each step, up to 1 MB.
	for _, size := range []int{64, 320, 1600, 8000, 40000, 200000, 1000000} {
		buf := make([]byte, size)
		delivered.Store(0)
		bytes.Store(0)
		start := time.Now()
		deadline := start.Add(time.Duration(*secs * float64(time.Second)))
		for time.Now().Before(deadline) {
			err := h.McastJoined(api.TypeAgreed, buf)
			if errors.Is(err, api.ErrTryAgain) {
				time.Sleep(50 * time.Microsecond)
				continue
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "cpgbench: mcast: %v\n", err)
				os.Exit(1)
			}
		}
		el := time.Since(start).Seconds()
		n := delivered.Load()
		fmt.Printf("%5d messages received %5d bytes per write %7.3f Seconds runtime %9.3f TP/s %7.3f MB/s.\n",
			n, size, el, float64(n)/el, float64(bytes.Load())/el/1e6)
	}
	if err := h.Finalize(); err != nil {
		fmt.Fprintf(os.Stderr, "cpgbench: finalize: %v\n", err)
	}
}
