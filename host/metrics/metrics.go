// Package metrics serves a member's Prometheus endpoint ([metrics] listen
// in the cluster file): membership and quorum, this node's resource
// instances and their states, the cluster's fail-counts, the coordinator,
// fenced plans, alerts and the bus round trip, read when scraped from what
// the daemon already keeps (scraping adds no work to the paths that keep
// resources running); and the latencies of lease renewals, transitions and
// plugin calls, which a Recorder keeps as they happen. docs/metrics.md
// lists the names.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tandem-ha/tandem/bus"
)

// Failure is one fail-count.
type Failure struct {
	Resource, Node, Op string
	Count              int
}

// Source is where a scrape reads the member's state. A func may be nil
// (a witness has no resources).
type Source struct {
	Member  string
	Voters  []string                                     // every voter, the witness included
	Members []string                                     // every member ([bus] voters or not); nil: the voters
	Online  func() []string                              // the members online now
	Node    func() bus.NodeResources                     // this node's resources, as it reports them
	Fails   func(ctx context.Context) ([]Failure, error) // the cluster's fail-counts
	Holder  func(ctx context.Context) (string, error)    // the coordinator lease's holder
	Fenced  func() uint64                                // plans and aborts dropped by the fence
	RTT     func() (time.Duration, error)                // a round trip to this member's bus server
	Timeout time.Duration                                // bound on each bus read of a scrape (default 1s)
	// Alerts counts the alert calls finished, failed and dropped.
	Alerts func() (ran, failed, dropped uint64)
	// Recorder, when set, adds the latencies recorded as they happen.
	Recorder *Recorder
}

var (
	descMember   = prometheus.NewDesc("tandem_member_online", "1 when the member is online (its heartbeats arrive), 0 when not.", []string{"member"}, nil)
	descQuorum   = prometheus.NewDesc("tandem_quorum", "1 when this member's partition holds a strict majority of the voters.", nil, nil)
	descVoters   = prometheus.NewDesc("tandem_voters", "Voters configured (nodes and the witness).", nil, nil)
	descState    = prometheus.NewDesc("tandem_resource_state", "1 for the state each resource instance is in on this node (started, stopped, starting, stopping, failed, blocked).", []string{"resource", "clone", "instance", "state"}, nil)
	descWarn     = prometheus.NewDesc("tandem_resource_degraded", "1 when the instance's monitor reports it running but degraded.", []string{"resource", "clone", "instance"}, nil)
	descFails    = prometheus.NewDesc("tandem_resource_failcount", "Fail-count of a resource on a node (INFINITY is 1000000).", []string{"resource", "node", "op"}, nil)
	descCoord    = prometheus.NewDesc("tandem_coordinator", "1 for the node holding the coordinator lease (Pacemaker's DC).", []string{"node"}, nil)
	descFenced   = prometheus.NewDesc("tandem_fenced_plans_total", "Plans and aborts this node dropped because they did not come from the current coordinator.", nil, nil)
	descRTT      = prometheus.NewDesc("tandem_bus_rtt_seconds", "Round trip from the daemon to its bus server, measured at the scrape.", nil, nil)
	descScrapeOK = prometheus.NewDesc("tandem_scrape_bus_ok", "1 when every bus read of this scrape answered in time.", nil, nil)
	descAlerts   = prometheus.NewDesc("tandem_alerts_total", "Alert agent calls and webhook posts finished on this node, failed or not.", nil, nil)
	descAlertsKO = prometheus.NewDesc("tandem_alert_failures_total", "Alert calls that failed: the agent exited non-zero, timed out or could not start; a webhook's every try failed.", nil, nil)
	descAlertsDr = prometheus.NewDesc("tandem_alerts_dropped_total", "Alert calls dropped because the alert's queue was full.", nil, nil)
)

type collector struct{ s Source }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMember, descQuorum, descVoters, descState, descWarn, descFails, descCoord, descFenced, descRTT, descScrapeOK, descAlerts, descAlertsKO, descAlertsDr} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	busOK := 1.0
	if s.Online != nil {
		online := map[string]bool{}
		for _, m := range s.Online() {
			online[m] = true
		}
		members := s.Members
		if members == nil {
			members = s.Voters
		}
		for _, m := range members {
			gauge(descMember, b2f(online[m]), m)
		}
		up := 0
		for _, v := range s.Voters {
			if online[v] {
				up++
			}
		}
		gauge(descVoters, float64(len(s.Voters)))
		gauge(descQuorum, b2f(2*up > len(s.Voters)))
	}
	if s.Node != nil {
		for _, r := range s.Node().Resources {
			inst := ""
			if r.Clone != "" {
				inst = fmt.Sprint(r.Instance)
			}
			gauge(descState, 1, r.Resource, r.Clone, inst, r.State)
			if r.Warning != "" {
				gauge(descWarn, 1, r.Resource, r.Clone, inst)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if s.Fails != nil {
		fs, err := s.Fails(ctx)
		if err != nil {
			busOK = 0
		}
		for _, f := range fs {
			gauge(descFails, float64(f.Count), f.Resource, f.Node, f.Op)
		}
	}
	if s.Holder != nil {
		h, err := s.Holder(ctx)
		switch {
		case err != nil:
			busOK = 0
		case h != "":
			gauge(descCoord, 1, h)
		}
	}
	if s.Fenced != nil {
		ch <- prometheus.MustNewConstMetric(descFenced, prometheus.CounterValue, float64(s.Fenced()))
	}
	if s.Alerts != nil {
		ran, failed, dropped := s.Alerts()
		ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.CounterValue, float64(ran))
		ch <- prometheus.MustNewConstMetric(descAlertsKO, prometheus.CounterValue, float64(failed))
		ch <- prometheus.MustNewConstMetric(descAlertsDr, prometheus.CounterValue, float64(dropped))
	}
	if s.RTT != nil {
		if d, err := s.RTT(); err == nil {
			gauge(descRTT, d.Seconds())
		} else {
			busOK = 0
		}
	}
	gauge(descScrapeOK, busOK)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Handler is the /metrics handler of s, with Go's runtime and process
// metrics.
func Handler(s Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if s.Recorder != nil {
		reg.MustRegister(s.Recorder.collectors()...)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Timeout: 10 * time.Second})
}

// Serve listens on addr and serves /metrics until the returned stop is
// called. A listen error is returned at once (a port in use, a bad
// address), so the daemon can say which.
func Serve(addr string, s Source, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("[metrics] listen %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", Handler(s))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 20 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "address", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
