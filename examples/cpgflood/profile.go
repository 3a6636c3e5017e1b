package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"time"
)

// With ACTORCPG_FLOOD_PROFILE=DIR set, cpgflood writes a CPU profile of
// its whole run to DIR/cpgflood-MODE-PID.prof (for `go tool pprof`); the
// harness's output is unchanged.
var profFile *os.File

// With ACTORCPG_FLOOD_TRACE=DIR set, it writes an execution trace of its
// whole run to DIR/cpgflood-MODE-PID.trace (for `go tool trace`).
var traceFile *os.File

// With ACTORCPG_FLOOD_RECV_DELAY=DURATION set (e.g. 100us), every delivery
// sleeps that long first: a slow receiver, for overload tests.
var recvDelay, _ = time.ParseDuration(os.Getenv("ACTORCPG_FLOOD_RECV_DELAY"))

func startProfile(mode string) {
	if dir := os.Getenv("ACTORCPG_FLOOD_TRACE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpgflood-%s-%d.trace", mode, os.Getpid())))
		if err == nil && trace.Start(f) == nil {
			traceFile = f
		} else if err == nil {
			f.Close()
		}
	}
	dir := os.Getenv("ACTORCPG_FLOOD_PROFILE")
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpgflood-%s-%d.prof", mode, os.Getpid())))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cpgflood: profile: %v\n", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "cpgflood: profile: %v\n", err)
		f.Close()
		return
	}
	profFile = f
}

func stopProfile() {
	if traceFile != nil {
		trace.Stop()
		traceFile.Close()
		traceFile = nil
	}
	if profFile != nil {
		pprof.StopCPUProfile()
		profFile.Close()
		profFile = nil
	}
}
