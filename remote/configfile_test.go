package remote

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

const fullConfig = `# a full configuration
totem {
    token: 1000            # ms, like corosync
    heartbeat: 100
    join: 40ms             # a Go duration works too
    consensus: 1.5s
    send_window: 1024
    send_window_bytes: 8388608
    max_message_size: 33554432
    max_atomic_msgsize: 65536
    link_fragment: 262144
    group_window: 4194304
    sequencer_handoff: off
}

limits {
	queue_high_bytes: 1048576
	queue_limit_bytes: 4194304
	stall_timeout: 5000
	credit_events: 512
	credit_bytes: 2097152
	client_timeout: 3000
	client_heartbeat: 500
	request_timeout: 7000
	session_spin: 20us
}

nodelist {
    node {
        nodeid: 1
        ring0_addr: 127.0.0.1:7101
    }
    node{
        ring0_addr: [::1]:7102   # keys in any order
        nodeid: 2
    }
}

local {
    nodeid: 2
    state_dir: /var/lib/actor#cpg   # "#" inside a word is kept
    listen: 0.0.0.0:7102
}
`

func TestParseConfigFullFile(t *testing.T) {
	got, err := ParseConfig(strings.NewReader(fullConfig), "full.conf", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Token = time.Second
	want.Heartbeat = 100 * time.Millisecond
	want.Join = 40 * time.Millisecond
	want.Consensus = 1500 * time.Millisecond
	want.SendWindow = 1024
	want.SendWindowBytes = 8 << 20
	want.MaxMessageSize = 32 << 20
	want.MaxAtomicMsgsize = 65536
	want.LinkFragment = 256 << 10
	want.GroupWindow = 4 << 20
	want.SequencerHandoff = -1
	want.QueueHighBytes = 1 << 20
	want.QueueLimitBytes = 4 << 20
	want.StallTimeout = 5 * time.Second
	want.CreditEvents = 512
	want.CreditBytes = 2 << 20
	want.ClientTimeout = 3 * time.Second
	want.ClientHeartbeat = 500 * time.Millisecond
	want.RequestTimeout = 7 * time.Second
	want.SessionSpin = 20 * time.Microsecond
	want.Nodes = []NodeAddr{{1, "127.0.0.1:7101"}, {2, "[::1]:7102"}}
	want.NodeID = 2
	want.StateDir = "/var/lib/actor#cpg"
	want.Listen = "0.0.0.0:7102"
	if !reflect.DeepEqual(sansOrigins(got), want) {
		t.Fatalf("parsed\n %+v\nwant\n %+v", got, want)
	}
	if o := got.origins["client_heartbeat"]; o != (origin{"full.conf", 23, "limits.client_heartbeat"}) {
		t.Fatalf("client_heartbeat's origin = %+v, want full.conf:23 limits.client_heartbeat", o)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("parsed config does not validate: %v", err)
	}
}

// sansOrigins is c without the origins of its values.
func sansOrigins(c Config) Config {
	c.origins = nil
	return c
}

func TestParseConfigKeepsBase(t *testing.T) {
	base := DefaultConfig()
	base.NodeID = 7
	base.StateDir = "/base"
	base.Nodes = []NodeAddr{{7, "127.0.0.1:1"}}
	base.Listen = "127.0.0.1:1"
	got, err := ParseConfig(strings.NewReader("# only a comment\n\n"), "empty.conf", base)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, base) {
		t.Fatalf("an empty file changed the base:\n %+v\nwant\n %+v", got, base)
	}
	got, err = ParseConfig(strings.NewReader("totem {\n  send_window: 9\n}\n"), "w.conf", base)
	if err != nil {
		t.Fatal(err)
	}
	base.SendWindow = 9
	if !reflect.DeepEqual(sansOrigins(got), base) {
		t.Fatalf("got\n %+v\nwant\n %+v", got, base)
	}
}

