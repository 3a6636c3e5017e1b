package remote

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	if c.MaxAtomicMsgsize != 1047552 {
		t.Fatalf("max atomic = %d, want Corosync's 1047552", c.MaxAtomicMsgsize)
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	cases := []struct {
		field string
		edit  func(*Config)
	}{
		{"nodeid", func(c *Config) { c.NodeID = 0 }},
		{"max_atomic_msgsize", func(c *Config) { c.MaxAtomicMsgsize = 10 }},
		{"max_message_size", func(c *Config) { c.MaxMessageSize = 2048 }},
		{"link_fragment", func(c *Config) { c.LinkFragment = 100 }},
		{"queue_limit_bytes", func(c *Config) { c.QueueHighBytes = 10 << 20; c.QueueLimitBytes = 1 << 20 }},
		{"client_heartbeat", func(c *Config) { c.ClientTimeout = time.Second; c.ClientHeartbeat = 900 * time.Millisecond }},
		{"listen", func(c *Config) { c.Listen = "no-port" }},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: got %v, want an error naming the field", tc.field, err)
		}
	}
}

func TestValidateFillsZeroFields(t *testing.T) {
	c := Config{NodeID: 3}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.SendWindow != DefaultConfig().SendWindow || c.ClientTimeout != DefaultConfig().ClientTimeout {
		t.Fatalf("zero fields not filled: %+v", c)
	}
}
