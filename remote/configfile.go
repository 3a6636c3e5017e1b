package remote

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// ParseConfig reads a node configuration file from r and returns base with
// the settings the file gives; name is the file name used in errors. base is
// usually DefaultConfig(). ParseConfig does not call Validate: the caller
// does, once it has applied its own overrides.
//
// The format is modeled on corosync.conf:
//
//	# a comment; "#" starts one at the start of a line or after a blank
//	totem {
//	    token: 1000                 # ms (Config.Token)
//	    heartbeat: 100              # ms (Config.Heartbeat)
//	    join: 50                    # ms (Config.Join)
//	    consensus: 1200             # ms (Config.Consensus)
//	    send_window: 2048           # multicasts (Config.SendWindow)
//	    send_window_bytes: 16777216 # bytes (Config.SendWindowBytes)
//	    max_message_size: 67108864  # bytes (Config.MaxMessageSize)
//	    max_atomic_msgsize: 1047552 # bytes (Config.MaxAtomicMsgsize)
//	    link_fragment: 1048576      # bytes (Config.LinkFragment)
//	    group_window: 8388608       # bytes (Config.GroupWindow)
//	    sequencer_handoff: 50       # ms, or off (Config.SequencerHandoff)
//	    crypto_ca: /etc/actorcpg/pki/ca.pem          # (Config.CryptoCA)
//	    crypto_cert: /etc/actorcpg/pki/node-1.pem    # (Config.CryptoCert)
//	    crypto_key: /etc/actorcpg/pki/node-1-key.pem # (Config.CryptoKey)
//	}
//	limits {
//	    queue_high_bytes: 67108864  # bytes (Config.QueueHighBytes)
//	    queue_limit_bytes: 536870912 # bytes (Config.QueueLimitBytes)
//	    stall_timeout: 30000        # ms (Config.StallTimeout)
//	    credit_events: 8192         # events (Config.CreditEvents)
//	    credit_bytes: 16777216      # bytes (Config.CreditBytes)
//	    client_timeout: 2000        # ms (Config.ClientTimeout)
//	    client_heartbeat: 250       # ms (Config.ClientHeartbeat)
//	    request_timeout: 10000      # ms (Config.RequestTimeout)
//	    session_spin: 50us          # a duration, or off (Config.SessionSpin)
//	}
//	nodelist {
//	    node {
//	        nodeid: 1
//	        ring0_addr: 127.0.0.1:7101
//	    }
//	    node {
//	        nodeid: 2
//	        ring0_addr: 127.0.0.1:7102
//	    }
//	}
//	local {                         # the node this process runs
//	    nodeid: 1                   # Config.NodeID
//	    state_dir: /var/lib/actorcpg # Config.StateDir
//	    listen: 127.0.0.1:7101      # Config.Listen
//	    client_socket: /run/actorcpg/cpg.sock # Config.ClientSocket
//	}
//	uidgid {                        # may repeat: who else may use the
//	    uid: 1000                   # client socket (Config.ClientUIDs,
//	    gid: 1000                   # Config.ClientGIDs)
//	}
//
// The crypto keys (all three or none; cpgkeygen makes the files) turn on
// mutual TLS 1.3 between nodes. Corosync's crypto_cipher and crypto_hash
// are refused: the TLS handshake chooses the cipher.
//
// Each line holds one item: "name {", "}" or "key: value"; a node's keys go
// on lines of their own too. Every section and every key is optional, but
// each may be given only once, and every node needs both nodeid and
// ring0_addr. Sizes and counts are plain decimal integers above 0 (sizes in
// bytes); times are integer milliseconds above 0 or a Go duration such as
// "1.5s" or "250ms". Addresses are host:port.
//
// Each value must lie within its bounds (MinTime, MaxTime and the others):
//
//	token                   10ms .. 1h
//	consensus               1ms .. 72m (1.2 x the longest token)
//	every other time        1ms .. 1h; client_heartbeat in whole
//	                        milliseconds (clients are told it in them)
//	max_atomic_msgsize      1 KiB .. 1 GiB
//	max_message_size        1 .. 1 GiB
//	link_fragment           4 KiB .. 4 MiB
//	send_window             1 .. 4294967295 (a uint32 on the wire)
//	credit_events           1 .. 4294967295 (a uint32 on the wire)
//	other sizes             1 .. 1 TiB (MaxBytes)
//
// so that nothing derived from them overflows (consensus = 1.2 x token,
// retransmit = token/4, ClientPatience = 20 x token, the node's tick
// period) and nothing is sent to clients as 0. Validate then checks the
// values against each other: heartbeat at most a third of token, join at
// most token, consensus at least token, client_heartbeat below half of
// client_timeout, max_message_size at least max_atomic_msgsize and
// queue_limit_bytes at least queue_high_bytes.
//
// A nodelist replaces base.Nodes. When the file has a nodelist but no
// local.listen, Listen is left empty so that Validate sets it to this
// node's ring0_addr. As in Corosync, heartbeat, join and consensus that the
// file leaves out while it sets token are left zero, so that Validate
// derives them from the token: heartbeat and join are at most a quarter of
// it, consensus is 1.2 times it.
//
// Any mistake (an unknown section or key, a key or section given twice, a
// bad value or one out of bounds, a line that is none of the three forms,
// an unbalanced brace, a node without nodeid or ring0_addr, an empty
// nodelist, two nodes with the same nodeid or address) is an error of one
// line naming the file, the line and the field, such as
//
//	node.conf:7: totem.token: "abc" is not a number of milliseconds or a duration such as 1.5s
//	node.conf:7: totem.token: "9223372036854775807" is above 1h
//
// The returned Config remembers where each value came from, so that
// Validate's error about values that do not agree names them the same way:
//
//	node.conf:3: totem.heartbeat: 500ms must be at most a third of totem.token 1s (line 2)
func ParseConfig(r io.Reader, name string, base Config) (Config, error) {
	p := &cfgParser{name: name, cfg: base, seen: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxConfigLine)
	for sc.Scan() {
		p.line++
		if err := p.parseLine(sc.Text()); err != nil {
			return base, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return base, fmt.Errorf("%s:%d: line longer than %d bytes", name, p.line+1, maxConfigLine)
		}
		return base, fmt.Errorf("%s: %v", name, err)
	}
	if n := len(p.stack); n > 0 {
		f := p.stack[n-1]
		return base, fmt.Errorf("%s:%d: %s: no \"}\" closes this section", name, f.line, p.path())
	}
	return p.finish(), nil
}

