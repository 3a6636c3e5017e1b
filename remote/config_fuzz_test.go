package remote

import (
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzParseConfig feeds arbitrary bytes to ParseConfig: it must never
// panic or hang, its error must be one line naming the file, and a
// configuration it accepts must either Validate or fail it with one line,
// with no value Validate lets through that would overflow what is derived
// from it or go to clients as 0.
func FuzzParseConfig(f *testing.F) {
	example, err := os.ReadFile("../examples/cpgnode/example.conf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add(fullConfig)
	f.Add(strings.Replace(string(example), "# local {\n#     nodeid: 1", "local {\n    nodeid: 1", 1))
	f.Add("totem {\n token: 9223372036854775807\n}\n")
	f.Add("totem {\n token: 1h\n heartbeat: 20m\n}\nlimits {\n client_heartbeat: 0.5ms\n}\n")
	f.Add("limits {\n client_timeout: 1000\n client_heartbeat: 500\n}\n")
	f.Add("totem {\n max_message_size: 4096\n max_atomic_msgsize: 8192\n sequencer_handoff: off\n}\n")
	f.Add("nodelist {\n node {\n  nodeid: 1\n  ring0_addr: [::1]:7101\n }\n}\nlocal {\n nodeid: 1\n listen: 0.0.0.0:0\n}\n")
	f.Add("totem {\n token 1000\n}\n}\n{\n: x\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseConfig(strings.NewReader(in), "f.conf", DefaultConfig())
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "f.conf") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		if err := c.Validate(); err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("Validate's error is not one line: %q", err)
			}
			return
		}
		for _, d := range []time.Duration{c.Token, c.Heartbeat, c.Join, c.Consensus, c.StallTimeout,
			c.ClientTimeout, c.ClientHeartbeat, c.RequestTimeout, c.ClientPatience(), c.Token * 6 / 5} {
			if d < MinTime || d > 20*MaxTime {
				t.Fatalf("a validated config holds the time %v: %+v", d, c)
			}
		}
		if ms := c.ClientHeartbeat.Milliseconds(); ms < 1 || time.Duration(ms)*time.Millisecond != c.ClientHeartbeat {
			t.Fatalf("client heartbeat %v goes to clients as %d ms", c.ClientHeartbeat, ms)
		}
		if c.SendWindowBytes > MaxBytes || c.CreditBytes > MaxBytes || c.QueueLimitBytes > MaxBytes || c.GroupWindow > MaxBytes {
			t.Fatalf("a validated config holds a size above 1 TiB: %+v", c)
		}
	})
}
