package main

import (
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/actorcpg/actorcpg/actors"
)

// metricsServer serves the node's metrics for Prometheus (-metrics): the
// node's own counters (actors.Node.Metrics, under cpg_), protoactor's
// actor metrics (through OpenTelemetry, which protoactor speaks, into the
// same registry), and the Go runtime's and the process's. Labels are
// bounded: none names a handle or a peer, and a group only with
// -metrics-groups N, for at most N groups (the rest summed under
// group="_other").
//
// The library is Prometheus' client_golang: the standard for exposing
// metrics to Prometheus, and already linked by protoactor (as is
// OpenTelemetry's Prometheus exporter, whose bridge protoactor's metrics
// need), so it adds no dependency to the module.
type metricsServer struct {
	reg *prometheus.Registry
	mp  *sdkmetric.MeterProvider
}

func newMetricsServer() *metricsServer {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &metricsServer{reg: reg}
	if exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutTargetInfo()); err == nil {
		m.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	}
	return m
}

// actorSystem returns the actor system the node runs in: protoactor's
// own logs go to logger, its metrics to the registry.
func (m *metricsServer) actorSystem(logger zerolog.Logger) *actor.ActorSystem {
	cfg := actors.SystemConfig(logger)
	if m.mp != nil {
		// protoactor takes its meters from OpenTelemetry's global
		// provider; the provider in its config only turns them on.
		otel.SetMeterProvider(m.mp)
		cfg.MetricsProvider = m.mp
	}
	return actor.NewActorSystemWithConfig(cfg)
}

// serve registers the node's collector and serves /metrics on addr; it
// returns the address it listens on.
func (m *metricsServer) serve(addr string, node *actors.Node, logger zerolog.Logger) (string, error) {
	m.reg.MustRegister(nodeCollector{node})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	if host, _, _ := net.SplitHostPort(addr); host == "" || !net.ParseIP(host).IsLoopback() && host != "localhost" {
		logger.Warn().Str("metrics", addr).Msg("the metrics endpoint is plain HTTP without authentication, beyond loopback")
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error().Err(err).Msg("metrics server")
		}
	}()
	return ln.Addr().String(), nil
}

// nodeCollector turns a node's Metrics into Prometheus metrics at each
// scrape.
type nodeCollector struct{ node *actors.Node }

var (
	descMcastMsgs   = prometheus.NewDesc("cpg_mcast_messages_total", "Multicasts the node's handles passed to their groups.", nil, nil)
	descMcastBytes  = prometheus.NewDesc("cpg_mcast_bytes_total", "Bytes of the multicasts the node's handles passed to their groups.", nil, nil)
	descRejected    = prometheus.NewDesc("cpg_mcast_rejected_total", "Multicasts refused at the node (too large, not joined, invalid guarantee).", nil, nil)
	descDelivMsgs   = prometheus.NewDesc("cpg_delivered_messages_total", "Messages handed to the node's clients, once per receiving handle.", nil, nil)
	descDelivBytes  = prometheus.NewDesc("cpg_delivered_bytes_total", "Bytes of the messages handed to the node's clients.", nil, nil)
	descTryAgain    = prometheus.NewDesc("cpg_try_again_total", "Joins and leaves answered CS_ERR_TRY_AGAIN.", nil, nil)
	descFlowOn      = prometheus.NewDesc("cpg_flow_control_on_total", "Times a handle's group became flow-controlled for it (multicasts refused with TRY_AGAIN).", nil, nil)
	descEvictions   = prometheus.NewDesc("cpg_evictions_total", "Handles evicted with PROCDOWN for a receive queue above its limit or no dispatch while congested.", nil, nil)
	descQueueBytes  = prometheus.NewDesc("cpg_queue_bytes", "Bytes of events waiting in the handles' receive queues.", nil, nil)
	descHandles     = prometheus.NewDesc("cpg_handles", "Handles on the node.", nil, nil)
	descGroupActors = prometheus.NewDesc("cpg_group_actors", "Group actors on the node.", nil, nil)
	descSeqActors   = prometheus.NewDesc("cpg_sequencer_actors", "Sequencer actors on the node (groups whose order it assigns).", nil, nil)
	descViews       = prometheus.NewDesc("cpg_views_installed_total", "Views the node installed, its first included.", nil, nil)
	descViewChange  = prometheus.NewDesc("cpg_view_change_seconds", "Duration of the node's view changes, from the proposal accepted to the totem confchg.", nil, nil)
	descMembers     = prometheus.NewDesc("cpg_view_members", "Nodes in the node's current view.", nil, nil)
	descLinkBytes   = prometheus.NewDesc("cpg_link_bytes_total", "Bytes written and read on links to other nodes.", nil, nil)

	// Per group (-metrics-groups).
	descGroupDelivMsgs  = prometheus.NewDesc("cpg_group_delivered_messages_total", "Messages the group's replica on this node handed to its local members, once per receiving handle (-metrics-groups).", []string{"group"}, nil)
	descGroupDelivBytes = prometheus.NewDesc("cpg_group_delivered_bytes_total", "Bytes of the messages the group's replica on this node handed to its local members (-metrics-groups).", []string{"group"}, nil)
	descGroupMembers    = prometheus.NewDesc("cpg_group_members", "Members of the group, on every node (-metrics-groups).", []string{"group"}, nil)
	descGroupOrders     = prometheus.NewDesc("cpg_group_sequencer_here", "1 if this node runs the group's sequencer actor (-metrics-groups).", []string{"group"}, nil)
)

