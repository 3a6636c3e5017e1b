package history

import (
	"fmt"
	"sort"

	"github.com/anishathalye/porcupine"
)

// Kind is an operation's kind.
type Kind uint8

// The recorded operations.
const (
	Put Kind = iota + 1
	Delete
	Get // a consistent read
)

// Input is what a client asked.
type Input struct {
	Kind  Kind
	Key   string
	Value string // Put
}

// Output is what it got: for a Get, whether the key was there and its
// value. Unknown marks a write whose outcome the client never learned.
type Output struct {
	Unknown bool
	Found   bool
	Value   string
}

// value is the model's state of one key.
type value struct {
	present bool
	v       string
}

// Model is the sequential specification of one key of the store
// (histories are partitioned by key): a Put sets it, a Delete removes it,
// a Get returns it. A write with an unknown outcome is accepted whatever
// it returned.
var Model = porcupine.Model{
	Partition: partitionByKey,
	Init:      func() any { return value{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(value), input.(Input), output.(Output)
		switch in.Kind {
		case Put:
			return true, value{present: true, v: in.Value}
		case Delete:
			return true, value{}
		}
		return out.Found == st.present && out.Value == st.v, st
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(Input), output.(Output)
		switch {
		case in.Kind == Put && out.Unknown:
			return fmt.Sprintf("put(%s, %s) -> ?", in.Key, in.Value)
		case in.Kind == Put:
			return fmt.Sprintf("put(%s, %s)", in.Key, in.Value)
		case in.Kind == Delete && out.Unknown:
			return fmt.Sprintf("delete(%s) -> ?", in.Key)
		case in.Kind == Delete:
			return fmt.Sprintf("delete(%s)", in.Key)
		case !out.Found:
			return fmt.Sprintf("get(%s) -> absent", in.Key)
		}
		return fmt.Sprintf("get(%s) -> %s", in.Key, out.Value)
	},
	DescribeState: func(state any) string {
		if st := state.(value); st.present {
			return st.v
		}
		return "(absent)"
	},
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := make(map[string][]porcupine.Operation)
	for _, op := range history {
		k := op.Input.(Input).Key
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}
