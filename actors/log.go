package actors

import (
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

// SystemConfig returns protoactor settings that route protoactor's own slog
// output into logger (tagged component=protoactor). protoactor logs its
// routine work (connections, spawns) at Info and Debug, so its level is at
// least Warn.
func SystemConfig(logger zerolog.Logger) *actor.Config {
	pl := logger.With().Str("component", "protoactor").Logger()
	pl = pl.Level(max(pl.GetLevel(), zerolog.WarnLevel))
	return actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(zerolog.NewSlogHandler(pl))
		}),
		actor.WithDeadLetterThrottleCount(3),
	)
}

// dropLog reports dropped input (messages an actor does not take) at most
// once a second, with how many were dropped since the last line: anyone
// who can reach a node could otherwise fill its log, one line a message.
type dropLog struct {
	mu    sync.Mutex
	last  time.Time
	since uint64
}

func (d *dropLog) drop(log zerolog.Logger, what string, m any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.since++
	if now := time.Now(); now.Sub(d.last) >= time.Second {
		log.Warn().Str("type", typeName(m)).Uint64("dropped", d.since).Msg(what)
		d.last, d.since = now, 0
	}
}

// unexpected counts the messages the node's actors drop as unexpected.
var unexpected dropLog