func TestParseConfigNodelistReplacesBaseAndLeavesListenToValidate(t *testing.T) {
	base := DefaultConfig()
	base.Nodes = []NodeAddr{{9, "127.0.0.1:9"}}
	base.Listen = "127.0.0.1:7100"
	in := "nodelist {\n node {\n  nodeid: 1\n  ring0_addr: 127.0.0.1:7101\n }\n node {\n  nodeid: 3\n  ring0_addr: 127.0.0.1:7103\n }\n}\nlocal {\n nodeid: 3\n}\n"
	got, err := ParseConfig(strings.NewReader(in), "n.conf", base)
	if err != nil {
		t.Fatal(err)
	}
	if want := []NodeAddr{{1, "127.0.0.1:7101"}, {3, "127.0.0.1:7103"}}; !reflect.DeepEqual(got.Nodes, want) {
		t.Fatalf("nodes = %v, want %v", got.Nodes, want)
	}
	if got.Listen != "" || got.NodeID != 3 {
		t.Fatalf("listen %q node %d, want \"\" (left to Validate) and 3", got.Listen, got.NodeID)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	if got.Listen != "127.0.0.1:7103" {
		t.Fatalf("listen after Validate = %q, want node 3's ring0_addr", got.Listen)
	}
}

func TestParseConfigTokenDerivesUnsetTimers(t *testing.T) {
	got, err := ParseConfig(strings.NewReader("totem {\n token: 200\n join: 20\n}\n"), "t.conf", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if got.Heartbeat != 0 || got.Consensus != 0 || got.Join != 20*time.Millisecond {
		t.Fatalf("heartbeat %v join %v consensus %v: want 0, 20ms, 0 before Validate", got.Heartbeat, got.Join, got.Consensus)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("a file setting only token (and join) must validate: %v", err)
	}
	if got.Heartbeat != 50*time.Millisecond || got.Consensus != 240*time.Millisecond || got.Join != 20*time.Millisecond {
		t.Fatalf("after Validate heartbeat %v join %v consensus %v, want 50ms 20ms 240ms", got.Heartbeat, got.Join, got.Consensus)
	}
	// Without token, the base's timers stay.
	got, err = ParseConfig(strings.NewReader("totem {\n join: 20\n}\n"), "t.conf", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if d := DefaultConfig(); got.Heartbeat != d.Heartbeat || got.Consensus != d.Consensus || got.Token != d.Token {
		t.Fatalf("timers changed without token: %+v", got)
	}
}

func TestParseConfigErrors(t *testing.T) {
	node := func(body string) string { return "nodelist {\nnode {\n" + body + "}\n}\n" }
	cases := []struct {
		name, in, want string
	}{
		{"unknown section", "corosync {\n}\n",
			`c.conf:1: corosync: unknown section (want totem, limits, nodelist, local or uidgid)`},
		{"unknown nested section", "totem {\n interface {\n",
			`c.conf:2: totem.interface: unknown section`},
		{"unknown section in nodelist", "nodelist {\n host {\n",
			`c.conf:2: nodelist.host: unknown section (want node)`},
		{"node outside nodelist", "node {\n",
			`c.conf:1: node: unknown section (want totem, limits, nodelist, local or uidgid)`},
		{"unknown key", "# x\ntotem {\n tokn: 1000\n}\n",
			`c.conf:3: totem.tokn: unknown key`},
		{"unknown key without value", "totem {\n tokn:\n}\n",
			`c.conf:2: totem.tokn: unknown key`},
		{"unknown node key", node("nodeid: 1\nname: a\n"),
			`c.conf:4: nodelist.node.name: unknown key`},
		{"node key in nodelist", "nodelist {\n nodeid: 1\n}\n",
			`c.conf:2: nodelist.nodeid: unknown key`},
		{"key outside a section", "token: 1000\n",
			`c.conf:1: token: key outside a section`},
		{"duplicate key", "totem {\n token: 1000\n\n token: 2000\n}\n",
			`c.conf:4: totem.token: given twice (first on line 2)`},
		{"duplicate node key", node("nodeid: 1\nnodeid: 2\n"),
			`c.conf:4: nodelist.node.nodeid: given twice (first on line 3)`},
		{"duplicate section", "totem {\n}\nlimits {\n}\ntotem {\n}\n",
			`c.conf:5: totem: section given twice (first on line 1)`},
		{"bad milliseconds", "totem {\n token: abc\n}\n",
			`c.conf:2: totem.token: "abc" is not a number of milliseconds or a duration such as 1.5s`},
		{"negative milliseconds", "totem {\n heartbeat: -5\n}\n",
			`c.conf:2: totem.heartbeat: "-5" is not a number of milliseconds or a duration such as 1.5s`},
		{"negative duration", "limits {\n stall_timeout: -5s\n}\n",
			`c.conf:2: limits.stall_timeout: "-5s" must be above 0`},
		{"zero milliseconds", "totem {\n join: 0\n}\n",
			`c.conf:2: totem.join: "0" must be above 0`},
		{"milliseconds overflow", "limits {\n request_timeout: 99999999999999999\n}\n",
			`c.conf:2: limits.request_timeout: "99999999999999999" is above 1h`},
		{"bad size", "totem {\n send_window_bytes: 16M\n}\n",
			`c.conf:2: totem.send_window_bytes: "16M" is not a number of bytes`},
		{"size with sign", "limits {\n credit_bytes: +5\n}\n",
			`c.conf:2: limits.credit_bytes: "+5" is not a number of bytes`},
		{"fractional count", "totem {\n send_window: 1.5\n}\n",
			`c.conf:2: totem.send_window: "1.5" is not a number`},
		{"uint32 overflow", "totem {\n link_fragment: 4294967296\n}\n",
			`c.conf:2: totem.link_fragment: "4294967296" is too large (at most 4294967295)`},
		{"uint64 overflow", "limits {\n queue_limit_bytes: 18446744073709551616\n}\n",
			`c.conf:2: limits.queue_limit_bytes: "18446744073709551616" is too large (at most 18446744073709551615)`},
		{"zero size", "limits {\n credit_events: 0\n}\n",
			`c.conf:2: limits.credit_events: "0" must be above 0`},
		{"zero nodeid", "local {\n nodeid: 0\n}\n",
			`c.conf:2: local.nodeid: "0" must be above 0`},
		{"missing colon", "totem {\n token 1000\n}\n",
			`c.conf:2: totem.token: missing ":" after the key`},
		{"missing colon and value", "local {\n\tstate_dir\n}\n",
			`c.conf:2: local.state_dir: missing ":" after the key`},
		{"no value", "local {\n state_dir:   # nothing\n}\n",
			`c.conf:2: local.state_dir: no value`},
		{"no key", "totem {\n : 1000\n}\n",
			`c.conf:2: ": 1000": want one item per line: "key: value", "section {" or "}"`},
		{"two items on a line", "nodelist {\n node { nodeid: 2\n",
			`c.conf:2: "node { nodeid: 2": want one item per line: "key: value", "section {" or "}"`},
		{"brace after a value", node("nodeid: 2\nring0_addr: 127.0.0.1:7102 }\n"),
			`c.conf:4: nodelist.node.ring0_addr: "127.0.0.1:7102 }": want one item per line: put "{" and "}" on lines of their own`},
		{"section name with blank", "my totem {\n}\n",
			`c.conf:1: "my totem {": want one item per line: "key: value", "section {" or "}"`},
		{"extra close", "totem {\n}\n}\n",
			`c.conf:3: "}" closes no section`},
		{"unclosed section", "totem {\n token: 1000\n",
			`c.conf:1: totem: no "}" closes this section`},
		{"unclosed node", "nodelist {\n node {\n  nodeid: 1\n",
			`c.conf:2: nodelist.node: no "}" closes this section`},
		{"node without nodeid", node("ring0_addr: 127.0.0.1:7101\n"),
			`c.conf:2: nodelist.node: has no nodeid`},
		{"node without ring0_addr", node("nodeid: 4\n"),
			`c.conf:2: nodelist.node: nodeid 4 has no ring0_addr`},
		{"empty nodelist", "\nnodelist {\n}\n",
			`c.conf:2: nodelist: has no node`},
		{"nodeid twice", "nodelist {\nnode {\nnodeid: 1\nring0_addr: a:1\n}\nnode {\nnodeid: 1\n",
			`c.conf:7: nodelist.node.nodeid: 1 listed twice (first on line 2)`},
		{"address twice", "nodelist {\nnode {\nnodeid: 1\nring0_addr: a:1\n}\nnode {\nnodeid: 2\nring0_addr: a:1\n",
			`c.conf:8: nodelist.node.ring0_addr: "a:1" is also the address of nodeid 1 (line 2)`},
		{"address without port", node("nodeid: 1\nring0_addr: 127.0.0.1\n"),
			`c.conf:4: nodelist.node.ring0_addr: "127.0.0.1" is not host:port`},
		{"address with port 0", node("nodeid: 1\nring0_addr: 127.0.0.1:0\n"),
			`c.conf:4: nodelist.node.ring0_addr: "127.0.0.1:0": port "0" is not a number in 1..65535`},
		{"listen with a named port", "local {\n listen: 127.0.0.1:http\n}\n",
			`c.conf:2: local.listen: "127.0.0.1:http": port "http" is not a number in 1..65535`},
		{"bad nodeid", node("nodeid: one\n"),
			`c.conf:3: nodelist.node.nodeid: "one" is not a number`},
		{"line too long", "# " + strings.Repeat("x", maxConfigLine) + "\n",
			`c.conf:1: line longer than 65536 bytes`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := DefaultConfig()
			got, err := ParseConfig(strings.NewReader(tc.in), "c.conf", base)
			if err == nil {
				t.Fatalf("no error; want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n %s\nwant\n %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if !reflect.DeepEqual(got, base) {
				t.Fatalf("on error ParseConfig returned %+v, want the base", got)
			}
		})
	}
}

func TestParseConfigReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ParseConfig(iotest.ErrReader(boom), "r.conf", DefaultConfig())
	if err == nil || err.Error() != "r.conf: boom" {
		t.Fatalf("err = %v, want r.conf: boom", err)
	}
}

// TestParseConfigBounds: every time and size key, past each of its bounds,
// is refused by the parser with one line naming file, line and key.
func TestParseConfigBounds(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		// The token: an overflowing one gave a negative consensus.
		{"token overflows int64 ms", "totem {\n token: 9223372036854775807\n}\n",
			`c.conf:2: totem.token: "9223372036854775807" is above 1h`},
		{"token overflows consensus", "totem {\n token: 9223372036854\n}\n",
			`c.conf:2: totem.token: "9223372036854" is above 1h`},
		{"token as a huge duration", "totem {\n token: 2562047h\n}\n",
			`c.conf:2: totem.token: "2562047h" is above 1h`},
		{"token above 1h", "totem {\n token: 3600001\n}\n",
			`c.conf:2: totem.token: "3600001" is above 1h`},
		{"token below 10ms", "totem {\n token: 5\n}\n",
			`c.conf:2: totem.token: "5" is below 10ms`},
		{"token zero duration", "totem {\n token: 0s\n}\n",
			`c.conf:2: totem.token: "0s" must be above 0`},
		{"token beyond a Go duration", "totem {\n token: 9999999999h\n}\n",
			`c.conf:2: totem.token: "9999999999h" is above 1h`},
		{"stall_timeout beyond a Go duration", "limits {\n stall_timeout: 99999999999999999999.5ns\n}\n",
			`c.conf:2: limits.stall_timeout: "99999999999999999999.5ns" is above 1h`},
		{"consensus beyond a Go duration", "totem {\n consensus: 9223372036855s\n}\n",
			`c.conf:2: totem.consensus: "9223372036855s" is above 72m`},
		{"token of two units", "totem {\n token: 1h1h\n}\n",
			`c.conf:2: totem.token: "1h1h" is above 1h`},
		{"token with no unit", "totem {\n token: 1.5\n}\n",
			`c.conf:2: totem.token: "1.5" is not a number of milliseconds or a duration such as 1.5s`},
		{"heartbeat below 1ms", "totem {\n heartbeat: 500us\n}\n",
			`c.conf:2: totem.heartbeat: "500us" is below 1ms`},
		{"heartbeat above 1h", "totem {\n heartbeat: 2h\n}\n",
			`c.conf:2: totem.heartbeat: "2h" is above 1h`},
		{"join below 1ms", "totem {\n join: 10ns\n}\n",
			`c.conf:2: totem.join: "10ns" is below 1ms`},
		{"join above 1h", "totem {\n join: 61m\n}\n",
			`c.conf:2: totem.join: "61m" is above 1h`},
		{"consensus below 1ms", "totem {\n consensus: 0.9ms\n}\n",
			`c.conf:2: totem.consensus: "0.9ms" is below 1ms`},
		{"consensus above 72m", "totem {\n consensus: 4320001\n}\n",
			`c.conf:2: totem.consensus: "4320001" is above 72m`},
		{"sequencer_handoff below 1ms", "totem {\n sequencer_handoff: 1us\n}\n",
			`c.conf:2: totem.sequencer_handoff: "1us" is below 1ms`},
		{"sequencer_handoff above 1h", "totem {\n sequencer_handoff: 2h\n}\n",
			`c.conf:2: totem.sequencer_handoff: "2h" is above 1h`},
		{"sequencer_handoff negative", "totem {\n sequencer_handoff: -1s\n}\n",
			`c.conf:2: totem.sequencer_handoff: "-1s" must be above 0`},
		{"stall_timeout below 1ms", "limits {\n stall_timeout: 100us\n}\n",
			`c.conf:2: limits.stall_timeout: "100us" is below 1ms`},
		{"stall_timeout above 1h", "limits {\n stall_timeout: 86400000\n}\n",
			`c.conf:2: limits.stall_timeout: "86400000" is above 1h`},
		{"client_timeout below 1ms", "limits {\n client_timeout: 0.5ms\n}\n",
			`c.conf:2: limits.client_timeout: "0.5ms" is below 1ms`},
		{"client_timeout above 1h", "limits {\n client_timeout: 3h\n}\n",
			`c.conf:2: limits.client_timeout: "3h" is above 1h`},
		// A sub-millisecond client heartbeat was sent to clients as 0.
		{"client_heartbeat below 1ms", "limits {\n client_heartbeat: 0.5ms\n}\n",
			`c.conf:2: limits.client_heartbeat: "0.5ms" is below 1ms`},
		{"client_heartbeat not whole ms", "limits {\n client_heartbeat: 1.5ms\n}\n",
			`c.conf:2: limits.client_heartbeat: "1.5ms" is not a whole number of milliseconds (clients are told it in milliseconds)`},
		{"client_heartbeat above 1h", "limits {\n client_heartbeat: 3600001\n}\n",
			`c.conf:2: limits.client_heartbeat: "3600001" is above 1h`},
		{"session_spin below 1us", "limits {\n session_spin: 999ns\n}\n",
			`c.conf:2: limits.session_spin: "999ns" is below 1µs`},
		{"session_spin above 10ms", "limits {\n session_spin: 11\n}\n",
			`c.conf:2: limits.session_spin: "11" is above 10ms`},
		{"request_timeout below 1ms", "limits {\n request_timeout: 999us\n}\n",
			`c.conf:2: limits.request_timeout: "999us" is below 1ms`},
		{"request_timeout above 1h", "limits {\n request_timeout: 1h0m1s\n}\n",
			`c.conf:2: limits.request_timeout: "1h0m1s" is above 1h`},

		{"max_atomic_msgsize below 1 KiB", "totem {\n max_atomic_msgsize: 512\n}\n",
			`c.conf:2: totem.max_atomic_msgsize: "512" is below 1 KiB`},
		{"max_atomic_msgsize above 1 GiB", "totem {\n max_atomic_msgsize: 1073741825\n}\n",
			`c.conf:2: totem.max_atomic_msgsize: "1073741825" is above 1 GiB`},
		{"max_atomic_msgsize above uint32", "totem {\n max_atomic_msgsize: 4294967296\n}\n",
			`c.conf:2: totem.max_atomic_msgsize: "4294967296" is too large (at most 4294967295)`},
		{"max_message_size above 1 GiB", "totem {\n max_message_size: 1073741825\n}\n",
			`c.conf:2: totem.max_message_size: "1073741825" is above 1 GiB`},
		{"link_fragment below 4 KiB", "totem {\n link_fragment: 100\n}\n",
			`c.conf:2: totem.link_fragment: "100" is below 4 KiB`},
		{"link_fragment above 4 MiB", "totem {\n link_fragment: 4194305\n}\n",
			`c.conf:2: totem.link_fragment: "4194305" is above 4 MiB`},
		{"group_window above 1 TiB", "totem {\n group_window: 1099511627777\n}\n",
			`c.conf:2: totem.group_window: "1099511627777" is above 1 TiB`},
		{"send_window above uint32", "totem {\n send_window: 4294967296\n}\n",
			`c.conf:2: totem.send_window: "4294967296" is too large (at most 4294967295)`},
		{"send_window_bytes above int64", "totem {\n send_window_bytes: 9223372036854775808\n}\n",
			`c.conf:2: totem.send_window_bytes: "9223372036854775808" is above 1 TiB`},
		{"credit_events above uint32", "limits {\n credit_events: 99999999999\n}\n",
			`c.conf:2: limits.credit_events: "99999999999" is too large (at most 4294967295)`},
		{"credit_bytes above 1 TiB", "limits {\n credit_bytes: 18446744073709551615\n}\n",
			`c.conf:2: limits.credit_bytes: "18446744073709551615" is above 1 TiB`},
		{"queue_high_bytes above 1 TiB", "limits {\n queue_high_bytes: 2199023255552\n}\n",
			`c.conf:2: limits.queue_high_bytes: "2199023255552" is above 1 TiB`},
		{"queue_limit_bytes above 1 TiB", "limits {\n queue_limit_bytes: 1099511627777\n}\n",
			`c.conf:2: limits.queue_limit_bytes: "1099511627777" is above 1 TiB`},
		{"zero size", "totem {\n max_message_size: 0\n}\n",
			`c.conf:2: totem.max_message_size: "0" must be above 0`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := DefaultConfig()
			got, err := ParseConfig(strings.NewReader(tc.in), "c.conf", base)
			if err == nil {
				t.Fatalf("no error; want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n %s\nwant\n %s", err, tc.want)
			}
			if !reflect.DeepEqual(got, base) {
				t.Fatalf("on error ParseConfig returned %+v, want the base", got)
			}
		})
	}
}

