package cpg

import (
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/remote"
)

// A new connection's spin: SetSessionSpin's, else ACTORCPG_SESSION_SPIN's
// (a duration, or off), else remote.DefaultSessionSpin.
func TestSessionSpinSetting(t *testing.T) {
	defer func() {
		loggerMu.Lock()
		userSpin = nil
		loggerMu.Unlock()
	}()
	for env, want := range map[string]time.Duration{
		"": remote.DefaultSessionSpin, "off": 0, "20us": 20 * time.Microsecond, "bad": remote.DefaultSessionSpin,
	} {
		t.Setenv("ACTORCPG_SESSION_SPIN", env)
		if got := sessionSpin(); got != want {
			t.Errorf("ACTORCPG_SESSION_SPIN=%q: %v, want %v", env, got, want)
		}
	}
	t.Setenv("ACTORCPG_SESSION_SPIN", "off")
	SetSessionSpin(time.Millisecond)
	if got := sessionSpin(); got != time.Millisecond {
		t.Errorf("after SetSessionSpin(1ms): %v", got)
	}
}