// otherGroups is the group label of the groups beyond -metrics-groups.
const otherGroups = "_other"

// groupLabel is a group name as a label value: as it is when it is
// printable UTF-8 and cannot be mistaken for otherGroups or the hex form,
// else "0x" and its bytes in hex (names are bytes; label values must be
// UTF-8, and two groups must not share a label).
func groupLabel(name []byte) string {
	s := string(name)
	printable := utf8.ValidString(s) && !strings.HasPrefix(s, "0x") && s != otherGroups && s != ""
	for _, r := range s {
		if !unicode.IsPrint(r) {
			printable = false
			break
		}
	}
	if printable {
		return s
	}
	return "0x" + hex.EncodeToString(name)
}

// Describe implements prometheus.Collector.
func (nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMcastMsgs, descMcastBytes, descRejected, descDelivMsgs, descDelivBytes,
		descTryAgain, descFlowOn, descEvictions, descQueueBytes, descHandles, descGroupActors, descSeqActors,
		descViews, descViewChange, descMembers, descLinkBytes,
		descGroupDelivMsgs, descGroupDelivBytes, descGroupMembers, descGroupOrders} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.node.Metrics()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(descMcastMsgs, m.McastMessages)
	counter(descMcastBytes, m.McastBytes)
	counter(descRejected, m.McastRejected)
	counter(descDelivMsgs, m.DeliveredMessages)
	counter(descDelivBytes, m.DeliveredBytes)
	counter(descTryAgain, m.TryAgain)
	counter(descFlowOn, m.FlowControlOn)
	counter(descEvictions, m.Evictions)
	gauge(descQueueBytes, float64(m.QueueBytes))
	gauge(descHandles, float64(m.Handles))
	gauge(descGroupActors, float64(m.GroupActors))
	gauge(descSeqActors, float64(m.SequencerActors))
	counter(descViews, m.ViewsInstalled)
	buckets := make(map[float64]uint64, len(m.ViewChange.Bounds))
	for i, b := range m.ViewChange.Bounds {
		buckets[b] = m.ViewChange.Counts[i]
	}
	ch <- prometheus.MustNewConstHistogram(descViewChange, m.ViewChange.Count, m.ViewChange.Sum, buckets)
	gauge(descMembers, float64(len(c.node.View().GetMembers())))
	counter(descLinkBytes, m.LinkBytes)
	for _, g := range c.node.GroupMetrics() {
		label := otherGroups
		if !g.Other {
			label = groupLabel(g.Group)
		}
		ch <- prometheus.MustNewConstMetric(descGroupDelivMsgs, prometheus.CounterValue, float64(g.DeliveredMessages), label)
		ch <- prometheus.MustNewConstMetric(descGroupDelivBytes, prometheus.CounterValue, float64(g.DeliveredBytes), label)
		if !g.Other {
			orders := 0.0
			if g.Orders {
				orders = 1
			}
			ch <- prometheus.MustNewConstMetric(descGroupMembers, prometheus.GaugeValue, float64(g.Members), label)
			ch <- prometheus.MustNewConstMetric(descGroupOrders, prometheus.GaugeValue, orders, label)
		}
	}
}
