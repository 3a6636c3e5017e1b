// Package protolog routes protoactor's own slog output into zerolog, for
// the node (package actors) and the client side (package api/cpg) alike.
package protolog

import (
	"log/slog"

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
