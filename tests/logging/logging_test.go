// Package logging tests that a library user's logger gets the logs of the
// node and client sides the cpg package starts (cpg.SetLogger), and that
// nothing goes to stderr then. It is a package of its own: the default
// node is one per process.
package logging

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	_ "github.com/actorcpg/actorcpg/actors" // the embedded default node (cpg.DefaultNode)
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

// syncBuffer is a bytes.Buffer safe for the node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSetLoggerGetsTheDefaultNodesLogsAndStderrNothing(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	var got syncBuffer
	cpg.SetLogger(zerolog.New(&got).Level(zerolog.InfoLevel))
	h, err := cpg.Initialize(&cpg.Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Join([]byte("logging")); err != nil {
		t.Fatal(err)
	}
	if err := h.McastJoined(api.TypeAgreed, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := h.Finalize(); err != nil {
		t.Fatal(err)
	}
	os.Stderr = stderr
	w.Close()
	leaked, _ := io.ReadAll(r)
	if !strings.Contains(got.String(), "node started") {
		t.Errorf("the user's logger did not get the default node's start:\n%s", got.String())
	}
	if len(leaked) > 0 {
		t.Errorf("written to stderr although a logger was set:\n%s", leaked)
	}
}
