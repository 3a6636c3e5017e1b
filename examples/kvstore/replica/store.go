package replica

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
)

// Store is a replica's key-value map.
type Store struct{ m map[string]string }

// NewStore returns an empty store.
func NewStore() *Store { return &Store{m: make(map[string]string)} }

// Result is what an operation returned: for a Read, the value and
// whether the key was there.
type Result struct {
	Found bool
	Value string
}

// apply carries out op and returns its result.
func (s *Store) apply(op Op) Result {
	switch op.Kind {
	case Put:
		s.m[op.Key] = op.Value
		return Result{Found: true, Value: op.Value}
	case Delete:
		_, ok := s.m[op.Key]
		delete(s.m, op.Key)
		return Result{Found: ok}
	}
	v, ok := s.m[op.Key]
	return Result{Found: ok, Value: v}
}

// Get returns the value of key.
func (s *Store) Get(key string) (string, bool) {
	v, ok := s.m[key]
	return v, ok
}

// Len returns the number of keys.
func (s *Store) Len() int { return len(s.m) }

// Entries returns the entries sorted by key: a snapshot.
func (s *Store) Entries() []Entry {
	keys := slices.Sorted(maps.Keys(s.m))
	out := make([]Entry, len(keys))
	for i, k := range keys {
		out[i] = Entry{Key: k, Value: s.m[k]}
	}
	return out
}

// Hash returns the SHA-256 of the store's content: every entry in key
// order, each as length-prefixed key and value. Two stores with the same
// content have the same hash, whatever their history.
func (s *Store) Hash() []byte { return hashEntries(s.Entries()) }

func hashEntries(es []Entry) []byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, e := range es {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(e.Key)))])
		h.Write([]byte(e.Key))
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(e.Value)))])
		h.Write([]byte(e.Value))
	}
	return h.Sum(nil)
}

// storeOf builds a store from entries.
func storeOf(es []Entry) *Store {
	s := &Store{m: make(map[string]string, len(es))}
	for _, e := range es {
		s.m[e.Key] = e.Value
	}
	return s
}
