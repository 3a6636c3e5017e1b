package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

// A session's resources are bounded: requests awaiting their answer (beyond
// maxOutstanding: CS_ERR_TRY_AGAIN) and handles (beyond
// maxSessionHandles: CS_ERR_NO_RESOURCES); a handle id is taken once.
// (It fails without the bounds in acquire and reserve.)
func TestHostileSessionBounds(t *testing.T) {
	s := &session{handles: map[uint64]*actor.PID{}}
	for i := 0; i < maxOutstanding; i++ {
		if !s.acquire(uint32(i + 1)) {
			t.Fatalf("request %d refused", i)
		}
	}
	if s.acquire(1 << 20) {
		t.Error("a request beyond maxOutstanding was taken")
	}
	if !s.acquire(0) {
		t.Error("a one-way message was counted")
	}
	pid := actor.NewPID("x", "y")
	for h := uint64(1); h <= maxSessionHandles; h++ {
		if c := s.reserve(h); c != api.CodeOK {
			t.Fatalf("handle %d: %v", h, c)
		}
		s.bind(h, pid)
	}
	if c := s.reserve(maxSessionHandles + 1); c != api.CodeNoResources {
		t.Errorf("handle beyond maxSessionHandles: %v", c)
	}
	s.unbind(1)
	if c := s.reserve(2); c != api.CodeExist {
		t.Errorf("a handle id taken twice: %v", c)
	}
	if c := s.reserve(0); c != api.CodeInvalidParam {
		t.Errorf("handle id 0: %v", c)
	}
}

// Session readers poll as configured, never with a token below 100 ms
// (a polling reader may hold off the links for up to 10 ms) nor with a
// negative spin.
func TestSessionSpinFollowsTheConfigAndTheToken(t *testing.T) {
	cfg := remote.DefaultConfig()
	cfg.Token = time.Second
	for spin, want := range map[time.Duration]time.Duration{
		remote.DefaultSessionSpin: remote.DefaultSessionSpin, 20 * time.Microsecond: 20 * time.Microsecond, -1: 0,
	} {
		cfg.SessionSpin = spin
		if got := sessionSpin(cfg); got != want {
			t.Errorf("spin %v, token 1s: %v, want %v", spin, got, want)
		}
	}
	cfg.SessionSpin, cfg.Token = remote.DefaultSessionSpin, 99*time.Millisecond
	if got := sessionSpin(cfg); got != 0 {
		t.Errorf("token 99ms: spin %v, want 0", got)
	}
}
