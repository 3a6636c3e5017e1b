package history

import (
	"math"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Recorder collects operations from concurrent clients. Times are
// nanoseconds of the monotonic clock since the recorder was made.
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	// counts by outcome, for the test's report
	ok, refused, unknown int
}

// NewRecorder starts a history.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Now returns the current time of the history.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// Outcome classifies a response.
type Outcome uint8

// The outcomes of an operation, as its client saw them.
const (
	OK      Outcome = iota // answered: Output holds the result
	Refused                // refused (503, or never sent): did not happen
	Unknown                // sent, not answered (504, broken connection)
)

// Add records an operation of client, invoked at call, answered at ret.
func (r *Recorder) Add(client int, in Input, out Output, outcome Outcome, call, ret int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch outcome {
	case Refused:
		r.refused++
		return
	case Unknown:
		r.unknown++
		if in.Kind == Get {
			return
		}
		out, ret = Output{Unknown: true}, math.MaxInt64
	default:
		r.ok++
	}
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret})
}

// Counts returns how many operations were answered, refused and left
// with an unknown outcome.
func (r *Recorder) Counts() (ok, refused, unknown int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok, r.refused, r.unknown
}

// Operations returns the recorded history.
func (r *Recorder) Operations() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]porcupine.Operation(nil), r.ops...)
}

// Check checks the history with porcupine (Ok, Illegal, or Unknown when
// timeout ran out) and, when visualize is not "", writes porcupine's
// HTML visualization of it there.
func (r *Recorder) Check(timeout time.Duration, visualize string) (porcupine.CheckResult, error) {
	res, info := porcupine.CheckOperationsVerbose(Model, r.Operations(), timeout)
	if visualize != "" {
		if err := porcupine.VisualizePath(Model, info, visualize); err != nil {
			return res, err
		}
	}
	return res, nil
}
