package remote

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// Whatever the chunks the connection gives and the mix of next, Read,
// readOwned and grow, the reader hands the stream over in order, whole,
// and reports its end.
func TestFrameReaderReadsTheStreamInOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	src := make([]byte, 3<<20)
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	wraps := map[string]func(io.Reader) io.Reader{
		"whole": func(rd io.Reader) io.Reader { return rd },
		"bytes": iotest.OneByteReader,
		"half":  iotest.HalfReader,
		"err":   iotest.DataErrReader,
	}
	for name, wrap := range wraps {
		for round := range 5 {
			in := src
			if name == "bytes" {
				in = src[:64<<10]
			}
			fr := newFrameReader(wrap(bytes.NewReader(in)), 1<<10*(1+r.IntN(64)))
			var got []byte
			for len(got) < len(in) {
				left := len(in) - len(got)
				switch op := r.IntN(10); {
				case op < 4:
					n := min(left, r.IntN(fr.Size()+1))
					p, err := fr.next(n)
					if err != nil {
						t.Fatalf("%s/%d: next(%d) at %d: %v", name, round, n, len(got), err)
					}
					got = append(got, p...)
				case op < 7:
					p := make([]byte, r.IntN(3*fr.Size()+1))
					n, err := fr.Read(p)
					if err != nil {
						t.Fatalf("%s/%d: Read at %d: %v", name, round, len(got), err)
					}
					got = append(got, p[:n]...)
				case op < 9:
					n := min(left, r.IntN(2*fr.Size()+1))
					b, err := fr.readOwned(n, 0)
					if err != nil {
						t.Fatalf("%s/%d: readOwned(%d) at %d: %v", name, round, n, len(got), err)
					}
					got = append(got, b...)
				default:
					if fr.Size() < 1<<20 {
						fr.grow(2 * fr.Size())
					}
				}
				if !bytes.Equal(got, in[:len(got)]) {
					t.Fatalf("%s/%d: the stream differs within its first %d bytes", name, round, len(got))
				}
			}
			if _, err := fr.next(1); err != io.EOF {
				t.Fatalf("%s/%d: after the end: %v", name, round, err)
			}
		}
	}
}
