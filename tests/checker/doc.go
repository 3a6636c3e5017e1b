// Package checker checks a recorded run of actorcpg against the properties
// every fault test checks (DESIGN.md, "Properties every fault test checks";
// CPG-SPEC sections 4.3-4.5 and rules 6-20 and 28 of section 14). The
// multi-node tests, the real-process tests and the deterministic simulator
// all record what each CPG process saw and hand it to Check.
//
// # Records
//
// A process is one handle, named by Proc{Node, Pid, Inc}: the nodeid and
// pid it is a member as, and an incarnation number that tells apart two
// handles with the same nodeid/pid (a new handle after Finalize, the same
// pid on a restarted node). Each event the process sees is one Record:
//
//   - confchg: group, members, left, joined (nodeid/pid/reason each).
//   - deliver: group, the sender nodeid and pid the deliver reported, the
//     message id decoded from the payload (origin Proc and the origin's
//     seq), whether the CRC and length check passed, the length.
//   - totem: ring id (representative nodeid, seq) and member nodes.
//   - sent: group and seq, written by a sender after McastJoined returned
//     nil (ok), or an error (not ok; ignored by the checks); safe when the
//     message was sent with CPG_TYPE_SAFE.
//   - end: the process stopped. killed: it ended with its node (crash,
//     kill -9 of the node) while the run went on. finalized: it ended while
//     its node went on (Finalize without Leave, or the process died): a
//     PROCDOWN, ordered like a message, so what it delivered as its own is
//     still owed to the others. A process that stopped after the run went
//     quiet, and a process with no end record, counts as alive to the end.
//
// Every test message is built by EncodeMsg(from, seq, size): a 36-byte
// little-endian header (magic "ACPG", from.Node, from.Pid, total length,
// from.Inc, seq, CRC32C) followed by filler bytes derived from (from, seq);
// the CRC32C (Castagnoli) covers the whole message with the CRC field as
// zero. DecodeMsg verifies it. A message is identified by (group, origin
// Proc, seq); the origin's seqs should increase with each message it sends.
//
// On disk a log is JSON lines, one record per line, written by a LogWriter
// (NewLogWriter(w), then Confchg, Deliver, Totem, Sent, End, or Write) and
// read back by ReadLog or ReadLogFile; records of several processes may
// share a file and interleave. Its Deliver method takes the raw payload and
// decodes it itself. Without I/O, the *Record functions (ConfchgRecord,
// DeliverRecord, ...) build the same records, and History.Add or AddLog
// takes them. The records of one process must reach the History in the
// order the process saw them.
//
// # Properties
//
// Confchgs are compared as instances: one confchg as every process that
// saw it saw it, named by (group, ring, content, occurrence of that
// content in that ring at the process). The ring is the last totem confchg
// the process delivered before it, so record every handle's totem
// confchgs, its initial one included; see number in instance.go for why
// the occurrence count agrees between processes, and the cases where it
// cannot (those confchgs match no other).
//
// Check(h, opts) checks, per group:
//
//  1. agreed-order: two processes that both deliver m1 and m2 deliver them
//     in the same order (a cycle in the graph of every process's
//     successive deliveries, which also catches three or more processes
//     that admit no single order).
//  2. integrity: a process delivers a message at most once, its CRC and
//     length are right, and the deliver's sender nodeid/pid equals the
//     origin in the header.
//  3. fifo: at each receiver, the seqs of one origin increase.
//  4. virtual-synchrony: processes that deliver the same two consecutive
//     confchg instances deliver the same set of messages between them,
//     empty sets included; in a quiet run, processes alive and members to
//     the end with the same last confchg instance deliver the same set
//     after it; and what any process delivered after its last confchg is
//     the first messages (as a set) of a longer segment from the same
//     confchg, when there is one (a process that ended, or lagged, holds a
//     prefix).
//  5. confchg: members sorted by (nodeid, pid), no duplicates, reason 0;
//     left reasons LEAVE, NODEDOWN or PROCDOWN, joined reasons JOIN or
//     NODEUP; the first confchg of a membership is the process's own JOIN;
//     members == previous - left + joined; the same transition gives the
//     same list everywhere; and one sequence per ring (rule 11): two
//     processes that deliver the same instance and stay members deliver the
//     same next confchg when they delivered it in the same ring and then
//     went on to the same ring (or to none).
//  6. liveness (opts.Quiet): a message sent ok by a process not killed is
//     delivered to itself unless it was finalized first; and a message a
//     process not killed delivered as its own is delivered to every member
//     of the view it delivered it in (judged up to that member's own end,
//     also if it left or went down later), unless that member ended early
//     (killed, finalized), or never installed the ring the sender delivered
//     it in, or was cut apart from the sender before it: after the last
//     point the two shared in the sender's membership (a message, a confchg
//     instance, a totem confchg), the first view change the receiver went
//     through separated it from the sender's node (a NODEDOWN or NODEUP
//     entry of that node, or a ring without it), and the receiver delivered
//     no later message of that membership before it. No shared point at all
//     means the receiver never installed a view of that membership.
//  7. no-loss (opts.FaultFree): every member of the view in which a message
//     was delivered (at its sender, or else at its first receiver) delivers
//     it, unless it ended early; a message sent ok by a process not killed
//     is delivered to someone.
//  8. ghost (opts.Quiet; rule 28): the last member list of every live
//     member names no process that was killed, finalized or left, and all
//     live members end with the same list.
//  9. gap: when a receiver delivered two messages of one sender one after
//     the other, it delivered every message of that sender in between that
//     anyone delivered, unless between the two it left the group, saw the
//     sender leave, or went through a view change that separated it from
//     the sender's node. EVS excuses what follows a cut, never a hole.
//  10. safe (opts.Quiet): a SAFE message that any process delivered in a
//     view is delivered by every member of that view, with the exceptions
//     of liveness taken against the deliverer (so a crashed sender excuses
//     nothing). That every node held it when it was delivered is not
//     visible in delivery records; the simulator checks it from the frames.
//
// Members of a view are matched to processes by the confchg instance they
// delivered, and, for a merge's NODEUP confchg (each side sees its own),
// by a NODEUP confchg with the same member list in the same view change;
// a member that delivered neither is not judged.
//
// And, always:
//
//   - nodedown: once a process sees a confchg that removes a node's
//     processes with NODEDOWN, it delivers no message from that node until a
//     confchg brings a process of that node back (NODEUP or JOIN).
//   - membership: a process delivers messages of a group only while a member
//     (after its own JOIN confchg, before its own LEAVE confchg; rules 6 and
//     13).
//   - totem: at each process the ring seq never goes back, and one ring id
//     always comes with the same member nodes.
//
// A Report keeps at most Options.MaxPerProperty violations of each property
// (default 20) and counts all of them. Check takes time linear in the
// records (times the group size for the checks that walk member lists):
// a million records check in well under a second.
package checker
