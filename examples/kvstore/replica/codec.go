package replica

import (
	"encoding/binary"
	"errors"
)

// errShort is returned when a message ends before its fields do.
var errShort = errors.New("replica: message truncated")

// encoder appends fields to a message: unsigned varints and
// length-prefixed bytes.
type encoder struct{ b []byte }

func (e *encoder) u64(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) bytes(p []byte) {
	e.u64(uint64(len(p)))
	e.b = append(e.b, p...)
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) boolean(v bool) {
	if v {
		e.u64(1)
	} else {
		e.u64(0)
	}
}
func (e *encoder) members(ms []Member) {
	e.u64(uint64(len(ms)))
	for _, m := range ms {
		e.u64(uint64(m.Node))
		e.u64(uint64(m.Pid))
	}
}

// decoder reads what encoder wrote; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	v := d.u64()
	if v > 1<<32-1 {
		d.err = errors.New("replica: field out of range")
	}
	return uint32(v)
}

func (d *decoder) bytes() []byte {
	n := d.u64()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) str() string { return string(d.bytes()) }

func (d *decoder) boolean() bool { return d.u64() != 0 }

func (d *decoder) members() []Member {
	n := d.u64()
	if d.err != nil || n > uint64(len(d.b)) { // each member takes at least 2 bytes
		if d.err == nil {
			d.err = errShort
		}
		return nil
	}
	ms := make([]Member, 0, n)
	for i := uint64(0); i < n; i++ {
		ms = append(ms, Member{Node: d.u32(), Pid: d.u32()})
	}
	return ms
}

func (e *encoder) positions(ps []Pos) {
	e.u64(uint64(len(ps)))
	for _, p := range ps {
		e.u64(p.Term)
		e.u64(p.Index)
	}
}

func (d *decoder) positions() []Pos {
	n := d.u64()
	if d.err != nil || n > uint64(len(d.b)) {
		if d.err == nil {
			d.err = errShort
		}
		return nil
	}
	ps := make([]Pos, 0, n)
	for i := uint64(0); i < n; i++ {
		ps = append(ps, Pos{Term: d.u64(), Index: d.u64()})
	}
	return ps
}
