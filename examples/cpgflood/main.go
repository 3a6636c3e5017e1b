// Command cpgflood is a Go port of the corosync-anchor benchmark client
// (shared/bench/corosync-anchor/cpgflood.c): a CPG throughput, integrity and
// latency probe. It takes the same command line and prints the same
// key=value lines, so the anchor's run.sh parses its output unchanged.
//
//	cpgflood recv -g GROUP -t SECONDS -n EXPECTED_SENDERS
//	cpgflood send -g GROUP -s SIZE -t SECONDS [-m MEMBERS] [-w WAIT_US]
//	cpgflood rtt  -g GROUP -s SIZE -c COUNT  [-m MEMBERS]
//	cpgflood ring -N NODES [-t SECONDS]   (exit 0 once the totem ring has NODES)
//
// Every message starts with a 40-byte header in host byte order (magic, crc,
// seq, ts_ns, len, pid, spare); the payload is a window into a pseudo-random
// buffer that moves with the sequence number. The CRC32C (Castagnoli) covers
// the header (crc field zeroed) plus the payload. Receivers check length,
// CRC and per-sender (nodeid, pid) sequence continuity; a sender ends with an
// END message carrying the number of data messages it sent, so receivers
// also detect loss at the tail.
//
// With ACTORCPG_NODE=127.0.0.1:PORT it attaches to a cpgnode process;
// otherwise it runs on an embedded node of its own.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

const (
	magicData = 0x43504744 // "CPGD"
	magicEnd  = 0x43504745 // "CPGE"
	magicRTT  = 0x43504752 // "CPGR"
)

// Header layout (struct hdr in cpgflood.c, no padding, host byte order).
const (
	offMagic = 0  // uint32
	offCRC   = 4  // uint32: CRC32C of header (crc=0) + payload
	offSeq   = 8  // uint64: DATA/RTT: sequence number; END: number of DATA sent
	offTS    = 16 // uint64: sender CLOCK_MONOTONIC, ns
	offLen   = 24 // uint32: total message length incl. header
	offPid   = 28 // uint32: sender pid, cross-checked against delivery
	offSpare = 32 // uint64
	hdrLen   = 40
)

var (
	ne         = binary.NativeEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// msgCRC is msg_crc: CRC32C over the header (whose crc field must be zero)
// then the payload.
func msgCRC(hdr *[hdrLen]byte, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, hdr[:]), castagnoli, payload)
}

// ---------- clock ----------

// clockStart anchors nowNS; time.Since reads Go's monotonic clock.
var clockStart = time.Now()

// nowNS is now_ns of cpgflood.c: a monotonic clock in ns (here counted from
// process start; only differences are ever used).
func nowNS() uint64 { return uint64(time.Since(clockStart).Nanoseconds()) }

// ---------- options ----------

var (
	optGroup              = "cpgflood"
	optSecs               = 5.0
	optSize        uint64 = 64
	optExpect      int32  = 1    // recv: expected senders
	optMembers     int32  = 1    // send/rtt: members to wait for
	optCount       int64  = 1000 // rtt
	optNodes       int32  = 1    // ring
	optWaitUS      int32  = 1000 // send: max poll wait on repeated TRY_AGAIN
	optJoinTimeout        = 60.0
)

// ---------- state shared with callbacks ----------

var (
	H           *cpg.Handle
	ready       <-chan struct{}
	pumpTimer   *time.Timer
	myNodeid    uint32
	myPid       uint32
	nMembers    int
	ringMembers uint32
	modeSend    bool
	modeRTT     bool

	curHandle atomic.Pointer[cpg.Handle] // for the signal handler
	stopping  atomic.Bool
)

// receiver bookkeeping
type sender struct {
	nodeid, pid uint32
	nextSeq     uint64 // expected next DATA seq
	got         uint64 // DATA messages received
	ended       bool
	endCount    uint64 // DATA count announced in END
}

const maxSenders = 256

var (
	senders                                            [maxSenders]sender
	nSenders                                           int
	rMsgs, rBytes, rSeqErr, rCrcErr, rLenErr, rMissing uint64
	tFirst, tLast                                      uint64
	haveFirst                                          bool
	nEnded                                             int32
	rhdr                                               [hdrLen]byte // receiver's header copy
)

// sender / rtt bookkeeping
var (
	sSelfDelivered, sSelfBytes, sOtherDelivered uint64
	sEndSeen                                    bool
	rttLastSeenSeq                              uint64 = math.MaxUint64
)

