package history

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestModel: small histories with known verdicts, the unknown outcomes
// included (a write whose outcome is unknown may take effect late, or
// never).
func TestModel(t *testing.T) {
	put := func(v string) Input { return Input{Kind: Put, Key: "k", Value: v} }
	get := Input{Kind: Get, Key: "k"}
	val := func(v string) Output { return Output{Found: true, Value: v} }
	for _, tc := range []struct {
		name string
		ops  func(r *Recorder)
		want porcupine.CheckResult
	}{
		{"read your write", func(r *Recorder) {
			r.Add(0, put("a"), Output{}, OK, 0, 10)
			r.Add(1, get, val("a"), OK, 20, 30)
		}, porcupine.Ok},
		{"stale read after a completed write", func(r *Recorder) {
			r.Add(0, put("a"), Output{}, OK, 0, 10)
			r.Add(0, put("b"), Output{}, OK, 20, 30)
			r.Add(1, get, val("a"), OK, 40, 50)
		}, porcupine.Illegal},
		{"a value never written", func(r *Recorder) {
			r.Add(1, get, val("z"), OK, 0, 10)
		}, porcupine.Illegal},
		{"an unknown write seen later", func(r *Recorder) {
			r.Add(0, put("a"), Output{}, Unknown, 0, 10)
			r.Add(1, get, Output{}, OK, 20, 30)
			r.Add(1, get, val("a"), OK, 40, 50)
		}, porcupine.Ok},
		{"an unknown write never seen", func(r *Recorder) {
			r.Add(0, put("a"), Output{}, Unknown, 0, 10)
			r.Add(1, get, Output{}, OK, 20, 30)
		}, porcupine.Ok},
		{"an unknown write seen, then gone without a later write", func(r *Recorder) {
			r.Add(0, put("a"), Output{}, Unknown, 0, 10)
			r.Add(1, get, val("a"), OK, 20, 30)
			r.Add(1, get, Output{}, OK, 40, 50)
		}, porcupine.Illegal},
		{"a refused write is not a write", func(r *Recorder) {
			r.Add(0, put("a"), Output{}, Refused, 0, 10)
			r.Add(1, get, val("a"), OK, 20, 30)
		}, porcupine.Illegal},
		{"delete", func(r *Recorder) {
			r.Add(0, put("a"), Output{}, OK, 0, 10)
			r.Add(0, Input{Kind: Delete, Key: "k"}, Output{}, OK, 20, 30)
			r.Add(1, get, Output{}, OK, 40, 50)
		}, porcupine.Ok},
	} {
		r := NewRecorder()
		tc.ops(r)
		if got, err := r.Check(5*time.Second, ""); err != nil || got != tc.want {
			t.Errorf("%s: %s (%v), want %s", tc.name, got, err, tc.want)
		}
	}
}
