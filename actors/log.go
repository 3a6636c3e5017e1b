package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/internal/protolog"
	"github.com/actorcpg/actorcpg/remote"
)

// SystemConfig returns protoactor settings that route protoactor's own slog
// output into logger (tagged component=protoactor). protoactor logs its
// routine work (connections, spawns) at Info and Debug, so its level is at
// least Warn.
func SystemConfig(logger zerolog.Logger) *actor.Config { return protolog.SystemConfig(logger) }

// unexpected reports the messages the node's actors do not take, at most
// once a second with a count (remote.DropLog).
var unexpected remote.DropLog
