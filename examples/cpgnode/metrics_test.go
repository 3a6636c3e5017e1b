package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// TestMetricsEndpointServesTheListedSeries: -metrics serves the node's
// series (multicasts and deliveries, TRY_AGAIN, evictions, queue depth,
// views, view-change durations, link bytes), protoactor's actor metrics
// and the Go runtime's, and the counters move with traffic.
func TestMetricsEndpointServesTheListedSeries(t *testing.T) {
	node, addr := metricsNode(t)
	h, err := cpg.Initialize(&cpg.Callbacks{}, cpg.WithNode(node))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Finalize()
	if err := h.Join([]byte("metrics")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := h.McastJoined(api.TypeAgreed, []byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		body = scrape(t, "http://"+addr+"/metrics")
		if strings.Contains(body, "cpg_mcast_messages_total 5") && strings.Contains(body, "cpg_delivered_messages_total 5") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters did not reach 5 multicasts and 5 deliveries:\n%s", grepCPG(body))
		}
	}
	for _, series := range []string{
		"cpg_mcast_bytes_total 25", "cpg_delivered_bytes_total 25", "cpg_mcast_rejected_total", "cpg_try_again_total",
		"cpg_flow_control_on_total", "cpg_evictions_total", "cpg_queue_bytes", "cpg_handles 1", "cpg_group_actors 1",
		"cpg_sequencer_actors 1", "cpg_views_installed_total 1", "cpg_view_change_seconds_bucket{le=\"0.005\"}",
		"cpg_view_change_seconds_count", "cpg_view_members 1", "cpg_link_bytes_total",
		"protoactor_actor_spawn_count", "go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(body, series) {
			t.Errorf("no %q in /metrics", series)
		}
	}
	if strings.Contains(body, "cpg_group_delivered") {
		t.Error("per-group series served without -metrics-groups")
	}
	if t.Failed() {
		t.Logf("cpg series:\n%s", grepCPG(body))
		for _, l := range strings.Split(body, "\n") {
			if strings.Contains(l, "protoactor") && !strings.HasPrefix(l, "#") {
				t.Log(l)
			}
		}
	}
}

// metricsNode starts an embedded node as cpgnode -metrics does, serving
// /metrics on a free loopback port; the test's cleanup stops it.
func metricsNode(t *testing.T, opts ...actors.Option) (*actors.Node, string) {
	t.Helper()
	logger := zerolog.Nop()
	m := newMetricsServer()
	cfg := remote.DefaultConfig()
	cfg.Listen = ""
	node, err := actors.Start(cfg, append([]actors.Option{actors.WithLogger(logger), actors.WithActorSystem(m.actorSystem(logger))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	addr, err := m.serve("127.0.0.1:0", node, logger)
	if err != nil {
		t.Fatal(err)
	}
	return node, addr
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grepCPG(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "cpg_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsGroupsAreOptInAndBounded: -metrics-groups 1 serves the first
// group's series under its name and sums the next ones under "_other";
// a name that is not printable UTF-8 would be labelled in hex.
func TestMetricsGroupsAreOptInAndBounded(t *testing.T) {
	node, addr := metricsNode(t, actors.WithGroupMetrics(1))
	for i, g := range []string{"first", "second", "third"} {
		h, err := cpg.Initialize(&cpg.Callbacks{}, cpg.WithNode(node))
		if err != nil {
			t.Fatal(err)
		}
		defer h.Finalize()
		if err := h.Join([]byte(g)); err != nil {
			t.Fatal(err)
		}
		for k := 0; k <= i; k++ {
			if err := h.McastJoined(api.TypeAgreed, []byte("hello")); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{
		`cpg_group_delivered_messages_total{group="first"} 1`,
		`cpg_group_delivered_bytes_total{group="first"} 5`,
		`cpg_group_members{group="first"} 1`,
		`cpg_group_sequencer_here{group="first"} 1`,
		`cpg_group_delivered_messages_total{group="_other"} 5`,
		`cpg_group_delivered_bytes_total{group="_other"} 25`,
	}
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		body = scrape(t, "http://"+addr+"/metrics")
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in:\n%s", missing, grepCPG(body))
		}
	}
	if strings.Contains(body, `group="second"`) || strings.Contains(body, `group="third"`) {
		t.Errorf("groups beyond -metrics-groups 1 have series of their own:\n%s", grepCPG(body))
	}
	for name, label := range map[string]string{"first": "first", "\xff": "0xff", "_other": "0x5f6f74686572", "0x41": "0x30783431", "a\nb": "0x610a62"} {
		if got := groupLabel([]byte(name)); got != label {
			t.Errorf("groupLabel(%q) = %q, want %q", name, got, label)
		}
	}
}

// The metrics flags: an address that is not host:port, -metrics-groups
// without -metrics or out of range are usage errors; good ones parse.
func TestMetricsFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-metrics", "9464"},
		{"-metrics-groups", "5"},
		{"-metrics", "127.0.0.1:0", "-metrics-groups", "-1"},
		{"-metrics", "127.0.0.1:0", "-metrics-groups", "100001"},
	} {
		if _, _, _, err := configureAll(args); err == nil || exitCode(err) != 2 {
			t.Errorf("%q: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
	_, _, mf, err := configureAll([]string{"-metrics", "127.0.0.1:9464", "-metrics-groups", "50"})
	if err != nil || mf != (metricsFlags{"127.0.0.1:9464", 50}) {
		t.Errorf("got %+v, %v", mf, err)
	}
}
