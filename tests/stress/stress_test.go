// Package stress drives one node with 1,000 handles: many groups, two of
// them with 320 members, all joining, flooding, leaving and finalizing at
// once, and checks every single delivery against the CPG guarantees
// (DESIGN.md "Properties every fault test checks", CPG-SPEC §14 rules 6, 8,
// 10-13, 15):
//
//   - agreed order: every member's stream of events of its group is the
//     same window of the group's one agreed stream, from its own JOIN
//     confchg to its own LEAVE confchg;
//   - FIFO per sender, no loss, no duplicates;
//   - byte-identical payloads, carrying a CRC32 and a per-sender sequence
//     number, from the true sender (nodeid, pid);
//   - confchgs: one entry in joined or left with the right reason, member
//     lists sorted by (nodeid, pid), each equal to the previous one minus
//     left plus joined.
//
// Each group has an observer: a member that joins first, never sends, and
// leaves last, so its stream is the whole agreed stream of the group.
package stress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

const (
	totalHandles = 1000
	bigGroups    = 2
	bigSize      = 320 // more than CPG_MEMBERS_MAX (128)
	bigMsgs      = 5   // messages per sender in a big group
	smallSize    = 10
	smallMsgs    = 25
	headerLen    = 16 // pid, seq, body length, crc32 of body
	// deadline bounds the whole run; a stuck run fails instead of hanging.
	deadline = 100 * time.Second
)

// rec is one event of a member's stream of its group.
type rec struct {
	kind byte   // 'M' message, 'J' join, 'L' leave, 'P' procdown
	id   uint64 // message: pid<<32|seq; confchg: nodeid<<32|pid of the process
	hash uint64 // confchg: hash of the member list
}

func (r rec) String() string {
	if r.kind == 'M' {
		return fmt.Sprintf("msg %d#%d", r.id>>32, uint32(r.id))
	}
	return fmt.Sprintf("confchg %c %d/%d members#%x", r.kind, r.id>>32, uint32(r.id), r.hash)
}

type group struct {
	name    []byte
	msgs    int // messages per sender
	members []*member
	// payload of each message by pid<<32|seq; read-only during the run.
	payload map[uint64][]byte
	senders int
}

type member struct {
	run      *stressRun
	g        *group
	h        *cpg.Handle
	ready    <-chan struct{}
	tick     *time.Timer
	observer bool
	finalize bool // leave by Finalize (PROCDOWN) rather than Leave

	stream   []rec
	joined   bool // own JOIN confchg seen
	left     bool // own LEAVE confchg seen
	members  int  // size of the member list of the last confchg
	recv     int  // messages received
	lastSeq  map[uint32]uint32
	tryAgain int
}

type stressRun struct {
	t      *testing.T
	groups []*group
	nodeid uint32
	start  chan struct{}
	abort  chan struct{}
	once   sync.Once
	errs   atomic.Int32
}

func (r *stressRun) failf(format string, args ...any) {
	if r.errs.Add(1) <= 20 {
		r.t.Errorf(format, args...)
	}
	r.once.Do(func() { close(r.abort) })
}

func addrKey(nodeid, pid uint32) uint64 { return uint64(nodeid)<<32 | uint64(pid) }

func hashMembers(ms []*api.Address) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, a := range ms {
		binary.LittleEndian.PutUint32(b[:4], a.Nodeid)
		binary.LittleEndian.PutUint32(b[4:], a.Pid)
		h.Write(b[:])
	}
	return h.Sum64()
}

// makePayload builds message seq of pid: a header (pid, seq, body length,
// CRC32 of the body) and a pseudo-random body. Most bodies are under 2 KiB;
// the first message of each small group's first sender is 200 KiB.
func makePayload(rnd *rand.Rand, pid, seq uint32, big bool) []byte {
	n := rnd.IntN(2048)
	if big {
		n = 200 << 10
	}
	b := make([]byte, headerLen+n)
	var w [8]byte
	for i := headerLen; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(w[:], rnd.Uint64())
		copy(b[i:], w[:])
	}
	binary.LittleEndian.PutUint32(b[0:], pid)
	binary.LittleEndian.PutUint32(b[4:], seq)
	binary.LittleEndian.PutUint32(b[8:], uint32(n))
	binary.LittleEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[headerLen:]))
	return b
}

