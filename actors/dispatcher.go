package actors

import "github.com/asynkron/protoactor-go/actor"

// workerDispatcher runs a node's actors' mailboxes on a few long-lived
// goroutines. protoactor's default dispatcher starts a goroutine for every
// mailbox run: on a round trip through a node (handle actor, group actor,
// sequencer actor, handle actor again) that is several new goroutines,
// each growing its stack anew (an attached round trip took 36 us of CPU
// with it, 21 us with the workers: BenchmarkAttachedRoundTrip). Runs wait
// in a short queue, one per worker, so that a burst of mailboxes (many
// groups) spreads over the workers and the cores; when the queue is full
// a run gets a goroutine of its own, as with the default. No actor of a
// node waits inside Receive (they answer later, with ReenterAfter), so a
// run never holds a worker waiting for a run behind it. An unbuffered
// hand-off to the workers was tried first: it kept one node's groups on
// fewer cores (BenchmarkGroupsOneNode groups=8: 1.48x from 1 to 2 CPUs,
// against 1.67x with the queue and 1.94x without workers).
type workerDispatcher struct {
	work       chan func()
	done       chan struct{}
	throughput int
}

// dispatcherWorkers is how many mailboxes of a node run on long-lived
// goroutines at once; more run on goroutines of their own.
const dispatcherWorkers = 8

// dispatcherThroughput is how many messages a mailbox run takes before it
// lets others run (protoactor's default).
const dispatcherThroughput = 300

func newWorkerDispatcher(workers int) *workerDispatcher {
	d := &workerDispatcher{work: make(chan func(), workers), done: make(chan struct{}), throughput: dispatcherThroughput}
	for range workers {
		go d.run()
	}
	return d
}

func (d *workerDispatcher) run() {
	for {
		select {
		case fn := <-d.work:
			fn()
		case <-d.done:
			return
		}
	}
}

// Schedule implements actor.Dispatcher.
func (d *workerDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn: // an idle worker takes it
	default:
		go fn()
	}
}

// Throughput implements actor.Dispatcher.
func (d *workerDispatcher) Throughput() int { return d.throughput }

// stop ends the workers; mailboxes scheduled later run on goroutines of
// their own.
func (d *workerDispatcher) stop() { close(d.done) }

var _ actor.Dispatcher = (*workerDispatcher)(nil)
