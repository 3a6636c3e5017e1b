package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/remote"
)

const example = "example.conf"

// writeConf writes a config file for one test and returns its path.
func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func exampleNodes() []remote.NodeAddr {
	return []remote.NodeAddr{{NodeID: 1, Addr: "127.0.0.1:7101"}, {NodeID: 2, Addr: "127.0.0.1:7102"}, {NodeID: 3, Addr: "127.0.0.1:7103"}}
}

func TestConfigureDefaultIsASingleNode(t *testing.T) {
	cfg, level, err := configure(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := remote.DefaultConfig()
	want.Listen = "127.0.0.1:7100"
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got\n %+v\nwant\n %+v", cfg, want)
	}
	if level != zerolog.InfoLevel {
		t.Fatalf("level = %v, want info", level)
	}
}

func TestConfigureKeepsTheOldFlags(t *testing.T) {
	cfg, level, err := configure([]string{"-id", "4", "-listen", "127.0.0.1:7400", "-state", "/tmp/s",
		"-client-timeout", "5s", "-client-heartbeat", "1s", "-max-message", "2097152", "-log", "debug"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != 4 || cfg.Listen != "127.0.0.1:7400" || cfg.StateDir != "/tmp/s" ||
		cfg.ClientTimeout != 5*time.Second || cfg.ClientHeartbeat != time.Second ||
		cfg.MaxMessageSize != 2<<20 || len(cfg.Nodes) != 0 || level != zerolog.DebugLevel {
		t.Fatalf("flags not applied: %+v level %v", cfg, level)
	}
}

func TestConfigurePeersWithoutFile(t *testing.T) {
	cfg, _, err := configure([]string{"-id", "2", "-listen", "127.0.0.1:7102", "-peers", "1=127.0.0.1:7101,3=127.0.0.1:7103"})
	if err != nil {
		t.Fatal(err)
	}
	want := []remote.NodeAddr{{NodeID: 1, Addr: "127.0.0.1:7101"}, {NodeID: 3, Addr: "127.0.0.1:7103"}, {NodeID: 2, Addr: "127.0.0.1:7102"}}
	if !reflect.DeepEqual(cfg.Nodes, want) || cfg.NodeID != 2 || cfg.Listen != "127.0.0.1:7102" {
		t.Fatalf("node %d listen %q nodes %v, want node 2 on 127.0.0.1:7102 and %v", cfg.NodeID, cfg.Listen, cfg.Nodes, want)
	}
	// -peers may be repeated; without -id/-listen this node is 1 on the default address.
	cfg, _, err = configure([]string{"-peers", "2=127.0.0.1:7102", "-peers", "3=127.0.0.1:7103"})
	if err != nil {
		t.Fatal(err)
	}
	want = []remote.NodeAddr{{NodeID: 2, Addr: "127.0.0.1:7102"}, {NodeID: 3, Addr: "127.0.0.1:7103"}, {NodeID: 1, Addr: "127.0.0.1:7100"}}
	if !reflect.DeepEqual(cfg.Nodes, want) || cfg.NodeID != 1 {
		t.Fatalf("node %d nodes %v, want node 1 and %v", cfg.NodeID, cfg.Nodes, want)
	}
}

func TestConfigureFromFile(t *testing.T) {
	cfg, _, err := configure([]string{"-c", example, "-id", "2"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != 2 || cfg.Listen != "127.0.0.1:7102" || !reflect.DeepEqual(cfg.Nodes, exampleNodes()) {
		t.Fatalf("node %d listen %q nodes %v", cfg.NodeID, cfg.Listen, cfg.Nodes)
	}
	if cfg.Token != time.Second || cfg.Heartbeat != 100*time.Millisecond || cfg.Join != 50*time.Millisecond ||
		cfg.Consensus != 1200*time.Millisecond || cfg.ClientTimeout != 2*time.Second {
		t.Fatalf("file timers not applied: %+v", cfg)
	}
}

func TestConfigureFlagsOverrideFile(t *testing.T) {
	path := writeConf(t, `totem {
    token: 1000
    heartbeat: 100
    consensus: 1200
}
limits {
    client_timeout: 4000
    client_heartbeat: 500
}
nodelist {
    node {
        nodeid: 1
        ring0_addr: 127.0.0.1:7101
    }
    node {
        nodeid: 2
        ring0_addr: 127.0.0.1:7102
    }
}
local {
    nodeid: 1
    state_dir: /from/file
}
`)
	cfg, _, err := configure([]string{"-c", path})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != 1 || cfg.Listen != "127.0.0.1:7101" || cfg.StateDir != "/from/file" || cfg.ClientTimeout != 4*time.Second {
		t.Fatalf("file's local section not applied: %+v", cfg)
	}

	cfg, _, err = configure([]string{"-c", path, "-id", "2", "-listen", "0.0.0.0:7102", "-state", "/from/flag",
		"-client-timeout", "10s", "-heartbeat", "300ms", "-consensus", "5s", "-join", "70ms"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != 2 || cfg.Listen != "0.0.0.0:7102" || cfg.StateDir != "/from/flag" ||
		cfg.ClientTimeout != 10*time.Second || cfg.ClientHeartbeat != 500*time.Millisecond ||
		cfg.Token != time.Second || cfg.Heartbeat != 300*time.Millisecond || cfg.Consensus != 5*time.Second || cfg.Join != 70*time.Millisecond {
		t.Fatalf("flags did not override the file: %+v", cfg)
	}
	if cfg.AddrOf(2) != "127.0.0.1:7102" {
		t.Fatalf("-listen changed the nodelist: %v", cfg.Nodes)
	}

	// -token derives the timers not given as flags, whatever the file says.
	cfg, _, err = configure([]string{"-c", path, "-token", "2s", "-heartbeat", "200ms"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token != 2*time.Second || cfg.Heartbeat != 200*time.Millisecond || cfg.Consensus != 2400*time.Millisecond || cfg.Join != 50*time.Millisecond {
		t.Fatalf("token %v heartbeat %v consensus %v join %v, want 2s 200ms 2.4s 50ms", cfg.Token, cfg.Heartbeat, cfg.Consensus, cfg.Join)
	}
}

func TestConfigurePeersAddToFile(t *testing.T) {
	path := writeConf(t, "nodelist {\n node {\n  nodeid: 1\n  ring0_addr: 127.0.0.1:7101\n }\n}\n")
	cfg, _, err := configure([]string{"-c", path, "-id", "2", "-listen", "127.0.0.1:7102", "-peers", "3=127.0.0.1:7103"})
	if err != nil {
		t.Fatal(err)
	}
	want := []remote.NodeAddr{{NodeID: 1, Addr: "127.0.0.1:7101"}, {NodeID: 3, Addr: "127.0.0.1:7103"}, {NodeID: 2, Addr: "127.0.0.1:7102"}}
	if !reflect.DeepEqual(cfg.Nodes, want) {
		t.Fatalf("nodes = %v, want %v", cfg.Nodes, want)
	}
}

func TestConfigureErrors(t *testing.T) {
	bad := writeConf(t, "totem {\n token: abc\n}\n")
	slow := writeConf(t, "totem {\n token: 1000\n heartbeat: 500\n}\n")
	limits := writeConf(t, "limits {\n client_heartbeat: 500\n}\n")
	overflow := writeConf(t, "totem {\n token: 9223372036854775807\n}\n")
	cases := []struct {
		name string
		args []string
		want string // the whole error
		code int
	}{
		{"unknown flag", []string{"-nosuch"}, "flag provided but not defined: -nosuch", 2},
		{"bad duration", []string{"-token", "abc"}, `invalid value "abc" for flag -token: not a duration such as 1.5s or 250ms`, 2},
		{"token overflows", []string{"-token", "9223372036854775807ns"}, `invalid value "9223372036854775807ns" for flag -token: 2562047h47m16.854775807s is above 1h`, 2},
		{"token beyond a duration", []string{"-token", "9223372036854775807ms"}, `invalid value "9223372036854775807ms" for flag -token: not a duration such as 1.5s or 250ms`, 2},
		{"token above 1h", []string{"-token", "61m"}, `invalid value "61m" for flag -token: 61m is above 1h`, 2},
		{"token below 10ms", []string{"-token", "5ms"}, `invalid value "5ms" for flag -token: 5ms is below 10ms`, 2},
		{"token zero", []string{"-token", "0"}, `invalid value "0" for flag -token: 0s must be above 0`, 2},
		{"token negative", []string{"-token", "-1s"}, `invalid value "-1s" for flag -token: -1s must be above 0`, 2},
		{"heartbeat below 1ms", []string{"-heartbeat", "999us"}, `invalid value "999us" for flag -heartbeat: 999µs is below 1ms`, 2},
		{"join above 1h", []string{"-join", "2h"}, `invalid value "2h" for flag -join: 2h is above 1h`, 2},
		{"consensus above 72m", []string{"-consensus", "73m"}, `invalid value "73m" for flag -consensus: 73m is above 72m`, 2},
		{"client heartbeat below 1ms", []string{"-client-heartbeat", "0.5ms"}, `invalid value "0.5ms" for flag -client-heartbeat: 500µs is below 1ms`, 2},
		{"client heartbeat zero", []string{"-client-heartbeat", "0s"}, `invalid value "0s" for flag -client-heartbeat: 0s must be above 0`, 2},
		{"client heartbeat not whole ms", []string{"-client-heartbeat", "1500us"}, `invalid value "1500us" for flag -client-heartbeat: 1.5ms is not a whole number of milliseconds (clients are told it in milliseconds)`, 2},
		{"client timeout above 1h", []string{"-client-timeout", "25h"}, `invalid value "25h" for flag -client-timeout: 25h is above 1h`, 2},
		{"max message above 1 GiB", []string{"-max-message", "1073741825"}, `invalid value "1073741825" for flag -max-message: 1073741825 is above 1 GiB`, 2},
		{"max message zero", []string{"-max-message", "0"}, `invalid value "0" for flag -max-message: 0 must be above 0`, 2},
		{"max message above uint64", []string{"-max-message", "18446744073709551616"}, `invalid value "18446744073709551616" for flag -max-message: not a number of bytes`, 2},
		{"max message negative", []string{"-max-message", "-1"}, `invalid value "-1" for flag -max-message: not a number of bytes`, 2},
		{"bad log level", []string{"-log", "loud"}, `invalid value "loud" for flag -log: unknown level (want trace, debug, info, warn, error, fatal, panic or disabled)`, 2},
		{"argument", []string{"-id", "2", "extra"}, `unexpected argument "extra"`, 2},
		{"id 0", []string{"-id", "0"}, "invalid value 0 for flag -id: want 1..4294967295", 2},
		{"id too large", []string{"-id", "4294967296"}, "invalid value 4294967296 for flag -id: want 1..4294967295", 2},
		{"peer without =", []string{"-peers", "127.0.0.1:7101"}, `invalid value "127.0.0.1:7101" for flag -peers: "127.0.0.1:7101" is not id=host:port`, 2},
		{"peer bad id", []string{"-peers", "x=127.0.0.1:7101"}, `invalid value "x=127.0.0.1:7101" for flag -peers: "x=127.0.0.1:7101": node id "x" is not a number in 1..4294967295`, 2},
		{"peer id 0", []string{"-peers", "0=127.0.0.1:7101"}, `invalid value "0=127.0.0.1:7101" for flag -peers: "0=127.0.0.1:7101": node id "0" is not a number in 1..4294967295`, 2},
		{"peer bad address", []string{"-peers", "2=nohost"}, `invalid value "2=nohost" for flag -peers: "2=nohost": address "nohost" is not host:port`, 2},
		{"peer twice", []string{"-peers", "2=a:1,2=b:2"}, `invalid value "2=a:1,2=b:2" for flag -peers: node 2 given twice`, 2},
		{"peer empty item", []string{"-peers", "2=a:1,"}, `invalid value "2=a:1," for flag -peers: "" is not id=host:port`, 2},

		{"missing file", []string{"-c", "/nonexistent/x.conf"}, "open /nonexistent/x.conf: no such file or directory", 1},
		{"bad file", []string{"-c", bad}, bad + `:2: totem.token: "abc" is not a number of milliseconds or a duration such as 1.5s`, 1},
		{"no node id", []string{"-c", example}, example + ": no local.nodeid says which node this is: give -id", 1},
		{"self in peers", []string{"-id", "2", "-peers", "2=127.0.0.1:7102"}, "-peers: node 2 is this node; its address comes from -listen or the config file", 1},
		{"peer in file", []string{"-c", example, "-id", "1", "-peers", "3=127.0.0.1:7203"}, "-peers: node 3 is already in the nodelist of " + example, 1},
		{"peer address taken", []string{"-c", example, "-id", "1", "-peers", "4=127.0.0.1:7103"}, "-peers: node 4: 127.0.0.1:7103 is already node 3's address", 1},
		{"peers share an address", []string{"-peers", "2=127.0.0.1:7102,3=127.0.0.1:7102"}, "-peers: node 3: 127.0.0.1:7102 is already node 2's address", 1},
		{"listen is a peer's", []string{"-listen", "127.0.0.1:7102", "-peers", "2=127.0.0.1:7102"}, "-listen: 127.0.0.1:7102 is already node 2's address", 1},
		{"node not listed", []string{"-c", example, "-id", "4"}, "config: nodelist: this node's nodeid 4 is not listed", 1},
		{"heartbeat flag too slow", []string{"-heartbeat", "2s"}, "-heartbeat: 2s must be at most a third of token 3s", 1},
		{"heartbeat file too slow", []string{"-c", slow}, slow + ":3: totem.heartbeat: 500ms must be at most a third of totem.token 1s (line 2)", 1},
		{"token flag below the file's heartbeat", []string{"-c", slow, "-token", "1s", "-heartbeat", "400ms"}, "-heartbeat: 400ms must be at most a third of -token 1s", 1},
		{"heartbeat flag above the file's token", []string{"-c", slow, "-heartbeat", "400ms"}, "-heartbeat: 400ms must be at most a third of totem.token 1s (" + slow + ":2)", 1},
		{"client heartbeat", []string{"-client-heartbeat", "1.5s"}, "-client-heartbeat: 1.5s must be below half of client_timeout 2s", 1},
		{"client heartbeat half of timeout", []string{"-client-heartbeat", "1s", "-client-timeout", "2s"}, "-client-heartbeat: 1s must be below half of -client-timeout 2s", 1},
		{"client timeout against the file", []string{"-c", limits, "-client-timeout", "1s"}, limits + ":2: limits.client_heartbeat: 500ms must be below half of -client-timeout 1s", 1},
		{"join flag above token", []string{"-token", "100ms", "-join", "200ms"}, "-join: 200ms must be at most -token 100ms", 1},
		{"consensus flag below token", []string{"-consensus", "2s"}, "-consensus: 2s is below token 3s", 1},
		{"bad listen", []string{"-listen", "nowhere"}, `-listen: "nowhere": address nowhere: missing port in address`, 1},
		{"max message", []string{"-max-message", "2048"}, "-max-message: 2048 is below max_atomic_msgsize 1047552", 1},
		{"file bound", []string{"-c", overflow}, overflow + `:2: totem.token: "9223372036854775807" is above 1h`, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := configure(tc.args)
			if err == nil {
				t.Fatalf("no error; want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n %s\nwant\n %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if got := exitCode(err); got != tc.code {
				t.Fatalf("exit code %d, want %d", got, tc.code)
			}
		})
	}
}

func TestConfigureHelp(t *testing.T) {
	_, _, err := configure([]string{"-h"})
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
}