func (m *member) deliver(h *cpg.Handle, grp []byte, nodeid, pid uint32, msg []byte) {
	r := m.run
	if !m.joined || m.left {
		r.failf("%s/%d: message from %d/%d outside its membership", m.g.name, h.Pid(), nodeid, pid)
		return
	}
	if !bytes.Equal(grp, m.g.name) {
		r.failf("%s/%d: message for group %q", m.g.name, h.Pid(), grp)
		return
	}
	if len(msg) < headerLen {
		r.failf("%s/%d: %d-byte message from %d/%d", m.g.name, h.Pid(), len(msg), nodeid, pid)
		return
	}
	hpid := binary.LittleEndian.Uint32(msg[0:])
	seq := binary.LittleEndian.Uint32(msg[4:])
	n := binary.LittleEndian.Uint32(msg[8:])
	sum := binary.LittleEndian.Uint32(msg[12:])
	switch {
	case nodeid != r.nodeid || hpid != pid:
		r.failf("%s/%d: message of pid %d delivered as from %d/%d", m.g.name, h.Pid(), hpid, nodeid, pid)
		return
	case int(n) != len(msg)-headerLen || crc32.ChecksumIEEE(msg[headerLen:]) != sum:
		r.failf("%s/%d: message %d#%d corrupt (len %d, header says %d)", m.g.name, h.Pid(), pid, seq, len(msg), n+headerLen)
		return
	case !bytes.Equal(msg, m.g.payload[uint64(pid)<<32|uint64(seq)]):
		r.failf("%s/%d: message %d#%d differs from what was sent", m.g.name, h.Pid(), pid, seq)
		return
	case seq != m.lastSeq[pid]+1:
		r.failf("%s/%d: from %d got #%d after #%d (FIFO, loss or duplicate)", m.g.name, h.Pid(), pid, seq, m.lastSeq[pid])
		return
	}
	m.lastSeq[pid] = seq
	m.recv++
	m.stream = append(m.stream, rec{kind: 'M', id: uint64(pid)<<32 | uint64(seq)})
}

func (m *member) confchg(h *cpg.Handle, grp []byte, members, left, joined []*api.Address) {
	r := m.run
	self := addrKey(h.NodeID(), h.Pid())
	if !bytes.Equal(grp, m.g.name) {
		r.failf("%s/%d: confchg for group %q", m.g.name, h.Pid(), grp)
		return
	}
	if m.left {
		r.failf("%s/%d: confchg after its own leave", m.g.name, h.Pid())
		return
	}
	if !slices.IsSortedFunc(members, api.CompareAddresses) {
		r.failf("%s/%d: member list not sorted by (nodeid, pid)", m.g.name, h.Pid())
	}
	for _, a := range members {
		if a.Reason != 0 {
			r.failf("%s/%d: member list entry %d/%d has reason %d", m.g.name, h.Pid(), a.Nodeid, a.Pid, a.Reason)
		}
	}
	if len(left)+len(joined) != 1 {
		r.failf("%s/%d: confchg with %d left and %d joined, want one change", m.g.name, h.Pid(), len(left), len(joined))
		return
	}
	var c rec
	c.hash = hashMembers(members)
	if len(joined) == 1 {
		a := joined[0]
		c.kind, c.id = 'J', addrKey(a.Nodeid, a.Pid)
		if api.Reason(a.Reason) != api.ReasonJoin {
			r.failf("%s/%d: joined %d/%d with reason %v", m.g.name, h.Pid(), a.Nodeid, a.Pid, api.Reason(a.Reason))
		}
		if _, found := slices.BinarySearchFunc(members, a, api.CompareAddresses); !found {
			r.failf("%s/%d: joiner %d/%d missing from the member list", m.g.name, h.Pid(), a.Nodeid, a.Pid)
		}
		if !m.joined {
			if c.id != self {
				r.failf("%s/%d: first event is the join of %d/%d, not its own", m.g.name, h.Pid(), a.Nodeid, a.Pid)
				return
			}
			m.joined = true
		}
	} else {
		a := left[0]
		c.id = addrKey(a.Nodeid, a.Pid)
		switch api.Reason(a.Reason) {
		case api.ReasonLeave:
			c.kind = 'L'
		case api.ReasonProcDown:
			c.kind = 'P'
		default:
			r.failf("%s/%d: left %d/%d with reason %v", m.g.name, h.Pid(), a.Nodeid, a.Pid, api.Reason(a.Reason))
		}
		if _, found := slices.BinarySearchFunc(members, a, api.CompareAddresses); found {
			r.failf("%s/%d: leaver %d/%d still in the member list", m.g.name, h.Pid(), a.Nodeid, a.Pid)
		}
		if !m.joined {
			r.failf("%s/%d: first event is a leave", m.g.name, h.Pid())
			return
		}
		if c.id == self {
			if c.kind != 'L' {
				r.failf("%s/%d: own leave confchg with reason %v", m.g.name, h.Pid(), api.Reason(a.Reason))
			}
			m.left = true
		}
	}
	m.members = len(members)
	m.stream = append(m.stream, c)
}