// TestParseConfigBoundsAccepted: the bounds themselves are accepted, and a
// config at them validates with nothing derived overflowing.
func TestParseConfigBoundsAccepted(t *testing.T) {
	for _, in := range []string{
		"totem {\n token: 1h\n heartbeat: 20m\n join: 3600000\n consensus: 72m\n}\nlimits {\n client_timeout: 1h\n client_heartbeat: 29m\n request_timeout: 1h\n stall_timeout: 1h\n}\n",
		"totem {\n token: 1h\n}\n", // consensus derived: 72m
		"limits {\n session_spin: 1us\n}\n", "limits {\n session_spin: 10ms\n}\n", "limits {\n session_spin: off\n}\n",
		"totem {\n token: 10ms\n heartbeat: 1ms\n join: 1ms\n consensus: 10ms\n sequencer_handoff: 1ms\n}\nlimits {\n client_timeout: 3ms\n client_heartbeat: 1ms\n request_timeout: 1ms\n stall_timeout: 1ms\n}\n",
		"totem {\n max_atomic_msgsize: 1024\n max_message_size: 1073741824\n link_fragment: 4096\n group_window: 1099511627776\n send_window: 4294967295\n send_window_bytes: 1099511627776\n}\nlimits {\n credit_events: 4294967295\n credit_bytes: 1099511627776\n queue_high_bytes: 1099511627776\n queue_limit_bytes: 1099511627776\n}\n",
		"totem {\n link_fragment: 4194304\n max_atomic_msgsize: 1073741824\n max_message_size: 1073741824\n}\n",
	} {
		c, err := ParseConfig(strings.NewReader(in), "b.conf", DefaultConfig())
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if c.Consensus < c.Token || c.Consensus > MaxConsensus || c.ClientPatience() <= 0 || c.ClientPatience() > 20*MaxTime {
			t.Fatalf("%q: consensus %v patience %v", in, c.Consensus, c.ClientPatience())
		}
		if ms := c.ClientHeartbeat.Milliseconds(); ms < 1 || ms > 1<<31 {
			t.Fatalf("%q: client heartbeat %d ms on the wire", in, ms)
		}
	}
}