// LoadConfig reads the configuration file at path with ParseConfig.
func LoadConfig(path string, base Config) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return base, err
	}
	defer f.Close()
	return ParseConfig(f, path, base)
}

// maxConfigLine bounds one line of a configuration file.
const maxConfigLine = 64 << 10

// cfgFrame is an open section: its name and the line of its "{".
type cfgFrame struct {
	name string
	line int
}

// cfgNode is a nodelist.node being read.
type cfgNode struct {
	NodeAddr
	line    int // the line of "node {"
	hasID   bool
	hasAddr bool
}

// cfgUidgid is a uidgid section being read.
type cfgUidgid struct {
	line           int // the line of "uidgid {"
	uid, gid       uint32
	hasUID, hasGID bool
}

type cfgParser struct {
	name  string
	line  int
	cfg   Config
	stack []cfgFrame
	// seen maps every section and key given (its dotted path) to its line;
	// a node's keys are kept in node.seen while it is open.
	seen     map[string]int
	node     *cfgNode
	nodeSeen map[string]int
	nodes    []cfgNode
	nodelist bool
	uidgid   *cfgUidgid
}

func (p *cfgParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.name, p.line, fmt.Sprintf(format, args...))
}

// path is the dotted path of the open sections.
func (p *cfgParser) path() string {
	names := make([]string, len(p.stack))
	for i, f := range p.stack {
		names[i] = f.name
	}
	return strings.Join(names, ".")
}

// field is the dotted path of key in the open section.
func (p *cfgParser) field(key string) string {
	if len(p.stack) == 0 {
		return key
	}
	return p.path() + "." + key
}

func (p *cfgParser) parseLine(raw string) error {
	line := strings.TrimSpace(stripComment(raw))
	switch {
	case line == "":
		return nil
	case line == "}":
		return p.close()
	case strings.HasSuffix(line, "{"):
		name := strings.TrimSpace(strings.TrimSuffix(line, "{"))
		if isIdent(name) {
			return p.open(name)
		}
	}
	key, value, ok := strings.Cut(line, ":")
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if !ok || !isIdent(key) {
		if word := strings.Fields(line)[0]; isIdent(word) && !strings.ContainsAny(line, "{}") {
			return p.errorf("%s: missing \":\" after the key", p.field(word))
		}
		return p.errorf("%q: want one item per line: \"key: value\", \"section {\" or \"}\"", line)
	}
	if strings.ContainsAny(value, "{}") {
		return p.errorf("%s: %q: want one item per line: put \"{\" and \"}\" on lines of their own", p.field(key), value)
	}
	return p.set(key, value)
}

