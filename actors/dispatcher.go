package actors

import "github.com/asynkron/protoactor-go/actor"

// workerDispatcher runs a node's actors' mailboxes on a few long-lived
// goroutines. protoactor's default dispatcher starts a goroutine for every
// mailbox run: on a round trip through a node (handle actor, group actor,
// sequencer actor, handle actor again) that is several new goroutines,
// each growing its stack anew. A mailbox scheduled while every worker is
// busy runs on a goroutine of its own, as with the default, so a run that
// waits (a future, a full socket) never holds the others up.
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
	d := &workerDispatcher{work: make(chan func()), done: make(chan struct{}), throughput: dispatcherThroughput}
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
