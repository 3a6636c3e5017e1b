package remote

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// DropLog reports dropped input at most once a second, with how many
// were dropped since its last line: anyone who can reach a node could
// otherwise fill its log, one line a message. The zero value is ready.
type DropLog struct {
	mu    sync.Mutex
	last  time.Time
	since uint64
}

// Drop counts one dropped input and, when a second has passed since the
// last line, writes msg to log with why and the count.
func (d *DropLog) Drop(log zerolog.Logger, msg, why string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.since++
	if now := time.Now(); now.Sub(d.last) >= time.Second {
		log.Warn().Str("why", why).Uint64("dropped", d.since).Msg(msg)
		d.last, d.since = now, 0
	}
}

// Pending returns how many drops the next line will count.
func (d *DropLog) Pending() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.since
}