func findSender(nodeid, pid uint32) *sender {
	for i := 0; i < nSenders; i++ {
		if senders[i].nodeid == nodeid && senders[i].pid == pid {
			return &senders[i]
		}
	}
	if nSenders == maxSenders {
		return nil
	}
	s := &senders[nSenders]
	nSenders++
	*s = sender{nodeid: nodeid, pid: pid}
	return s
}

func onDeliver(_ *cpg.Handle, _ []byte, nodeid, pid uint32, msg []byte) {
	if recvDelay > 0 {
		time.Sleep(recvDelay)
	}
	t := nowNS()
	own := nodeid == myNodeid && pid == myPid

	if len(msg) < hdrLen {
		rLenErr++
		return
	}
	magic := ne.Uint32(msg[offMagic:])
	seq := ne.Uint64(msg[offSeq:])

	if modeSend || modeRTT {
		if !own {
			sOtherDelivered++
			return
		}
		if magic == magicEnd {
			sEndSeen = true
			return
		}
		sSelfDelivered++
		sSelfBytes += uint64(len(msg))
		if modeRTT {
			rttLastSeenSeq = seq
		}
		return
	}

	// receiver
	if uint64(ne.Uint32(msg[offLen:])) != uint64(len(msg)) || ne.Uint32(msg[offPid:]) != pid {
		rLenErr++
		return
	}
	copy(rhdr[:], msg[:hdrLen])
	ne.PutUint32(rhdr[offCRC:], 0)
	if msgCRC(&rhdr, msg[hdrLen:]) != ne.Uint32(msg[offCRC:]) {
		rCrcErr++
		return
	}
	s := findSender(nodeid, pid)
	if s == nil {
		return
	}
	if magic == magicEnd {
		if !s.ended {
			s.ended = true
			s.endCount = seq
			nEnded++
		}
		return
	}
	if magic != magicData {
		return // rtt probes etc. are ignored
	}
	if !haveFirst {
		tFirst, haveFirst = t, true
	}
	tLast = t
	rMsgs++
	rBytes += uint64(len(msg))
	s.got++
	if seq != s.nextSeq {
		rSeqErr++
	}
	s.nextSeq = seq + 1
}

func onConfchg(_ *cpg.Handle, _ []byte, members, _, _ []*api.Address) {
	nMembers = len(members)
}

func onTotem(_ *cpg.Handle, _ *api.RingId, members []uint32) {
	ringMembers = uint32(len(members))
}

// ---------- helpers ----------

// quit ends the process like a return from main or exit() in the C client.
// A process exit closes libcpg's IPC, so corosync drops the process's
// membership at once; here the handle is finalized for the same effect.
func quit(code int) {
	stopProfile()
	if h := curHandle.Load(); h != nil {
		_ = h.Finalize()
	}
	os.Exit(code)
}

// die prints the failed call with the numeric cs_error_t and exits 2.
func die(what string, err error) {
	if stopping.Load() {
		time.Sleep(time.Minute) // a signal is ending the process
	}
	code := api.CodeOf(err)
	fmt.Fprintf(os.Stderr, "cpgflood: %s failed: cs_error %d\n", what, int(code))
	if code == api.CodeLibrary || code == api.CodeBadHandle {
		os.Exit(2) // nothing left to finalize
	}
	quit(2)
}

// watchSignals makes SIGINT, SIGTERM and SIGHUP (unless ignored, as for
// background jobs) finalize the handle, then die by the signal as the C
// client does.
func watchSignals() {
	var sigs []os.Signal
	for _, s := range []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		if !signal.Ignored(s) {
			sigs = append(sigs, s)
		}
	}
	if len(sigs) == 0 {
		return
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		sig := <-ch
		stopping.Store(true)
		if h := curHandle.Load(); h != nil {
			done := make(chan struct{})
			go func() { _ = h.Finalize(); close(done) }()
			select {
			case <-done:
			case <-time.After(time.Second):
			}
		}
		signal.Reset()
		s := sig.(syscall.Signal)
		_ = syscall.Kill(os.Getpid(), s)
		time.Sleep(time.Second)
		os.Exit(128 + int(s))
	}()
}

