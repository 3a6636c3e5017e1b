package remote

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
)

// flatten is what a writer puts on the wire for f's body.
func flatten(t testing.TB, f *Frame) []byte {
	t.Helper()
	if err := f.encode(); err != nil {
		t.Fatal(err)
	}
	bufs, _ := encodeFrames([]*Frame{f}, nil, nil)
	var out []byte
	for _, b := range bufs {
		out = append(out, b...)
	}
	if len(out) != 5+f.size {
		t.Fatalf("%d bytes laid out, the frame says %d", len(out), 5+f.size)
	}
	return out[5:]
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fastMessages are messages of the fast kinds, payloads of every size
// class (inline, gathered), events other than deliveries among them.
func fastMessages(r *rand.Rand) []proto.Message {
	sizes := []int{0, 1, 100, gatherMin - 1, gatherMin, 16 << 10, 70 << 10}
	size := func() int { return sizes[r.IntN(len(sizes))] }
	var out []proto.Message
	for range 50 {
		m := &api.McastRequest{Guarantee: r.Uint32N(4), Data: randBytes(r, size())}
		if r.IntN(3) == 0 {
			m.More, m.TotalLength = true, r.Uint64()
		}
		out = append(out, m)
		var mb api.McastBatch
		for range r.IntN(5) {
			mb.Msgs = append(mb.Msgs, &api.McastRequest{Guarantee: r.Uint32N(4), Data: randBytes(r, size())})
		}
		out = append(out, &mb)
		eb := &api.EventBatch{Handle: r.Uint64N(3) * r.Uint64()}
		for range r.IntN(6) {
			switch r.IntN(5) {
			case 0:
				eb.Events = append(eb.Events, &api.Event{Confchg: &api.Confchg{Group: []byte("g"),
					Members: []*api.Address{{Nodeid: 1, Pid: 2}}}})
			case 1:
				eb.Events = append(eb.Events, &api.Event{TotemConfchg: &api.TotemConfchg{Members: []uint32{1, 2}}})
			case 2:
				eb.Events = append(eb.Events, &api.Event{Part: &api.DeliverPart{Data: randBytes(r, size()), Last: true}})
			default:
				eb.Events = append(eb.Events, &api.Event{Deliver: &api.Deliver{Group: randBytes(r, r.IntN(130)),
					Nodeid: r.Uint32(), Pid: r.Uint32N(2) * r.Uint32(), Data: randBytes(r, size()), Guarantee: r.Uint32N(4)}})
			}
		}
		out = append(out, eb)
	}
	return out
}

// The gathered encoding is protobuf: proto.Unmarshal reads it back, and
// the fast decoder reads both it and proto.Marshal's encoding, payloads
// aliasing the body.
func TestFastCodecRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, m := range fastMessages(r) {
		f := NewFrame(m)
		body := flatten(t, f)
		if f.det {
			t.Fatalf("%T: detached", m)
		}
		got := m.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(body, got); err != nil || !proto.Equal(got, m) {
			t.Fatalf("%T: proto.Unmarshal of the gathered encoding: %v, equal %v", m, err, proto.Equal(got, m))
		}
		for _, enc := range [][]byte{body, must(proto.Marshal(m))} {
			for _, owned := range []bool{false, true} {
				got := m.ProtoReflect().New().Interface()
				if !decodeFast(enc, got, owned) {
					t.Fatalf("%T: the fast decoder refused %x", m, enc[:min(len(enc), 64)])
				}
				if !proto.Equal(got, m) {
					t.Fatalf("%T: fast decoding differs", m)
				}
			}
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// Gathered payloads are not copied: the frame references them.
func TestGatherReferencesLargePayloads(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 16<<10)
	f := NewFrame(&api.EventBatch{Handle: 3, Events: []*api.Event{{Deliver: &api.Deliver{Nodeid: 1, Data: data}},
		{Deliver: &api.Deliver{Nodeid: 1, Data: data[:10]}}}})
	if err := f.encode(); err != nil {
		t.Fatal(err)
	}
	if len(f.data) != 1 || &f.data[0][0] != &data[0] {
		t.Fatalf("payloads %d, not the message's", len(f.data))
	}
	bufs, _, _ := encodeSessionFrames([]sessionOut{{f: f}}, nil, nil)
	found := false
	for _, b := range bufs {
		found = found || len(b) > 0 && &b[0] == &data[0]
	}
	if !found {
		t.Fatal("the payload was copied into the write buffers")
	}
}

// The fast decoder aliases the body with large payloads, capped: appending
// to one does not write over the next. In a batch, small payloads and
// group names are copies: keeping one does not keep the batch.
func TestFastDecodeAliasesWithCappedSlices(t *testing.T) {
	big1, big2 := bytes.Repeat([]byte("a"), gatherMin), bytes.Repeat([]byte("d"), gatherMin)
	body := must(proto.Marshal(&api.McastBatch{Msgs: []*api.McastRequest{{Data: big1}, {Data: big2}, {Data: []byte("small")}}}))
	var m api.McastBatch
	if !decodeFast(body, &m, true) {
		t.Fatal("refused")
	}
	if cap(m.Msgs[0].Data) != gatherMin {
		t.Fatalf("cap %d", cap(m.Msgs[0].Data))
	}
	_ = append(m.Msgs[0].Data, 'X')
	if !bytes.Equal(m.Msgs[1].Data, big2) {
		t.Fatal("an append overwrote the next payload")
	}
	m.Msgs[0].Data[0] = 'z'
	m.Msgs[2].Data[0] = 'S'
	if !bytes.Contains(body, []byte("za")) {
		t.Fatal("a large payload does not alias the body")
	}
	if !bytes.Contains(body, []byte("small")) {
		t.Fatal("a small payload of a batch aliases the body")
	}
	eb := must(proto.Marshal(&api.EventBatch{Events: []*api.Event{{Deliver: &api.Deliver{Group: []byte("grp"), Data: []byte("tiny")}}}}))
	var e api.EventBatch
	if !decodeFast(eb, &e, true) {
		t.Fatal("refused")
	}
	e.Events[0].Deliver.Group[0], e.Events[0].Deliver.Data[0] = 'G', 'T'
	if !bytes.Contains(eb, []byte("grp")) || !bytes.Contains(eb, []byte("tiny")) {
		t.Fatal("a group name or small payload of a batch aliases the body")
	}
	var single api.McastRequest
	one := must(proto.Marshal(&api.McastRequest{Data: []byte("alone")}))
	if !decodeFast(one, &single, true) {
		t.Fatal("refused")
	}
	single.Data[0] = 'A'
	if !bytes.Contains(one, []byte("Alone")) {
		t.Fatal("a lone multicast's payload does not alias its body")
	}
	// A body that is the reader's buffer: everything is copied.
	var borrowed api.McastBatch
	if !decodeFast(body, &borrowed, false) {
		t.Fatal("refused")
	}
	for _, r := range borrowed.Msgs {
		r.Data[len(r.Data)-1] = '!'
	}
	if bytes.Contains(body, []byte("!")) {
		t.Fatal("a payload decoded from a borrowed body aliases it")
	}
}

// FuzzFastDecode: whatever the bytes, the fast decoder either refuses
// (proto.Unmarshal then decides) or decodes exactly what proto.Unmarshal
// does.
func FuzzFastDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, m := range fastMessages(r)[:30] {
		b := must(proto.Marshal(m))
		if len(b) > 4096 {
			continue
		}
		f.Add(byte(LinkKind(m)), b)
	}
	f.Add(byte(10), protowire.AppendTag(nil, 2, protowire.BytesType))
	f.Add(byte(12), []byte{0x12, 0x80, 0x80, 0x80, 0x80, 0x10})
	f.Fuzz(func(t *testing.T, kind byte, b []byte) {
		k := int(kind%3) + 10
		if k == 11 {
			k = 13
		}
		want := linkKinds[k]()
		werr := proto.Unmarshal(b, want)
		got := linkKinds[k]()
		if !decodeFast(bytes.Clone(b), got, kind&0x80 != 0) {
			return
		}
		if werr != nil {
			t.Fatalf("kind %d: fast decoding accepted what proto.Unmarshal refuses: %v", k, werr)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("kind %d: fast decoding differs from proto.Unmarshal", k)
		}
	})
}
