package server

import (
	"errors"
	"fmt"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

// outbox multicasts the replica's messages in order. When the group is
// flow-controlled (ErrTryAgain: a full send window, a view change) the
// rest waits, and the loop retries after dispatching.
type outbox struct {
	h    *cpg.Handle
	msgs [][]byte
	// hold, when set and true for a message, keeps it (and the messages
	// it holds, in order) back while the others go: tests catch a state
	// transfer half-way with it.
	hold func(msg []byte) bool
	held [][]byte
}

func (o *outbox) add(msgs ...[]byte) {
	if len(o.held) > 0 && (o.hold == nil || !o.hold(o.held[0])) {
		o.msgs = append(o.msgs, o.held...) // released
		o.held = nil
	}
	for _, m := range msgs {
		if o.hold != nil && o.hold(m) {
			o.held = append(o.held, m)
		} else {
			o.msgs = append(o.msgs, m)
		}
	}
}

// waiting reports whether messages wait for a retry (or a release).
func (o *outbox) waiting() bool { return len(o.msgs) > 0 || len(o.held) > 0 }

// send multicasts what it can. A message the group refuses for good
// (ErrNotExist: not a member, e.g. evicted) is dropped: the replica's
// protocol survives lost messages of a member that is gone. ErrLibrary
// (the node is gone) ends the server.
func (o *outbox) send() error {
	for len(o.msgs) > 0 {
		err := o.h.McastJoined(api.TypeAgreed, o.msgs[0])
		switch {
		case err == nil, errors.Is(err, api.ErrNotExist):
		case errors.Is(err, api.ErrTryAgain), errors.Is(err, api.ErrInterrupt):
			return nil // flow control, or a view change cut a large message: again later
		default:
			return fmt.Errorf("kvstore: multicast: %w", err)
		}
		o.msgs[0] = nil
		o.msgs = o.msgs[1:]
	}
	return nil
}