// stripComment cuts line at a "#" that starts it or follows a blank.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (p *cfgParser) open(name string) error {
	parent := p.path()
	switch {
	case parent == "" && (name == "totem" || name == "limits" || name == "nodelist" || name == "local"):
	case parent == "nodelist" && name == "node":
		p.stack = append(p.stack, cfgFrame{name, p.line})
		p.node = &cfgNode{line: p.line}
		p.nodeSeen = map[string]int{}
		return nil
	case parent == "" && name == "uidgid":
		// May repeat, as in corosync.conf: each names users or groups
		// that may open sessions on the client socket.
		p.stack = append(p.stack, cfgFrame{name, p.line})
		p.uidgid = &cfgUidgid{line: p.line}
		p.nodeSeen = map[string]int{}
		return nil
	case parent == "":
		return p.errorf("%s: unknown section (want totem, limits, nodelist, local or uidgid)", name)
	case parent == "nodelist":
		return p.errorf("nodelist.%s: unknown section (want node)", name)
	default:
		return p.errorf("%s.%s: unknown section", parent, name)
	}
	if first, dup := p.seen[name]; dup {
		return p.errorf("%s: section given twice (first on line %d)", name, first)
	}
	p.seen[name] = p.line
	p.stack = append(p.stack, cfgFrame{name, p.line})
	if name == "nodelist" {
		p.nodelist = true
	}
	return nil
}

func (p *cfgParser) close() error {
	n := len(p.stack)
	if n == 0 {
		return p.errorf("\"}\" closes no section")
	}
	f := p.stack[n-1]
	switch p.path() {
	case "nodelist.node":
		nd := p.node
		switch {
		case !nd.hasID:
			return fmt.Errorf("%s:%d: nodelist.node: has no nodeid", p.name, nd.line)
		case !nd.hasAddr:
			return fmt.Errorf("%s:%d: nodelist.node: nodeid %d has no ring0_addr", p.name, nd.line, nd.NodeID)
		}
		p.nodes = append(p.nodes, *nd)
		p.node, p.nodeSeen = nil, nil
	case "uidgid":
		u := p.uidgid
		if !u.hasUID && !u.hasGID {
			return fmt.Errorf("%s:%d: uidgid: has no uid or gid", p.name, u.line)
		}
		if u.hasUID {
			p.cfg.ClientUIDs = append(p.cfg.ClientUIDs, u.uid)
		}
		if u.hasGID {
			p.cfg.ClientGIDs = append(p.cfg.ClientGIDs, u.gid)
		}
		p.uidgid, p.nodeSeen = nil, nil
	case "nodelist":
		if len(p.nodes) == 0 {
			return fmt.Errorf("%s:%d: nodelist: has no node", p.name, f.line)
		}
	}
	p.stack = p.stack[:n-1]
	return nil
}

func (p *cfgParser) set(key, value string) error {
	field := p.field(key)
	if len(p.stack) == 0 {
		return p.errorf("%s: key outside a section", key)
	}
	if field == "totem.crypto_cipher" || field == "totem.crypto_hash" {
		return p.errorf("%s: not supported: actorcpg encrypts with TLS 1.3; give totem.crypto_ca, totem.crypto_cert and totem.crypto_key (see cpgkeygen)", field)
	}
	if !knownKeys[field] {
		return p.errorf("%s: unknown key", field)
	}
	seen := p.seen
	if p.node != nil || p.uidgid != nil {
		seen = p.nodeSeen
	}
	if first, dup := seen[field]; dup {
		return p.errorf("%s: given twice (first on line %d)", field, first)
	}
	if value == "" {
		return p.errorf("%s: no value", field)
	}
	if err := p.apply(field, value); err != nil {
		return p.errorf("%s: %v", field, err)
	}
	seen[field] = p.line
	if p.node == nil && p.uidgid == nil {
		// Validate names the value by where it was given.
		p.cfg.setOrigin(key, &origin{file: p.name, line: p.line, name: field})
	}
	return nil
}