// TestParseConfigValidateErrors: values of a file that are each within
// bounds but do not agree fail Validate, in one line naming the file, the
// line and the key of a value the file gave.
func TestParseConfigValidateErrors(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"heartbeat above token/3", "totem {\n token: 300\n heartbeat: 200\n}\n",
			`v.conf:3: totem.heartbeat: 200ms must be at most a third of totem.token 300ms (line 2)`},
		{"heartbeat against the base token", "totem {\n heartbeat: 1500\n}\n",
			`v.conf:2: totem.heartbeat: 1.5s must be at most a third of token 3s`},
		{"token below three heartbeats of the base", "totem {\n token: 300\n heartbeat: 150\n}\n",
			`v.conf:3: totem.heartbeat: 150ms must be at most a third of totem.token 300ms (line 2)`},
		{"join above token", "totem {\n token: 100\n join: 200\n}\n",
			`v.conf:3: totem.join: 200ms must be at most totem.token 100ms (line 2)`},
		{"consensus below token", "totem {\n token: 1000\n consensus: 500\n}\n",
			`v.conf:3: totem.consensus: 500ms is below totem.token 1s (line 2)`},
		{"consensus below the base token", "totem {\n consensus: 2s\n}\n",
			`v.conf:2: totem.consensus: 2s is below token 3s`},
		{"client_heartbeat half of client_timeout", "limits {\n client_timeout: 1000\n client_heartbeat: 500\n}\n",
			`v.conf:3: limits.client_heartbeat: 500ms must be below half of limits.client_timeout 1s (line 2)`},
		{"client_heartbeat above half of client_timeout", "limits {\n client_heartbeat: 900\n client_timeout: 1000\n}\n",
			`v.conf:2: limits.client_heartbeat: 900ms must be below half of limits.client_timeout 1s (line 3)`},
		{"client_timeout against the base heartbeat", "limits {\n client_timeout: 400ms\n}\n",
			`v.conf:2: limits.client_timeout: 400ms must be above twice client_heartbeat 250ms`},
		{"client_heartbeat against the base timeout", "limits {\n client_heartbeat: 1s\n}\n",
			`v.conf:2: limits.client_heartbeat: 1s must be below half of client_timeout 2s`},
		{"max_message_size below max_atomic_msgsize", "totem {\n max_message_size: 4096\n max_atomic_msgsize: 8192\n}\n",
			`v.conf:2: totem.max_message_size: 4096 is below totem.max_atomic_msgsize 8192 (line 3)`},
		{"max_atomic_msgsize above the base max_message_size", "totem {\n max_atomic_msgsize: 134217728\n}\n",
			`v.conf:2: totem.max_atomic_msgsize: 134217728 is above max_message_size 67108864`},
		{"queue_limit_bytes below queue_high_bytes", "limits {\n queue_high_bytes: 2000\n queue_limit_bytes: 1000\n}\n",
			`v.conf:3: limits.queue_limit_bytes: 1000 is below limits.queue_high_bytes 2000 (line 2)`},
		{"node not listed", "nodelist {\n node {\n  nodeid: 2\n  ring0_addr: 127.0.0.1:7102\n }\n}\nlocal {\n nodeid: 1\n}\n",
			`config: nodelist: this node's nodeid 1 is not listed`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(strings.NewReader(tc.in), "v.conf", DefaultConfig())
			if err != nil {
				t.Fatalf("the parser must accept it (Validate judges it): %v", err)
			}
			err = c.Validate()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Validate =\n %v\nwant\n %s", err, tc.want)
			}
		})
	}
}

