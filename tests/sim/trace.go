package sim

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cluster"
	"github.com/actorcpg/actorcpg/internal/wire"
	"github.com/actorcpg/actorcpg/tests/checker"
)

// The trace: one line per input and output, "time(ms) who what".

func ring(r *api.RingId) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%d.%d", r.Nodeid, r.Seq)
}

// describeEvent names a group event: kind, origin, incarnation.msgid,
// and its seq once ordered.
func describeEvent(ev *wire.GroupEvent) string {
	if ev == nil {
		return "nil"
	}
	var b strings.Builder
	switch ev.Kind {
	case wire.Kind_KIND_JOIN:
		b.WriteString("J")
	case wire.Kind_KIND_LEAVE:
		fmt.Fprintf(&b, "L(%s)", api.Reason(ev.Reason))
	case wire.Kind_KIND_HANDOFF:
		return fmt.Sprintf("H(n%d->n%d)@%d", ev.Nodeid, ev.GetHandoff().GetTo(), ev.Seq)
	default:
		b.WriteString("M")
	}
	fmt.Fprintf(&b, "%d/%d#%d.%d", ev.Nodeid, ev.Pid, ev.Inc, ev.Msgid)
	if ev.Seq != 0 {
		fmt.Fprintf(&b, "@%d", ev.Seq)
	}
	if ev.Kind == wire.Kind_KIND_MCAST {
		if from, seq, err := checker.DecodeMsg(ev.Data); err == nil {
			fmt.Fprintf(&b, "=%s:%d", from, seq)
		}
		fmt.Fprintf(&b, "(%dB", len(ev.Data))
		if ev.Part {
			b.WriteString(" part")
			if ev.More {
				b.WriteString("+")
			}
		}
		if ev.Guarantee == uint32(api.TypeSafe) {
			b.WriteString(" safe")
		}
		b.WriteString(")")
	}
	return b.String()
}

func describeEvents(evs []*wire.GroupEvent) string {
	s := make([]string, len(evs))
	for i, ev := range evs {
		s[i] = describeEvent(ev)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// describeMsg is one line for a message between nodes.
func describeMsg(m proto.Message) string {
	switch m := m.(type) {
	case *wire.PeerHeartbeat:
		s := fmt.Sprintf("Heartbeat ring=%s members=%v max=%d", ring(m.Ring), m.Members, m.MaxSeq)
		if m.Accepted != nil {
			s += " accepted=" + ring(m.Accepted)
		}
		return s
	case *wire.ViewPropose:
		return fmt.Sprintf("Propose ring=%s members=%v", ring(m.Ring), m.Members)
	case *wire.ViewReject:
		return fmt.Sprintf("Reject ring=%s max=%d", ring(m.Ring), m.MaxSeq)
	case *wire.ViewState:
		var gs []string
		for _, g := range m.Groups {
			gs = append(gs, fmt.Sprintf("%s:delivered=%d members=%v held=%s", g.Group, g.Delivered, checker.Members(g.Members), describeEvents(g.Held)))
		}
		return fmt.Sprintf("State ring=%s old=%s %v max=%d {%s}", ring(m.Ring), ring(m.OldRing), m.OldMembers, m.MaxSeq, strings.Join(gs, "; "))
	case *wire.ViewInstall:
		var cs []string
		for _, cc := range m.Cohorts {
			var gs []string
			for _, g := range cc.Groups {
				gs = append(gs, fmt.Sprintf("%s upto %d %s", g.Group, g.Upto, describeEvents(g.Events)))
			}
			cs = append(cs, fmt.Sprintf("old %s %v: %s", ring(cc.OldRing), cc.Nodes, strings.Join(gs, ", ")))
		}
		var ls []string
		for _, g := range m.Groups {
			ls = append(ls, fmt.Sprintf("%s=%v", g.Group, checker.Members(g.Members)))
		}
		return fmt.Sprintf("Install ring=%s members=%v cohorts{%s} lists{%s}", ring(m.Ring), m.Members, strings.Join(cs, "; "), strings.Join(ls, " "))
	case *wire.Submit:
		r := ""
		if m.Restart {
			r = " restart"
		}
		return fmt.Sprintf("Submit %s ring=%s%s %s", m.Group, ring(m.Ring), r, describeEvents(m.Events))
	case *wire.Ordered:
		r := ""
		if m.Retransmit {
			r = " retransmit"
		}
		return fmt.Sprintf("Ordered %s ring=%s stable=%d high=%d%s %s", m.Group, ring(m.Ring), m.Stable, m.High, r, describeEvents(m.Events))
	case *wire.Ack:
		var gs []string
		for _, g := range m.Groups {
			gs = append(gs, fmt.Sprintf("%s:%d", g.Group, g.Seq))
		}
		return fmt.Sprintf("Ack ring=%s %s", ring(m.Ring), strings.Join(gs, " "))
	case *wire.Nack:
		return fmt.Sprintf("Nack %s ring=%s %d..%d", m.Group, ring(m.Ring), m.Seq, m.SeqTo)
	}
	return fmt.Sprintf("%T", m)
}

// describeReady summarizes an engine's output (details follow on the
// clients' and the network's lines).
func describeReady(rd cluster.Ready) string {
	var s []string
	if rd.PersistSeq != 0 {
		s = append(s, fmt.Sprintf("persist=%d", rd.PersistSeq))
	}
	if n := len(rd.Messages); n > 0 {
		s = append(s, fmt.Sprintf("%d messages", n))
	}
	if n := len(rd.Deliveries); n > 0 {
		s = append(s, fmt.Sprintf("deliveries to %d handles", n))
	}
	for _, l := range rd.Left {
		s = append(s, fmt.Sprintf("left h%d(%s)", l.Handle, l.Reason))
	}
	for _, r := range rd.Rejected {
		s = append(s, fmt.Sprintf("rejected h%d x%d", r.Handle, r.Count))
	}
	for _, f := range rd.Flow {
		s = append(s, fmt.Sprintf("flow h%d=%v", f.Handle, f.Enabled))
	}
	for _, h := range rd.Interrupted {
		s = append(s, fmt.Sprintf("interrupted h%d", h))
	}
	if rd.Totem != nil {
		s = append(s, fmt.Sprintf("TOTEM ring=%s members=%v", ring(rd.Totem.RingId), rd.Totem.Members))
	}
	if rd.SyncChanged {
		s = append(s, "sync changed")
	}
	return strings.Join(s, ", ")
}

func describeCuts(cuts [][2]uint32) string {
	s := make([]string, len(cuts))
	for i, c := range cuts {
		s[i] = fmt.Sprintf("%d->%d", c[0], c[1])
	}
	return strings.Join(s, " ")
}