// apply stores value in the field it names; its error names no field.
func (p *cfgParser) apply(field, value string) error {
	c := &p.cfg
	switch field {
	case "totem.token":
		return setTime(&c.Token, "token", value)
	case "totem.heartbeat":
		return setTime(&c.Heartbeat, "heartbeat", value)
	case "totem.join":
		return setTime(&c.Join, "join", value)
	case "totem.consensus":
		return setTime(&c.Consensus, "consensus", value)
	case "totem.send_window":
		return setUint32(&c.SendWindow, "send_window", value, "number")
	case "totem.send_window_bytes":
		return setUint64(&c.SendWindowBytes, "send_window_bytes", value)
	case "totem.max_message_size":
		return setUint64(&c.MaxMessageSize, "max_message_size", value)
	case "totem.max_atomic_msgsize":
		return setUint32(&c.MaxAtomicMsgsize, "max_atomic_msgsize", value, "number of bytes")
	case "totem.link_fragment":
		return setUint32(&c.LinkFragment, "link_fragment", value, "number of bytes")
	case "totem.group_window":
		return setUint64(&c.GroupWindow, "group_window", value)
	case "totem.sequencer_handoff":
		if value == "off" {
			c.SequencerHandoff = -1
			return nil
		}
		return setTime(&c.SequencerHandoff, "sequencer_handoff", value)

	case "totem.crypto_ca":
		c.CryptoCA = value
		return nil
	case "totem.crypto_cert":
		c.CryptoCert = value
		return nil
	case "totem.crypto_key":
		c.CryptoKey = value
		return nil

	case "limits.queue_high_bytes":
		return setUint64(&c.QueueHighBytes, "queue_high_bytes", value)
	case "limits.queue_limit_bytes":
		return setUint64(&c.QueueLimitBytes, "queue_limit_bytes", value)
	case "limits.stall_timeout":
		return setTime(&c.StallTimeout, "stall_timeout", value)
	case "limits.credit_events":
		return setUint32(&c.CreditEvents, "credit_events", value, "number")
	case "limits.credit_bytes":
		return setUint64(&c.CreditBytes, "credit_bytes", value)
	case "limits.client_timeout":
		return setTime(&c.ClientTimeout, "client_timeout", value)
	case "limits.client_heartbeat":
		return setTime(&c.ClientHeartbeat, "client_heartbeat", value)
	case "limits.request_timeout":
		return setTime(&c.RequestTimeout, "request_timeout", value)
	case "limits.session_spin":
		if value == "off" {
			c.SessionSpin = -1
			return nil
		}
		return setTime(&c.SessionSpin, "session_spin", value)

	case "local.nodeid":
		return setUint32(&c.NodeID, "", value, "number")
	case "local.state_dir":
		c.StateDir = value
		return nil
	case "local.client_socket":
		if !strings.HasPrefix(value, "/") {
			return errors.New("want an absolute path")
		}
		c.ClientSocket = value
		return nil
	case "uidgid.uid":
		p.uidgid.hasUID = true
		return parseID(&p.uidgid.uid, value)
	case "uidgid.gid":
		p.uidgid.hasGID = true
		return parseID(&p.uidgid.gid, value)
	case "local.listen":
		if err := checkAddr(value, true); err != nil {
			return err
		}
		c.Listen = value
		return nil

	case "nodelist.node.nodeid":
		var id uint32
		if err := setUint32(&id, "", value, "number"); err != nil {
			return err
		}
		for _, o := range p.nodes {
			if o.NodeID == id {
				return fmt.Errorf("%d listed twice (first on line %d)", id, o.line)
			}
		}
		p.node.NodeID, p.node.hasID = id, true
		return nil
	case "nodelist.node.ring0_addr":
		if err := checkAddr(value, false); err != nil {
			return err
		}
		for _, o := range p.nodes {
			if o.Addr == value {
				return fmt.Errorf("%q is also the address of nodeid %d (line %d)", value, o.NodeID, o.line)
			}
		}
		p.node.Addr, p.node.hasAddr = value, true
		return nil
	}
	return errors.New("unknown key")
}

// knownKeys lists every key apply knows, by dotted path.
var knownKeys = map[string]bool{
	"totem.token": true, "totem.heartbeat": true, "totem.join": true, "totem.consensus": true,
	"totem.send_window": true, "totem.send_window_bytes": true, "totem.max_message_size": true,
	"totem.max_atomic_msgsize": true, "totem.link_fragment": true, "totem.group_window": true,
	"totem.sequencer_handoff": true,
	"totem.crypto_ca":         true, "totem.crypto_cert": true, "totem.crypto_key": true,
	"limits.queue_high_bytes": true, "limits.queue_limit_bytes": true, "limits.stall_timeout": true,
	"limits.credit_events": true, "limits.credit_bytes": true, "limits.client_timeout": true,
	"limits.client_heartbeat": true, "limits.request_timeout": true, "limits.session_spin": true,
	"local.nodeid": true, "local.state_dir": true, "local.listen": true,
	"local.client_socket": true, "uidgid.uid": true, "uidgid.gid": true,
	"nodelist.node.nodeid": true, "nodelist.node.ring0_addr": true,
}