// TestSetOrigin: a value set after the file (as cpgnode's flags do) is
// named by the origin its setter gives, and another file value by its line.
func TestSetOrigin(t *testing.T) {
	c, err := ParseConfig(strings.NewReader("limits {\n client_timeout: 1000\n}\n"), "o.conf", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	flagged := c
	flagged.ClientHeartbeat = 600 * time.Millisecond
	flagged.SetOrigin("client_heartbeat", "-client-heartbeat")
	want := `-client-heartbeat: 600ms must be below half of limits.client_timeout 1s (o.conf:2)`
	if err := flagged.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate = %v, want %s", err, want)
	}
	// The flag overrides the file's value: its origin replaces the line.
	flagged.ClientTimeout = time.Second
	flagged.SetOrigin("client_timeout", "-client-timeout")
	want = `-client-heartbeat: 600ms must be below half of -client-timeout 1s`
	if err := flagged.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate = %v, want %s", err, want)
	}
	// The copy taken before SetOrigin keeps its own origins.
	c.ClientHeartbeat = 600 * time.Millisecond
	want = `o.conf:2: limits.client_timeout: 1s must be above twice client_heartbeat 600ms`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate = %v, want %s", err, want)
	}
	// Forgotten: the field is named as without a file.
	flagged.SetOrigin("client_heartbeat", "")
	flagged.SetOrigin("client_timeout", "")
	want = `config: client_heartbeat: 600ms must be below half of client_timeout 1s`
	if err := flagged.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate = %v, want %s", err, want)
	}
}

