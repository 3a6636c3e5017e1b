package remote

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// Issue 14: a flood of messages an actor does not take writes a bounded
// number of log lines, which still count every drop.
func TestHostileDroppedInputLogIsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	var d DropLog
	const n = 100_000
	for range n {
		d.Drop(log, "unexpected messages dropped", "*api.Heartbeat")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) > 3 {
		t.Fatalf("%d log lines for %d drops, want at most a few", len(lines), n)
	}
	var logged uint64
	for _, l := range lines {
		var e struct{ Dropped uint64 }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		logged += e.Dropped
	}
	if logged+d.Pending() != n {
		t.Errorf("lines count %d drops and %d are pending, want %d in all", logged, d.Pending(), n)
	}
}
