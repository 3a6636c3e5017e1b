package cpgtest

import (
	"slices"
	"strings"
	"testing"
)

// The nodes a partition does not name are one more side; a node on two
// sides, a node not in the cluster, or an empty side is an error.
func TestCompleteSides(t *testing.T) {
	ids := []uint32{1, 2, 3, 4}
	for _, tc := range []struct {
		sides [][]uint32
		want  [][]uint32
		err   string
	}{
		{sides: [][]uint32{{1}}, want: [][]uint32{{1}, {2, 3, 4}}},
		{sides: [][]uint32{{3, 1}, {2}}, want: [][]uint32{{3, 1}, {2}, {4}}},
		{sides: [][]uint32{{1, 2}, {3, 4}}, want: [][]uint32{{1, 2}, {3, 4}}},
		{sides: nil, want: [][]uint32{{1, 2, 3, 4}}},
		{sides: [][]uint32{{1}, {1, 2}}, err: "node 1 is on two sides"},
		{sides: [][]uint32{{1, 9}}, err: "node 9 is not in the cluster"},
		{sides: [][]uint32{{1}, {}}, err: "an empty side"},
	} {
		got, err := completeSides(ids, tc.sides)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: error %v, want %q", tc.sides, err, tc.err)
		case tc.err == "" && (err != nil || !slices.EqualFunc(got, tc.want, slices.Equal)):
			t.Errorf("%v: %v, %v; want %v", tc.sides, got, err, tc.want)
		}
	}
}
