package remote

import "io"

// frameReader is a session's read buffer. Unlike bufio.Reader, which
// moves what it holds to the front of its buffer on every fill, it moves
// it only when a frame does not fit in the room left behind it: with a
// buffer several frames long, a frame read out of it costs one copy (into
// the body it owns) and one read(2) takes several.
type frameReader struct {
	rd   io.Reader
	buf  []byte
	r, w int
	err  error // from rd, kept until the bytes read with it are taken
}

func newFrameReader(rd io.Reader, size int) *frameReader {
	return &frameReader{rd: rd, buf: make([]byte, size)}
}

// Size is the buffer's size.
func (b *frameReader) Size() int { return len(b.buf) }

// Buffered is how many bytes are read and not yet taken.
func (b *frameReader) Buffered() int { return b.w - b.r }

// fill makes at least n (at most Size) bytes buffered, reading as much as
// the connection has each time.
func (b *frameReader) fill(n int) error {
	for empty := 0; b.w-b.r < n; {
		if b.err != nil {
			err := b.err
			b.err = nil
			return err
		}
		if len(b.buf)-b.r < n { // no room behind what is held
			b.w = copy(b.buf, b.buf[b.r:b.w])
			b.r = 0
		}
		k, err := b.rd.Read(b.buf[b.w:])
		if k < 0 || k > len(b.buf)-b.w {
			panic("remote: frameReader: bad read count")
		}
		b.w += k
		b.err = err
		if k == 0 && err == nil {
			if empty++; empty >= 100 {
				b.err = io.ErrNoProgress
			}
		}
	}
	return nil
}

// next returns the next n buffered bytes (n <= Size), reading them first
// if need be; they are valid until the next call.
func (b *frameReader) next(n int) ([]byte, error) {
	if err := b.fill(n); err != nil {
		return nil, err
	}
	p := b.buf[b.r : b.r+n]
	b.r += n
	if b.r == b.w {
		b.r, b.w = 0, 0
	}
	return p, nil
}

// Read implements io.Reader: buffered bytes first; a read as large as
// the buffer goes straight into p.
func (b *frameReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w {
		if b.err != nil {
			err := b.err
			b.err = nil
			return 0, err
		}
		if len(p) >= len(b.buf) {
			return b.rd.Read(p)
		}
		b.r, b.w = 0, 0
		if err := b.fill(1); err != nil {
			return 0, err
		}
	}
	k := copy(p, b.buf[b.r:b.w])
	b.r += k
	if b.r == b.w {
		b.r, b.w = 0, 0
	}
	return k, nil
}

// grow gives the reader a buffer of size bytes (larger than its own),
// keeping what it holds.
func (b *frameReader) grow(size int) {
	nb := make([]byte, size)
	b.w = copy(nb, b.buf[b.r:b.w])
	b.r = 0
	b.buf = nb
}

// readOwned reads an n-byte body into a buffer of its own, which the
// message decoded from it may alias. A body the buffer holds whole (or a
// small one) is copied out of it; a larger one gets a buffer of its size
// (as readBody allocates: bounded by what the connection has delivered
// before), takes what is buffered and reads the rest straight into it.
func (b *frameReader) readOwned(n, trust int) ([]byte, error) {
	if n <= b.Buffered() || n <= smallBody && n <= b.Size() {
		p, err := b.next(n)
		if err != nil {
			return nil, err
		}
		return append([]byte(nil), p...), nil
	}
	if n > max(linkChunk, trust) {
		return readBody(b, nil, n, trust)
	}
	body := make([]byte, n)
	k := copy(body, b.buf[b.r:b.w])
	b.r += k
	if b.r == b.w {
		b.r, b.w = 0, 0
	}
	if k < n && b.err != nil {
		err := b.err
		b.err = nil
		return nil, err
	}
	if _, err := io.ReadFull(b.rd, body[k:]); err != nil {
		return nil, err
	}
	return body, nil
}
