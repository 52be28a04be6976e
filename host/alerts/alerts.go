// Package alerts calls a member's alert agents and webhooks (the [[alert]]
// tables of the live configuration) when something happens on that member:
// Pacemaker's alerts, with its CRM_alert_* environment, so that existing
// alert scripts (alert_file.sh, alert_snmp.sh, alert_smtp.sh) work as they
// are.
//
// Which member alerts: as in Pacemaker, each node alerts for what it sees.
// A resource operation is alerted by the node that ran it (once); a node
// joining or leaving is alerted by every node that saw it (so once per
// node that saw it: a node that died cannot report its own loss).
//
// Alerts never hold up recovery: Send only queues (it never blocks; a full
// queue drops the alert, counted and logged). Each alert has a queue and a
// few workers of its own, so a slow or hanging agent delays only its own
// alerts; each call runs in a process group of its own killed at its
// timeout, its output captured up to a bound and logged when it fails.
package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Kinds of event, CRM_alert_kind.
const (
	KindNode     = "node"
	KindResource = "resource"
)

// Exec statuses (CRM_alert_status), Pacemaker's enum pcmk_exec_status.
const (
	StatusDone     = 0
	StatusTimedOut = 2
	StatusError    = 4
)

// Event is one thing to alert about.
type Event struct {
	Kind string
	Node string // the node the event is about (the one that ran the operation)
	// NodeID is CRM_alert_nodeid (node events): the node's position in the
	// cluster file's member list, from 1 (Tandem has no numeric node ids).
	NodeID int
	// Desc: node events "member" or "lost"; resource events the result as
	// text (Pacemaker's wording: "OK", "Not running", "Timed out", ...).
	Desc string
	// Resource events only.
	Resource string
	Task     string        // start, stop, monitor (a probe is a monitor with interval 0), promote, demote, reload
	Interval time.Duration // a recurring monitor's interval
	TargetRC int           // the rc expected
	Status   int           // StatusDone, StatusTimedOut, ...
	RC       int           // the agent's return code (OCF)
	ExecTime time.Duration
	// Time is when it happened (default: when it was sent).
	Time time.Time
}

// Config wires a Manager to its member.
type Config struct {
	Node string // this member
	// Alerts returns the alerts of the current live configuration.
	Alerts func() []cib.Alert
	// Version is CRM_alert_version: the tandem build ("unknown" if "").
	Version string
	Logger  *slog.Logger
	// Workers are the calls of one alert that may run at once (default
	// 2); Queue is how many of its calls may wait (default 128); beyond
	// that, its alerts are dropped.
	Workers, Queue int
	// Client posts webhooks (default: a client of its own).
	Client *http.Client
	// Backoff is the first wait between two tries of a webhook (default
	// 500 ms, doubled at each retry); Tries bounds them (default 5).
	Backoff time.Duration
	Tries   int
}

// Manager runs the alerts of one member.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	lanes   map[string]*lane // by alert id; guarded by gate
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	seq     atomic.Uint64
	dropped atomic.Uint64
	failed  atomic.Uint64
	ran     atomic.Uint64
	mu      sync.Mutex
	lastLog time.Time // of the last "dropped" warning
	// gate: enqueue holds it while it queues, Close while it closes the
	// queues.
	gate   sync.Mutex
	closed bool
	// nonce tells this process's deliveries from an earlier one's (the
	// sequence starts at 1 again): webhooks' Idempotency-Key.
	nonce string
}

// lane is one alert's queue and workers.
type lane struct{ queue chan delivery }

// delivery is one call of one alert for one recipient.
type delivery struct {
	alert     cib.Alert
	recipient string
	meta      cib.AlertMeta
	ev        Event
	seq       uint64
}