// wait dispatches until cond holds; false if the run was aborted. A
// receive on wake (if not nil) also re-checks cond.
func (m *member) wait(what string, cond func() bool) bool { return m.waitWake(what, nil, cond) }

func (m *member) waitWake(what string, wake <-chan struct{}, cond func() bool) bool {
	for !cond() {
		if err := m.h.Dispatch(api.DispatchAll); err != nil {
			m.run.failf("%s/%d: Dispatch while waiting for %s: %v", m.g.name, m.h.Pid(), what, err)
			return false
		}
		if cond() {
			return true
		}
		select {
		case <-m.ready:
		case <-wake:
			wake = nil
		case <-m.run.abort:
			m.run.failf("%s/%d: aborted while waiting for %s (recv %d, members %d)", m.g.name, m.h.Pid(), what, m.recv, m.members)
			return false
		}
	}
	return true
}

// retry runs f until it does not return ErrTryAgain, dispatching and
// pausing a millisecond between tries.
func (m *member) retry(what string, f func() error) bool {
	for {
		err := f()
		if err == nil {
			return true
		}
		if !errors.Is(err, api.ErrTryAgain) {
			m.run.failf("%s/%d: %s: %v", m.g.name, m.h.Pid(), what, err)
			return false
		}
		m.tryAgain++
		if err := m.h.Dispatch(api.DispatchAll); err != nil {
			m.run.failf("%s/%d: Dispatch after TRY_AGAIN: %v", m.g.name, m.h.Pid(), err)
			return false
		}
		m.tick.Reset(time.Millisecond)
		select {
		case <-m.ready:
		case <-m.tick.C:
		case <-m.run.abort:
			return false
		}
	}
}

// live is one member's whole life: join, flood, leave or finalize.
func (m *member) live(joined, flooded *sync.WaitGroup) {
	g, r := m.g, m.run
	defer flooded.Done()
	if !m.retry("join", func() error { return m.h.Join(g.name) }) ||
		!m.wait("own JOIN confchg", func() bool { return m.joined }) {
		joined.Done()
		return
	}
	joined.Done()
	// Everyone is joined before anyone sends, so every receiver must
	// get every message of its group.
	started := false
	if !m.waitWake("start", r.start, func() bool {
		if !started {
			select {
			case <-r.start:
				started = true
			default:
			}
		}
		return started
	}) {
		return
	}
	if !m.observer {
		pid := m.h.Pid()
		for seq := 1; seq <= g.msgs; seq++ {
			p := g.payload[uint64(pid)<<32|uint64(seq)]
			// Two pieces, gathered like an iovec.
			if !m.retry("McastJoined", func() error { return m.h.McastJoined(api.TypeAgreed, p[:headerLen], p[headerLen:]) }) {
				return
			}
		}
	}
	total := g.senders * g.msgs
	if !m.wait("every message", func() bool { return m.recv == total }) {
		return
	}
	switch {
	case m.observer:
		if !m.wait("everyone else to leave", func() bool { return m.members == 1 }) ||
			!m.retry("Leave", func() error { return m.h.Leave(g.name) }) ||
			!m.wait("own LEAVE confchg", func() bool { return m.left }) {
			return
		}
	case !m.finalize:
		if !m.retry("Leave", func() error { return m.h.Leave(g.name) }) ||
			!m.wait("own LEAVE confchg", func() bool { return m.left }) {
			return
		}
	}
	if err := m.h.Finalize(); err != nil {
		r.failf("%s/%d: Finalize: %v", g.name, m.h.Pid(), err)
	}
}

