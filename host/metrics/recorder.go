package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Recorder holds what cannot be read at a scrape because it happens in
// between: latencies and counts of lease renewals, transitions and plugin
// calls. The daemon hands its methods to the lease manager, the
// coordinator and the supervisor as plain callbacks, so those packages
// know nothing of Prometheus. One Recorder per member (a test runs
// several members in one process).
type Recorder struct {
	leaseRenew    prometheus.Histogram
	leaseFailures prometheus.Counter
	transitions   *prometheus.CounterVec
	transition    prometheus.Histogram
	pluginCalls   *prometheus.HistogramVec
	pluginTimeout *prometheus.CounterVec
}

// NewRecorder makes a member's Recorder.
func NewRecorder() *Recorder {
	return &Recorder{
		leaseRenew: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_lease_renew_seconds",
			Help:    "Time of each lease renewal's compare-and-swap write on the bus (leases this node holds), successful or not.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
		leaseFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_lease_renew_failures_total",
			Help: "Lease renewal writes that failed (the bus did not answer in time, or the key moved)."}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_transitions_total",
			Help: "Transitions this node published as coordinator, by how they ended: complete, failed, aborted, timed_out."}, []string{"outcome"}),
		transition: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_transition_seconds",
			Help:    "Time from publishing a transition to its end (every action reported, or aborted), on the coordinator.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}}),
		pluginCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tandem_plugin_call_seconds",
			Help:    "Time of each call of a resource agent's plugin on this node, by agent and action (start, stop, monitor, probe, validate, meta-data, hold, ...).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"agent", "action"}),
		pluginTimeout: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_plugin_call_timeouts_total",
			Help: "Plugin calls that hit their timeout, by agent and action."}, []string{"agent", "action"}),
	}
}

func (r *Recorder) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.leaseRenew, r.leaseFailures, r.transitions, r.transition, r.pluginCalls, r.pluginTimeout}
}

// LeaseRenewed records one renewal write (lease.Config.Renewed).
func (r *Recorder) LeaseRenewed(took time.Duration, ok bool) {
	r.leaseRenew.Observe(took.Seconds())
	if !ok {
		r.leaseFailures.Inc()
	}
}

// TransitionFinished records one transition's end
// (coordinator.Config.Finished).
func (r *Recorder) TransitionFinished(took time.Duration, outcome string) {
	r.transitions.WithLabelValues(outcome).Inc()
	r.transition.Observe(took.Seconds())
}

// PluginCall records one plugin call (supervisor.Config.Observe).
func (r *Recorder) PluginCall(agent, action string, took time.Duration, timedOut bool) {
	r.pluginCalls.WithLabelValues(agent, action).Observe(took.Seconds())
	if timedOut {
		r.pluginTimeout.WithLabelValues(agent, action).Inc()
	}
}