// New starts a Manager's workers; Close stops them.
func New(cfg Config) *Manager {
	if cfg.Version == "" {
		// Pacemaker's sample agents do nothing without a version.
		cfg.Version = "unknown"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 128
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.Tries <= 0 {
		cfg.Tries = 5
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{cfg: cfg, log: cfg.Logger.With("component", "alerts"), lanes: map[string]*lane{}, ctx: ctx, cancel: cancel,
		nonce: strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// Send queues ev for every enabled alert and recipient (an alert without
// recipients is called once, with no recipient). It never blocks.
func (m *Manager) Send(ev Event) {
	if m == nil || m.cfg.Alerts == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	as := m.cfg.Alerts()
	m.retire(as)
	for _, a := range as {
		if !a.Selects(selectKind(ev.Kind)) {
			continue
		}
		if len(a.Recipients) == 0 {
			m.enqueue(a, "", a.Effective(nil), ev)
			continue
		}
		for i := range a.Recipients {
			m.enqueue(a, a.Recipients[i].Value, a.Effective(&a.Recipients[i]), ev)
		}
	}
}

// selectKind is the cib.AlertKinds name of an event kind.
func selectKind(kind string) string {
	switch kind {
	case KindNode:
		return "nodes"
	case KindResource:
		return "resources"
	}
	return kind
}

func (m *Manager) enqueue(a cib.Alert, recipient string, meta cib.AlertMeta, ev Event) {
	if !*meta.Enabled {
		return
	}
	m.gate.Lock()
	defer m.gate.Unlock()
	if m.closed {
		return
	}
	ln := m.lanes[a.ID]
	if ln == nil {
		ln = &lane{queue: make(chan delivery, m.cfg.Queue)}
		m.lanes[a.ID] = ln
		for range m.cfg.Workers {
			m.wg.Add(1)
			go m.work(ln)
		}
	}
	d := delivery{alert: a, recipient: recipient, meta: meta, ev: ev, seq: m.seq.Add(1)}
	select {
	case ln.queue <- d:
	default:
		n := m.dropped.Add(1)
		m.mu.Lock()
		loud := time.Since(m.lastLog) > 10*time.Second
		if loud {
			m.lastLog = time.Now()
		}
		m.mu.Unlock()
		if loud {
			m.log.Warn("alert queue full: alert dropped (agents slower than the events; see their timeouts)",
				"alert", a.ID, "kind", ev.Kind, "node", ev.Node, "resource", ev.Resource, "dropped_total", n, "queue", cap(ln.queue))
		}
	}
}

// Dropped counts the alerts dropped because the queue was full; Failed
// those whose agent failed, timed out or could not be started (a webhook:
// whose every try failed); Ran all the deliveries finished.
func (m *Manager) Dropped() uint64 { return m.dropped.Load() }

// Failed counts the deliveries that failed.
func (m *Manager) Failed() uint64 { return m.failed.Load() }

// Ran counts the deliveries finished, failed or not.
func (m *Manager) Ran() uint64 { return m.ran.Load() }

// Close stops taking alerts, lets the queued ones run until ctx ends, then
// kills what still runs and waits for the workers.
func (m *Manager) Close(ctx context.Context) {
	m.gate.Lock()
	if !m.closed {
		m.closed = true
		for id, ln := range m.lanes {
			close(ln.queue)
			delete(m.lanes, id)
		}
	}
	m.gate.Unlock()
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		m.cancel()
		<-done
	}
	m.cancel()
}

// retire closes the lanes of alerts no longer configured (their workers
// end once what was queued has run).
func (m *Manager) retire(current []cib.Alert) {
	m.gate.Lock()
	defer m.gate.Unlock()
	if len(m.lanes) == 0 {
		return
	}
	keep := map[string]bool{}
	for _, a := range current {
		keep[a.ID] = true
	}
	for id, ln := range m.lanes {
		if !keep[id] {
			close(ln.queue)
			delete(m.lanes, id)
		}
	}
}

func (m *Manager) work(ln *lane) {
	defer m.wg.Done()
	for d := range ln.queue {
		m.deliver(d)
	}
}

func (m *Manager) deliver(d delivery) {
	if m.ctx.Err() != nil {
		// Closing past its drain time: what is still queued is dropped.
		m.dropped.Add(1)
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, d.meta.Timeout)
	defer cancel()
	var err error
	var output string
	if d.alert.Webhook != "" {
		err = m.post(ctx, d)
	} else {
		output, err = m.exec(ctx, d)
	}
	m.ran.Add(1)
	if err != nil {
		m.failed.Add(1)
		m.log.Warn("alert failed", "alert", d.alert.ID, "recipient", d.recipient, "kind", d.ev.Kind, "node", d.ev.Node,
			"resource", d.ev.Resource, "task", d.ev.Task, "sequence", d.seq, "err", err, "output", output)
		return
	}
	m.log.Debug("alert sent", "alert", d.alert.ID, "recipient", d.recipient, "kind", d.ev.Kind, "sequence", d.seq)
}

// env is the event's CRM_alert_* variables for d, as Pacemaker sets them.
func (m *Manager) env(d delivery) map[string]string {
	ev := d.ev
	ts, err := cib.FormatTimestamp(d.meta.TimestampFormat, ev.Time)
	if err != nil {
		ts = "" // refused when configured; as Pacemaker, no timestamp rather than a wrong one
	}
	e := map[string]string{
		"CRM_alert_kind":            ev.Kind,
		"CRM_alert_version":         m.cfg.Version,
		"CRM_alert_recipient":       d.recipient,
		"CRM_alert_node_sequence":   strconv.FormatUint(d.seq, 10),
		"CRM_alert_timestamp":       ts,
		"CRM_alert_timestamp_epoch": strconv.FormatInt(ev.Time.Unix(), 10),
		"CRM_alert_timestamp_usec":  fmt.Sprintf("%06d", ev.Time.Nanosecond()/1000),
		"CRM_alert_node":            ev.Node,
		"CRM_alert_desc":            ev.Desc,
	}
	switch ev.Kind {
	case KindNode:
		e["CRM_alert_nodeid"] = strconv.Itoa(ev.NodeID)
	case KindResource:
		e["CRM_alert_rsc"] = ev.Resource
		e["CRM_alert_task"] = ev.Task
		e["CRM_alert_interval"] = strconv.FormatInt(ev.Interval.Milliseconds(), 10)
		e["CRM_alert_target_rc"] = strconv.Itoa(ev.TargetRC)
		e["CRM_alert_status"] = strconv.Itoa(ev.Status)
		e["CRM_alert_rc"] = strconv.Itoa(ev.RC)
		e["CRM_alert_exec_time"] = strconv.FormatInt(ev.ExecTime.Milliseconds(), 10)
	}
	return e
}