func plan() []*group {
	var gs []*group
	for i := 0; i < bigGroups; i++ {
		gs = append(gs, &group{name: []byte(fmt.Sprintf("big-%d", i)), msgs: bigMsgs, members: make([]*member, bigSize)})
	}
	n := totalHandles - bigGroups*bigSize
	for i := 0; n > 0; i++ {
		name := []byte(fmt.Sprintf("small-%02d", i))
		switch i {
		case 1: // "small-00\0" is another group than "small-00" (rule 27)
			name = []byte("small-00\x00")
		case 2: // the longest name
			name = []byte(strings.Repeat("L", api.MaxNameLength))
		case 3: // binary
			name = []byte{0xff, 0x00, 0x01, 'x'}
		}
		size := min(smallSize, n)
		gs = append(gs, &group{name: name, msgs: smallMsgs, members: make([]*member, size)})
		n -= size
	}
	return gs
}

func TestThousandHandlesJoinFloodLeave(t *testing.T) {
	cfg := remote.DefaultConfig()
	cfg.SendWindow = 16             // senders hit TRY_AGAIN and must dispatch
	cfg.QueueHighBytes = 256 << 10  // big groups get flow-controlled now and then
	cfg.StallTimeout = 2 * deadline // nobody is evicted in this run
	node, err := actors.Start(cfg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	defer node.Stop()

	r := &stressRun{t: t, groups: plan(), nodeid: node.NodeID(), start: make(chan struct{}), abort: make(chan struct{})}
	watchdog := time.AfterFunc(deadline, func() { r.failf("run still going after %v", deadline) })
	defer watchdog.Stop()

	rnd := rand.New(rand.NewPCG(7, 11))
	handles := 0
	for _, g := range r.groups {
		g.payload = make(map[uint64][]byte)
		for i := range g.members {
			m := &member{run: r, g: g, observer: i == 0, finalize: i%2 == 1, lastSeq: make(map[uint32]uint32)}
			m.h, err = cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{Deliver: m.deliver, Confchg: m.confchg}, m, cpg.WithNode(node))
			if err != nil {
				t.Fatalf("handle %d: ModelInitialize: %v", handles, err)
			}
			if m.ready, err = m.h.FdGet(); err != nil {
				t.Fatalf("FdGet: %v", err)
			}
			m.tick = time.NewTimer(time.Hour)
			g.members[i] = m
			handles++
			if m.observer {
				continue
			}
			g.senders++
			for seq := 1; seq <= g.msgs; seq++ {
				big := g.msgs == smallMsgs && i == 1 && seq == 1
				g.payload[uint64(m.h.Pid())<<32|uint64(seq)] = makePayload(rnd, m.h.Pid(), uint32(seq), big)
			}
		}
	}
	if handles != totalHandles {
		t.Fatalf("planned %d handles, want %d", handles, totalHandles)
	}

	// Observers join first, alone; then everyone else joins at once.
	var joined, done sync.WaitGroup
	for _, g := range r.groups {
		joined.Add(1)
		done.Add(1)
		go g.members[0].live(&joined, &done)
	}
	joined.Wait()
	for _, g := range r.groups {
		for _, m := range g.members[1:] {
			joined.Add(1)
			done.Add(1)
			go m.live(&joined, &done)
		}
	}
	joined.Wait()
	close(r.start)
	done.Wait()
	if t.Failed() {
		return
	}

	tryAgain := 0
	for _, g := range r.groups {
		checkGroup(t, g)
		for _, m := range g.members {
			tryAgain += m.tryAgain
		}
	}
	t.Logf("%d handles, %d groups, TRY_AGAIN retries: %d", handles, len(r.groups), tryAgain)

	// No ghost members: every group is empty once everyone has gone.
	probe, err := cpg.Initialize(nil, cpg.WithNode(node))
	if err != nil {
		t.Fatalf("probe handle: %v", err)
	}
	defer probe.Finalize()
	for _, g := range r.groups {
		if ms, err := probe.MembershipGet(g.name); err != nil || len(ms) != 0 {
			t.Errorf("%q: MembershipGet after everyone left = %d members, %v; want 0, nil", g.name, len(ms), err)
		}
	}
}