func cpgOpen(join bool) {
	md := &cpg.ModelV1Data{
		Deliver:      onDeliver,
		Confchg:      onConfchg,
		TotemConfchg: onTotem,
		Flags:        api.ModelV1DeliverInitialTotemConf,
	}
	for i := 0; ; i++ {
		h, err := cpg.ModelInitialize(api.ModelV1, md, nil, cpg.WithPid(uint32(os.Getpid())))
		if err == nil {
			H = h
			curHandle.Store(h)
			break
		}
		if i >= 50 {
			die("cpg_model_initialize", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var err error
	if ready, err = H.FdGet(); err != nil {
		die("cpg_fd_get", err)
	}
	pumpTimer = time.NewTimer(time.Hour)
	pumpTimer.Stop()
	nid, err := H.LocalGet()
	if err != nil {
		die("cpg_local_get", err)
	}
	myNodeid = nid
	myPid = uint32(os.Getpid())
	if !join {
		return
	}
	gn := []byte(optGroup) // no trailing NUL, as cpgflood.c
	if len(gn) > api.MaxNameLength {
		gn = gn[:api.MaxNameLength]
	}
	for i := 0; ; i++ {
		err := H.Join(gn)
		if err == nil {
			break
		}
		if !errors.Is(err, api.ErrTryAgain) || i >= 100 {
			die("cpg_join", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pump waits for readiness up to timeoutMs (poll semantics: 0 checks,
// negative waits forever), then dispatches everything pending.
func pump(timeoutMs int32) {
	switch {
	case timeoutMs == 0:
		select {
		case <-ready:
		default:
			return
		}
	case timeoutMs < 0:
		<-ready
	default:
		pumpTimer.Reset(time.Duration(timeoutMs) * time.Millisecond)
		select {
		case <-ready:
			pumpTimer.Stop()
		case <-pumpTimer.C:
			return
		}
	}
	if err := H.Dispatch(api.DispatchAll); err != nil && !errors.Is(err, api.ErrTryAgain) {
		die("cpg_dispatch", err)
	}
}

// secsNS is (uint64_t)(secs * 1e9) as the C client computes deadlines.
func secsNS(secs float64) uint64 { return uint64(secs * 1e9) }

func waitMembers(want int32) {
	dl := nowNS() + secsNS(optJoinTimeout)
	for int32(nMembers) < want {
		if nowNS() > dl {
			fmt.Fprintf(os.Stderr, "cpgflood: timeout waiting for %d members (have %d)\n", want, nMembers)
			quit(3)
		}
		pump(100)
	}
}

// payload source: a pseudo-random buffer; message seq picks a window
const srcSpan = 1 << 20

var srcBuf []byte

// alloc is malloc/calloc: nil when the size cannot be allocated.
func alloc[T any](n uint64) (s []T) {
	if n > math.MaxInt64 {
		return nil
	}
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	return make([]T, int(n))
}

func makeSrc(size uint64) {
	n := uint64(srcSpan) + 64
	if size > math.MaxInt64-n {
		n = math.MaxUint64
	} else {
		n += size
	}
	if srcBuf = alloc[byte](n); srcBuf == nil {
		fmt.Fprintln(os.Stderr, "malloc: Cannot allocate memory")
		quit(2)
	}
	x := uint64(0x9E3779B97F4A7C15) ^ (uint64(os.Getpid()) << 17)
	for i := range srcBuf {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		srcBuf[i] = byte(x >> 24)
	}
}

// outgoing message: header buffer and iovec, reused for every message
var (
	shdr [hdrLen]byte
	iov  [2][]byte
)

func build(magic uint32, seq, size uint64) [][]byte {
	var plen uint64
	if size > hdrLen {
		plen = size - hdrLen
	}
	off := (seq * 4099) % srcSpan
	pl := srcBuf[off : off+plen]
	ne.PutUint32(shdr[offMagic:], magic)
	ne.PutUint32(shdr[offCRC:], 0)
	ne.PutUint64(shdr[offSeq:], seq)
	ne.PutUint64(shdr[offTS:], nowNS())
	ne.PutUint32(shdr[offLen:], uint32(hdrLen+plen))
	ne.PutUint32(shdr[offPid:], myPid)
	ne.PutUint64(shdr[offSpare:], 0)
	ne.PutUint32(shdr[offCRC:], msgCRC(&shdr, pl))
	iov[0], iov[1] = shdr[:], pl
	if plen == 0 {
		return iov[:1]
	}
	return iov[:2]
}

var tryAgainCount, pollWaits uint64

// sendMsg sends with TRY_AGAIN handling: dispatch ALL pending events, then
// retry; after a retry that still fails, wait up to optWaitUS (rounded up
// to ms, as poll) for an event, dispatch, and retry again.
func sendMsg(magic uint32, seq, size uint64) {
	v := build(magic, seq, size)
	consecutive := 0
	for {
		err := H.McastJoined(api.TypeAgreed, v...)
		if err == nil {
			return
		}
		if !errors.Is(err, api.ErrTryAgain) {
			die("cpg_mcast_joined", err)
		}
		tryAgainCount++
		consecutive++
		if consecutive == 1 {
			if d := H.Dispatch(api.DispatchAll); d != nil && !errors.Is(d, api.ErrTryAgain) {
				die("cpg_dispatch", d)
			}
		} else {
			pollWaits++
			pump((optWaitUS + 999) / 1000)
		}
	}
}

// ff formats a double as printf %.Nf does, inf and nan included.
func ff(v float64, prec int) string {
	switch {
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	case math.IsNaN(v):
		if math.Signbit(v) {
			return "-nan"
		}
		return "nan"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func doRecv() int {
	cpgOpen(true)
	start := nowNS()
	dl := start + secsNS(optSecs)
	timedOut := false
	for nEnded < optExpect {
		t := nowNS()
		if t >= dl {
			timedOut = true
			break
		}
		leftMs := (dl-t)/1000000 + 1
		if leftMs > 200 {
			pump(200)
		} else {
			pump(int32(leftMs))
		}
	}
	// tail loss: compare with END counts
	for i := 0; i < nSenders; i++ {
		s := &senders[i]
		if s.ended && s.endCount > s.got {
			rMissing += s.endCount - s.got
		}
	}
	var secs, mps, mbps float64
	if tLast > tFirst {
		secs = float64(tLast-tFirst) / 1e9
	}
	if secs > 0 {
		mps = float64(rMsgs) / secs
		mbps = float64(rBytes) / secs / 1e6
	}
	fmt.Printf("recv msgs=%d bytes=%d secs=%s msgs_per_s=%s MB_per_s=%s "+
		"seq_errors=%d crc_errors=%d len_errors=%d missing=%d"+
		" senders=%d ended=%d timeout=%d nodeid=%d\n",
		rMsgs, rBytes, ff(secs, 3), ff(mps, 0), ff(mbps, 2), rSeqErr, rCrcErr, rLenErr, rMissing,
		nSenders, nEnded, b2i(timedOut), myNodeid)
	if rSeqErr != 0 || rCrcErr != 0 || rLenErr != 0 || rMissing != 0 || timedOut {
		return 1
	}
	return 0
}

func doSend() int {
	modeSend = true
	makeSrc(optSize)
	cpgOpen(true)
	waitMembers(optMembers)
	if optSize < hdrLen {
		fmt.Fprintf(os.Stderr, "cpgflood: size %d < header %d, sending %d\n", optSize, hdrLen, hdrLen)
	}
	start := nowNS()
	dl := start + secsNS(optSecs)
	var seq uint64
	for {
		if seq&63 == 0 && nowNS() >= dl {
			break
		}
		sendMsg(magicData, seq, optSize)
		seq++
		// keep our own event queue drained without a wait per message
		if seq&15 == 0 {
			pump(0)
		}
	}
	tEnd := nowNS()
	sendMsg(magicEnd, seq, hdrLen)
	// drain until our END comes back: everything we sent was delivered
	dl2 := nowNS() + 60*1000000000
	for !sEndSeen && nowNS() < dl2 {
		pump(200)
	}
	tDone := nowNS()
	secs := float64(tEnd-start) / 1e9
	secsDone := float64(tDone-start) / 1e9
	msgLen := optSize
	if msgLen < hdrLen {
		msgLen = hdrLen
	}
	fmt.Printf("send sent=%d secs=%s msgs_per_s=%s MB_per_s=%s self_delivered=%d"+
		" delivered_per_s=%s others_delivered=%d try_again=%d poll_waits=%d"+
		" drained=%d nodeid=%d\n",
		seq, ff(secs, 3), ff(float64(seq)/secs, 0), ff(float64(seq)*float64(msgLen)/secs/1e6, 2),
		sSelfDelivered, ff(float64(sSelfDelivered)/secsDone, 0), sOtherDelivered,
		tryAgainCount, pollWaits, b2i(sEndSeen), myNodeid)
	if sEndSeen {
		return 0
	}
	return 1
}

func doRTT() int {
	modeRTT = true
	if os.Getenv("GOMAXPROCS") == "" {
		// One message at a time, like the C client's one thread: on one
		// processor the hand-offs between the client's goroutines wake no
		// other thread (GOMAXPROCS overrides).
		runtime.GOMAXPROCS(1)
	}
	makeSrc(optSize)
	cpgOpen(true)
	waitMembers(optMembers)
	const warm = 20
	lat := alloc[uint64](uint64(optCount))
	if lat == nil {
		fmt.Fprintln(os.Stderr, "calloc: Cannot allocate memory")
		return 2
	}
	for i := int64(-warm); i < optCount; i++ {
		seq := uint64(i + warm)
		t0 := nowNS()
		sendMsg(magicRTT, seq, optSize)
		dl := t0 + 10*1000000000
		for rttLastSeenSeq != seq {
			if nowNS() > dl {
				fmt.Fprintf(os.Stderr, "cpgflood: rtt message %d lost\n", seq)
				return 1
			}
			pump(100)
		}
		if i >= 0 {
			lat[i] = nowNS() - t0
		}
	}
	slices.Sort(lat)
	var sum uint64
	for _, v := range lat {
		sum += v
	}
	i50, i99 := optCount*50/100, optCount*99/100
	if i99 >= optCount {
		i99 = optCount - 1
	}
	fmt.Printf("rtt count=%d size=%d p50_us=%s p99_us=%s max_us=%s min_us=%s mean_us=%s nodeid=%d\n",
		optCount, optSize, ff(float64(lat[i50])/1e3, 1), ff(float64(lat[i99])/1e3, 1),
		ff(float64(lat[optCount-1])/1e3, 1), ff(float64(lat[0])/1e3, 1),
		ff(float64(sum)/float64(optCount)/1e3, 1), myNodeid)
	return 0
}

func doRing() int {
	// joins a probe group: the initial totem confchg (sent on join) tells the
	// ring size; later totem confchgs update it
	cpgOpen(true)
	dl := nowNS() + secsNS(optSecs)
	for int32(ringMembers) != optNodes {
		if nowNS() > dl {
			fmt.Printf("ring members=%d want=%d\n", ringMembers, optNodes)
			return 1
		}
		pump(100)
	}
	fmt.Printf("ring members=%d nodeid=%d\n", ringMembers, myNodeid)
	return 0
}

func usage() {
	fmt.Fprint(os.Stderr,
		"usage: cpgflood recv -g GROUP -t SECONDS -n EXPECTED_SENDERS\n"+
			"       cpgflood send -g GROUP -s SIZE -t SECONDS [-m MEMBERS] [-w WAIT_US]\n"+
			"       cpgflood rtt  -g GROUP -s SIZE -c COUNT [-m MEMBERS]\n"+
			"       cpgflood ring -N NODES [-t SECONDS]\n"+
			"  recv: -t is the overall time limit; it ends when all senders sent END\n"+
			"  send: -m waits for MEMBERS group members (incl. itself) before flooding\n")
	os.Exit(64)
}

// ---------- command line, as getopt(3) and atoi/atol/atof/strtoul ----------

const optstring = "g:t:n:s:m:c:N:w:J:"

// parseOpts is GNU getopt(argc, argv, optstring) from optind 2: options may
// follow or precede other arguments (unless POSIXLY_CORRECT is set), "--"
// ends them, an argument may be attached (-t5) or the next word.
func parseOpts(args []string) {
	posix := os.Getenv("POSIXLY_CORRECT") != ""
	for i := 2; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			if posix {
				break
			}
			continue
		}
		c := a[1]
		if c == ':' || strings.IndexByte(optstring, c) < 0 {
			os.Stderr.WriteString(args[0] + ": invalid option -- '" + string([]byte{c}) + "'\n")
			usage()
		}
		// every option of optstring takes an argument
		var arg string
		switch {
		case len(a) > 2:
			arg = a[2:]
		case i+1 < len(args):
			i++
			arg = args[i]
		default:
			os.Stderr.WriteString(args[0] + ": option requires an argument -- '" + string([]byte{c}) + "'\n")
			usage()
		}
		switch c {
		case 'g':
			optGroup = arg
		case 't':
			optSecs = atof(arg)
		case 'n':
			optExpect = atoi(arg)
		case 's':
			optSize = strtoul0(arg)
		case 'm':
			optMembers = atoi(arg)
		case 'c':
			optCount = strtol(arg)
		case 'N':
			optNodes = atoi(arg)
		case 'w':
			optWaitUS = atoi(arg)
		case 'J':
			optJoinTimeout = atof(arg)
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f' }

// sign skips leading space and an optional sign.
func sign(s string) (rest string, neg bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	return s[i:], neg
}

// strtol is strtol(s, NULL, 10), saturating on overflow; also atol.
func strtol(s string) int64 {
	s, neg := sign(s)
	var v uint64
	over := false
	for i := 0; i < len(s) && isDigit(s[i]); i++ {
		if v > (math.MaxUint64-9)/10 {
			over = true
			continue
		}
		v = v*10 + uint64(s[i]-'0')
	}
	switch {
	case neg && (over || v > 1<<63):
		return math.MinInt64
	case neg:
		return -int64(v)
	case over || v > math.MaxInt64:
		return math.MaxInt64
	}
	return int64(v)
}

// atoi is glibc's atoi: (int)strtol(s, NULL, 10).
func atoi(s string) int32 { return int32(strtol(s)) }

// strtoul0 is strtoul(s, NULL, 0): 0x hex, leading 0 octal, else decimal;
// ULONG_MAX on overflow; a minus sign negates modulo 2^64.
func strtoul0(s string) uint64 {
	s, neg := sign(s)
	base := uint64(10)
	switch {
	case len(s) > 2 && s[0] == '0' && s[1]|0x20 == 'x' && isHex(s[2]):
		base, s = 16, s[2:]
	case len(s) > 0 && s[0] == '0':
		base = 8
	}
	var v uint64
	over := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case isDigit(c):
			d = uint64(c - '0')
		case isHex(c):
			d = uint64(c|0x20-'a') + 10
		default:
			d = 99
		}
		if d >= base {
			break
		}
		if v > (math.MaxUint64-d)/base {
			over = true
		}
		v = v*base + d
	}
	if over {
		return math.MaxUint64
	}
	if neg {
		return -v
	}
	return v
}

// atof is strtod(s, NULL): the longest prefix that is a decimal or hex
// float, inf or nan; 0 if there is none.
func atof(s string) float64 {
	s, neg := sign(s)
	apply := func(v float64) float64 {
		if neg {
			return -v
		}
		return v
	}
	ls := strings.ToLower(s)
	switch {
	case strings.HasPrefix(ls, "inf"):
		return apply(math.Inf(1))
	case strings.HasPrefix(ls, "nan"):
		return apply(math.NaN())
	}
	digits := func(i int, ok func(byte) bool) int {
		for i < len(s) && ok(s[i]) {
			i++
		}
		return i
	}
	// mantissa [. fraction] [exponent] with digit class dig and exponent
	// letter e; returns the end, or 0 when there is no digit.
	scan := func(i int, dig func(byte) bool, e byte) int {
		j := digits(i, dig)
		n := j - i
		if j < len(s) && s[j] == '.' {
			k := digits(j+1, dig)
			n += k - j - 1
			j = k
		}
		if n == 0 {
			return 0
		}
		if j < len(s) && s[j]|0x20 == e {
			k := j + 1
			if k < len(s) && (s[k] == '+' || s[k] == '-') {
				k++
			}
			if m := digits(k, isDigit); m > k {
				j = m
			}
		}
		return j
	}
	if len(s) > 2 && s[0] == '0' && s[1]|0x20 == 'x' {
		if j := scan(2, isHex, 'p'); j > 0 {
			h := s[:j]
			if !strings.ContainsAny(h, "pP") {
				h += "p0"
			}
			v, _ := strconv.ParseFloat(h, 64)
			return apply(v)
		}
	}
	if j := scan(0, isDigit, 'e'); j > 0 {
		v, _ := strconv.ParseFloat(s[:j], 64)
		return apply(v)
	}
	return apply(0)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	mode := os.Args[1]
	parseOpts(os.Args)
	startProfile(mode)
	watchSignals()
	switch mode {
	case "recv":
		quit(doRecv())
	case "send":
		quit(doSend())
	case "rtt":
		if optCount < 1 {
			usage()
		}
		quit(doRTT())
	case "ring":
		quit(doRing())
	}
	usage()
}
