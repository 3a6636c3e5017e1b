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
//     nil (ok), or an error (not ok; ignored by the checks).
//   - end: the process stopped; killed says it ended abruptly while the run
//     went on (crash, kill -9, its node crashed, Finalize in mid-run).
//     A process that stopped after the run went quiet, and a process with
//     no end record, counts as alive to the end.
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
// Check(h, opts) checks, per group:
//
//  1. agreed-order: two processes that both deliver m1 and m2 deliver them
//     in the same order. Every process's delivery sequence adds an edge from
//     each message to the next; the check fails when that graph has a cycle,
//     which includes every pairwise conflict (reported with both processes)
//     and also three or more processes that together admit no single order.
//  2. integrity: a process delivers a message at most once, its CRC and
//     length are right, and the deliver's sender nodeid/pid equals the
//     origin in the header.
//  3. fifo: at each receiver, the seqs of one origin increase.
//  4. virtual-synchrony: processes that go through the same two consecutive
//     confchgs deliver the same set of messages between them. A confchg is
//     identified by its content (members, left and joined lists, with
//     reasons); the messages a process delivers after its confchg i and
//     before its confchg i+1, while it is a member, form the segment of the
//     pair (content i, content i+1). All segments of one pair are compared
//     when no nodeid/pid has that pair twice (two incarnations of one
//     nodeid/pid are never members of one view at once). When one has it
//     more than once (the same join and leave repeated), segments that
//     share a message are the same occurrence and are compared; an
//     occurrence that shares no message with any other is not compared. A pair never spans
//     a partition: the two sides see different confchgs (each sees the
//     other as NODEDOWN), and a merge gives each side its own NODEUP
//     confchg. The messages after a process's last confchg are not
//     compared (liveness covers them in quiet runs).
//  5. confchg: members are sorted by (nodeid, pid), without duplicates and
//     with reason 0; left reasons are LEAVE, NODEDOWN or PROCDOWN, joined
//     reasons JOIN or NODEUP. The first confchg of a membership (the first
//     of the process, or the first after its own LEAVE) is its own JOIN:
//     joined has it with JOIN and members has it. Every later confchg has
//     members == previous members - left + joined, with every left entry a
//     previous member and no joined entry already one; and two processes
//     that see the same transition (same previous list, same left and
//     joined) get the same list.
//  6. liveness (opts.Quiet: the run ended healed and quiet): a message
//     recorded sent ok by a process that was not killed is delivered to the
//     sender itself, and to every process that, in the sender's view, was a
//     member of the view the sender delivered it in and stayed a member (not
//     removed by any later confchg) until the end of the sender's membership,
//     unless that process was killed or is not a member at its end. The
//     process behind a member nodeid/pid is the one with that nodeid/pid
//     that was a member after the same confchg or, failing that (after a
//     merge each side sees its own NODEUP confchg), after a confchg with the
//     same member list; when several incarnations qualify, or none was
//     recorded, that member is not judged.
//  7. no-loss (opts.FaultFree): every member of the view in which a message
//     was delivered (at its sender, or else at its first receiver) delivers
//     it, unless killed; and a message sent ok by a process that was not
//     killed is delivered to someone. Members are matched to processes as
//     in 6.
//  8. ghost (opts.Quiet; rule 28): the last member list of every live member
//     (not killed, a member at its end) names no process that was killed or
//     left, and all live members of the group end with the same list.
//     Addresses no record names (processes that were not logged) are not
//     judged.
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