// TestCheckTimeAndSize: the checks cpgnode's flags use.
func TestCheckTimeAndSize(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{CheckTime("token", 9223372036854775807), "2562047h47m16.854775807s is above 1h"},
		{CheckTime("token", time.Millisecond), "1ms is below 10ms"},
		{CheckTime("token", -time.Second), "-1s must be above 0"},
		{CheckTime("client_heartbeat", 500*time.Microsecond), "500µs is below 1ms"},
		{CheckTime("client_heartbeat", 2500*time.Microsecond), "2.5ms is not a whole number of milliseconds (clients are told it in milliseconds)"},
		{CheckTime("consensus", 2*time.Hour), "2h is above 72m"},
		{CheckTime("nosuch", time.Second), "nosuch is not a time setting"},
		{CheckSize("max_message_size", 1<<31), "2147483648 is above 1 GiB"},
		{CheckSize("max_message_size", 0), "0 must be above 0"},
		{CheckSize("nosuch", 1), "nosuch is not a size setting"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("got %v, want %s", tc.err, tc.want)
		}
	}
	if err := CheckTime("token", time.Hour); err != nil {
		t.Error(err)
	}
	if err := CheckSize("send_window", 4294967295); err != nil {
		t.Error(err)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.conf")
	if err := os.WriteFile(path, []byte("local {\n nodeid: 5\n}\ntotem {\n token: x\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path, DefaultConfig())
	if want := path + `:5: totem.token: "x" is not a number of milliseconds or a duration such as 1.5s`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.conf"), DefaultConfig()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err = %v, want not exist", err)
	}
}