// finish returns the parsed configuration with the values the file leaves
// to Validate cleared.
func (p *cfgParser) finish() Config {
	c := p.cfg
	if p.nodelist {
		c.Nodes = make([]NodeAddr, len(p.nodes))
		for i, n := range p.nodes {
			c.Nodes[i] = n.NodeAddr
		}
		if _, ok := p.seen["local.listen"]; !ok {
			c.Listen = ""
		}
	}
	if _, ok := p.seen["totem.token"]; ok {
		for key, d := range map[string]*time.Duration{
			"totem.heartbeat": &c.Heartbeat,
			"totem.join":      &c.Join,
			"totem.consensus": &c.Consensus,
		} {
			if _, given := p.seen[key]; !given {
				*d = 0
				c.setOrigin(strings.TrimPrefix(key, "totem."), nil)
			}
		}
	}
	return c
}

// isDigits reports whether s is a plain decimal number.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parsePositive(s string, bits int, what string) (uint64, error) {
	if !isDigits(s) {
		return 0, fmt.Errorf("%q is not a %s", s, what)
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is too large (at most %d)", s, uint64(1)<<bits-1)
	}
	if v == 0 {
		return 0, fmt.Errorf("%q must be above 0", s)
	}
	return v, nil
}

// setUint32 parses a count or size into dst, within key's bounds unless
// key is "".
func setUint32(dst *uint32, key, s, what string) error {
	v, err := parsePositive(s, 32, what)
	if err == nil && key != "" {
		err = checkSize(key, v, strconv.Quote(s))
	}
	if err == nil {
		*dst = uint32(v)
	}
	return err
}

// parseID parses a user or group id (0 included) into dst.
func parseID(dst *uint32, s string) error {
	if !isDigits(s) {
		return fmt.Errorf("%q: want a number", s)
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return fmt.Errorf("%q: want a number below 2^32", s)
	}
	*dst = uint32(v)
	return nil
}

// setUint64 parses a size into dst, within key's bounds.
func setUint64(dst *uint64, key, s string) error {
	v, err := parsePositive(s, 64, "number of bytes")
	if err == nil {
		err = checkSize(key, v, strconv.Quote(s))
	}
	if err == nil {
		*dst = v
	}
	return err
}

// setTime parses integer milliseconds or a Go duration into dst, within
// key's bounds.
func setTime(dst *time.Duration, key, s string) error {
	var d time.Duration
	if isDigits(s) {
		ms, err := parsePositive(s, 64, "number of milliseconds")
		if err != nil {
			return err
		}
		if ms > math.MaxInt64/uint64(time.Millisecond) {
			return fmt.Errorf("%q is above %s", s, fmtDuration(timeBounds[key][1]))
		}
		d = time.Duration(ms) * time.Millisecond
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			if isLongDuration(s) {
				return fmt.Errorf("%q is above %s", s, fmtDuration(timeBounds[key][1]))
			}
			return fmt.Errorf("%q is not a number of milliseconds or a duration such as 1.5s", s)
		}
	}
	if err := checkTime(key, d, strconv.Quote(s)); err != nil {
		return err
	}
	*dst = d
	return nil
}

// isLongDuration reports whether s, which time.ParseDuration refused, is
// a number and one unit that is too long for a time.Duration, such as
// "9999999999h".
func isLongDuration(s string) bool {
	for _, unit := range []string{"ns", "us", "µs", "μs", "ms", "s", "m", "h"} {
		num, ok := strings.CutSuffix(s, unit)
		if !ok {
			continue
		}
		whole, frac, _ := strings.Cut(num, ".")
		return isDigits(whole) && (frac == "" || isDigits(frac))
	}
	return false
}

// checkAddr checks that s is host:port with a numeric port; port 0 (any
// free port) only if anyPort.
func checkAddr(s string, anyPort bool) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 && !anyPort {
		return fmt.Errorf("%q: port %q is not a number in 1..65535", s, port)
	}
	return nil
}
