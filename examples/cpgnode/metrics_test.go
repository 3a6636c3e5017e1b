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
	logger := zerolog.Nop()
	m := newMetricsServer()
	cfg := remote.DefaultConfig()
	cfg.Listen = ""
	node, err := actors.Start(cfg, actors.WithLogger(logger), actors.WithActorSystem(m.actorSystem(logger)))
	if err != nil {
		t.Fatal(err)
	}
	defer node.Stop()
	addr, err := m.serve("127.0.0.1:0", node, logger)
	if err != nil {
		t.Fatal(err)
	}
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
	if t.Failed() {
		t.Logf("cpg series:\n%s", grepCPG(body))
		for _, l := range strings.Split(body, "\n") {
			if strings.Contains(l, "protoactor") && !strings.HasPrefix(l, "#") {
				t.Log(l)
			}
		}
	}
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