func TestExampleConfig(t *testing.T) {
	for id := uint32(1); id <= 3; id++ {
		base := DefaultConfig()
		c, err := LoadConfig("../examples/cpgnode/example.conf", base)
		if err != nil {
			t.Fatal(err)
		}
		c.NodeID = id // what cpgnode -id does
		if err := c.Validate(); err != nil {
			t.Fatalf("node %d: %v", id, err)
		}
		want := []NodeAddr{{1, "127.0.0.1:7101"}, {2, "127.0.0.1:7102"}, {3, "127.0.0.1:7103"}}
		if !reflect.DeepEqual(c.Nodes, want) {
			t.Fatalf("nodes = %v, want %v", c.Nodes, want)
		}
		if c.Listen != c.AddrOf(id) {
			t.Fatalf("node %d listens on %q, want its ring0_addr %q", id, c.Listen, c.AddrOf(id))
		}
	}
}

// The client socket and the uidgid sections (which may repeat) of a
// configuration file.
func TestAuthConfigClientSocketAndUidgid(t *testing.T) {
	in := `local {
	client_socket: /run/cpg/cpg.sock
}
uidgid {
	uid: 1000
	gid: 1000
}
uidgid {
	gid: 0
}
`
	c, err := ParseConfig(strings.NewReader(in), "t.conf", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientSocket != "/run/cpg/cpg.sock" || !slices.Equal(c.ClientUIDs, []uint32{1000}) || !slices.Equal(c.ClientGIDs, []uint32{1000, 0}) {
		t.Errorf("got socket %q uids %v gids %v", c.ClientSocket, c.ClientUIDs, c.ClientGIDs)
	}
	for _, bad := range []string{"uidgid {\n}\n", "uidgid {\nuid: 1\nuid: 2\n}\n", "uidgid {\nuid: x\n}\n", "local {\nclient_socket: rel\n}\n"} {
		if _, err := ParseConfig(strings.NewReader(bad), "t.conf", DefaultConfig()); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