// checkGroup checks the observer's stream (the group's whole agreed
// stream) and that every member's stream is the window of it between its
// own join and its own leave.
func checkGroup(t *testing.T, g *group) {
	t.Helper()
	obs := g.members[0]
	master := obs.stream
	self := func(m *member) uint64 { return addrKey(m.h.NodeID(), m.h.Pid()) }

	// Replay the agreed stream: member lists, senders, FIFO, completeness.
	set := map[uint64]*api.Address{}
	sorted := func() []*api.Address {
		out := make([]*api.Address, 0, len(set))
		for _, a := range set {
			out = append(out, a)
		}
		slices.SortFunc(out, api.CompareAddresses)
		return out
	}
	at := map[rec]int{}
	next := map[uint32]uint32{}
	for i, e := range master {
		if _, dup := at[rec{kind: e.kind, id: e.id}]; dup {
			t.Fatalf("%q: %v appears twice in the agreed stream", g.name, e)
		}
		at[rec{kind: e.kind, id: e.id}] = i
		switch e.kind {
		case 'M':
			pid := uint32(e.id >> 32)
			if _, ok := set[addrKey(obs.h.NodeID(), pid)]; !ok {
				t.Fatalf("%q: %v delivered while its sender is not a member", g.name, e)
			}
			next[pid]++
			if uint32(e.id) != next[pid] {
				t.Fatalf("%q: %v out of FIFO order", g.name, e)
			}
			continue
		case 'J':
			if _, ok := set[e.id]; ok {
				t.Fatalf("%q: %v joins twice", g.name, e)
			}
			set[e.id] = &api.Address{Nodeid: uint32(e.id >> 32), Pid: uint32(e.id)}
		case 'L', 'P':
			if _, ok := set[e.id]; !ok {
				t.Fatalf("%q: %v: not a member", g.name, e)
			}
			delete(set, e.id)
		}
		if e.hash != hashMembers(sorted()) {
			t.Fatalf("%q: %v: member list is not the previous one minus left plus joined", g.name, e)
		}
	}
	if len(master) == 0 || master[0].kind != 'J' || master[0].id != self(obs) {
		t.Fatalf("%q: observer's stream does not start with its own join", g.name)
	}
	if last := master[len(master)-1]; last.kind != 'L' || last.id != self(obs) || len(set) != 0 {
		t.Fatalf("%q: observer's stream does not end with its own leave, alone", g.name)
	}
	for _, m := range g.members[1:] {
		if got := next[m.h.Pid()]; got != uint32(g.msgs) {
			t.Errorf("%q: %d of %d messages of %d were delivered", g.name, got, g.msgs, m.h.Pid())
		}
	}

	// Every member saw one window of the agreed stream.
	for _, m := range g.members[1:] {
		id := self(m)
		from, ok := at[rec{kind: 'J', id: id}]
		if !ok {
			t.Errorf("%q: join of %d missing from the agreed stream", g.name, m.h.Pid())
			continue
		}
		kind := byte('L')
		if m.finalize {
			kind = 'P'
		}
		to, ok := at[rec{kind: kind, id: id}]
		if !ok {
			t.Errorf("%q: %c of %d missing from the agreed stream", g.name, kind, m.h.Pid())
			continue
		}
		s := m.stream
		switch {
		case !m.finalize && !slices.Equal(s, master[from:to+1]):
			t.Errorf("%q: member %d saw %d events, not the %d of the agreed stream from its join to its leave%s",
				g.name, m.h.Pid(), len(s), to+1-from, firstDiff(s, master[from:to+1]))
		case m.finalize && (from+len(s) > to || !slices.Equal(s, master[from:from+len(s)])):
			t.Errorf("%q: finalized member %d saw %d events, not a prefix of the agreed stream from its join to its PROCDOWN%s",
				g.name, m.h.Pid(), len(s), firstDiff(s, master[from:to]))
		}
	}
}

func firstDiff(got, want []rec) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf(" (event %d: got %v, want %v)", i, got[i], want[i])
		}
	}
	return ""
}
