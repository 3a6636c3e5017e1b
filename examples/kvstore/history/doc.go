// Package history records what clients did to a kvstore (each
// operation's invocation and response times, input and output) and
// checks the record with porcupine (github.com/anishathalye/porcupine,
// the linearizability checker of Jepsen-style Go tests) against a
// key-value model: were the writes and consistent reads linearizable?
//
// Outcomes are recorded as a client sees them: an operation refused
// (HTTP 503: nothing was sent) did not happen and is left out; a write
// whose outcome is unknown (HTTP 504, a broken connection) may have
// happened at any time after its invocation, so it is kept with a return
// time after everything else; a read with an unknown outcome observed
// nothing and is left out.
package history
