// Package wire holds the node-internal protocol of actorcpg: the sequenced
// group events and the messages between handle, group, sequencer and node
// actors. Its generated code is made by the go:generate line in package api.
// It is internal: the wire protocol is no API.
package wire
