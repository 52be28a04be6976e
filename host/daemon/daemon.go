// Package daemon runs a cluster member: `tandem host` on a node (bus, plugins,
// resources) and `tandem witness` (the bus only). It owns start-up order,
// the member's heartbeats and answers to pings, and a clean shutdown.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/lrm"
	"github.com/tandem-ha/tandem/host/metrics"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Errors Run fails with before the member is up; the CLI maps them to exit
// codes. Errors from bus (ErrUnknownMember, ErrPortInUse, ErrDataDir,
// ErrNoCredentials) pass through wrapped.
var (
	ErrConfig    = errors.New("configuration")
	ErrWrongRole = errors.New("wrong role")
)

// HeartbeatInterval is how often a member says it is alive.
const HeartbeatInterval = 250 * time.Millisecond

// Options say which member to run.
type Options struct {
	ConfigPath string
	Node       string // the node to run as; empty for the witness
	Witness    bool
	DataDir    string       // overrides [bus] data_dir
	Metrics    *bus.Metrics // overrides [metrics] (members sharing a file and a host)
	StatusPage *string      // overrides [status_page] listen (likewise)
	PluginDir  string       // tandem-plugin-* executables; default: [plugins] dir, else supervisor.DefaultDir
	Build      string       // version string for heartbeats and status
	Logger     *slog.Logger
	// Ready is closed once the member has quorum and the buckets exist.
	Ready chan<- struct{}
	// Bus, when set, is called with the member's bus server as soon as it
	// runs. Tests cut a node off by shutting its server down under the
	// running daemon (daemontest.Cluster.CutOff).
	Bus func(*bus.Server)
	// Notify is systemd's notification socket ($NOTIFY_SOCKET; "" when not
	// run by systemd as Type=notify): READY=1 goes there once the bus runs
	// and this member is connected to it and, on a node, its plugins are
	// up; STATUS= lines say what it waits for; STOPPING=1 when it stops.
	Notify string
	// Watchdog is systemd's watchdog timeout (WatchdogSec=, from
	// $WATCHDOG_USEC; 0 for none): the main loop sends WATCHDOG=1 every
	// half of it, so a member whose main loop hangs is killed and
	// restarted by systemd.
	Watchdog time.Duration

	// heartbeatHook, when set, is called by the main loop before each
	// heartbeat: a test blocks in it to hang the loop.
	heartbeatHook func()
}

// Member is a running cluster member.
type Member struct {
	top         *bus.Topology // who the members are: this member's cluster file
	fileCIB     *cib.CIB      // the cluster model of this member's file: the live configuration's seed
	name        string
	witness     bool
	build       string
	incarnation string
	started     time.Time
	log         *slog.Logger
	server      *bus.Server
	conn        *bus.Conn
	connOpts    bus.ConnectOptions // how conn was made: dial makes more alike
	vital       *bus.Conn          // heartbeats only: a flood on conn's subjects cannot hold them up
	hbSeq       atomic.Uint64
	pluginDir   string
	svc         atomic.Pointer[services]
	svcDone     chan struct{} // closed when the node's services have started or given up
	stopped     atomic.Bool   // `tandem cluster stop`: this node's resources are stopped
	stopMarker  string        // keeps stopped across restarts of the daemon (control.go)
	stopMu      sync.Mutex
	undo        undoStack // tears down what start built, in reverse
	notify      notifier
	watchdog    time.Duration
	hbHook      func()
	sup         *supervisor.Supervisor  // a node's plugins (startPlugins)
	metrics     *metrics.Recorder       // a node's counters and histograms (metrics.go)
	lrm         atomic.Pointer[lrm.LRM] // a node's resource manager, once it runs
}

// Run starts the member and runs it until ctx ends, then shuts it down
// cleanly: leadership of the bus's Raft groups is handed over before the
// server stops, so no acknowledged write is lost.
func Run(ctx context.Context, o Options) error {
	m, err := start(o)
	if err != nil {
		return err
	}
	defer m.shutdown()
	m.notify.send("READY=1\nSTATUS=bus running, waiting for quorum")
	m.run(ctx, o.Ready)
	// Resources are stopped while the bus and plugins are still up.
	<-m.svcDone
	if s := m.svc.Load(); s != nil {
		s.stop()
	}
	return nil
}

func start(o Options) (_ *Member, err error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	f, err := config.Load(o.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	top := f.Topology
	if o.Metrics != nil {
		top.Metrics = *o.Metrics
	}
	if o.StatusPage != nil {
		top.StatusPage = *o.StatusPage
	}
	if o.DataDir != "" {
		top.DataDir = o.DataDir
	}
	name := o.Node
	w := top.Witness()
	switch {
	case o.Witness && w == nil:
		return nil, fmt.Errorf("%w: %s has no [witness] table, so there is no witness to run here", ErrWrongRole, o.ConfigPath)
	case o.Witness:
		name = w.Name
	case name == "":
		return nil, fmt.Errorf("%w: say which node this is with --node NAME", ErrWrongRole)
	case top.IsWitness(name):
		return nil, fmt.Errorf("%w: %q is the witness in %s; run `tandem witness --config %s` on it", ErrWrongRole, name, o.ConfigPath, o.ConfigPath)
	}
	secret, err := top.LoadSecret()
	if err != nil {
		return nil, err
	}
	log = log.With("member", name)
	inc := make([]byte, 6)
	_, _ = rand.Read(inc)
	pluginDir := o.PluginDir
	if pluginDir == "" {
		pluginDir = f.PluginDir // [plugins] dir; "": beside tandem
	}
	m := &Member{top: top, fileCIB: f.CIB, name: name, witness: o.Witness, build: o.Build, incarnation: hex.EncodeToString(inc),
		started: time.Now(), log: log, pluginDir: pluginDir, svcDone: make(chan struct{}),
		notify: notifier{addr: o.Notify, log: log}, watchdog: o.Watchdog, hbHook: o.heartbeatHook, metrics: metrics.NewRecorder()}
	defer func() {
		if err != nil {
			m.undo.run()
		}
	}()
	if m.server, err = bus.StartServer(bus.ServerOptions{Topology: top, Member: name, Secret: secret, Logger: log}); err != nil {
		return nil, err
	}
	m.undo.push(m.server.Shutdown)
	if o.Bus != nil {
		o.Bus(m.server)
	}
	m.connOpts = bus.ConnectOptions{Topology: top, Secret: secret, Name: name, Server: m.server, RetryForever: true}
	if m.conn, err = bus.Connect(m.connOpts); err != nil {
		return nil, err
	}
	m.undo.push(m.conn.Close)
	if m.vital, err = m.dial(); err != nil {
		return nil, err
	}
	m.undo.push(m.vital.Close)
	if !o.Witness {
		m.stopMarker = stopMarkerPath(top, name)
		if mk, ok := loadStopped(m.stopMarker); ok {
			m.stopped.Store(true)
			log.Warn("this node's resources stay stopped: `tandem cluster stop` was run since the machine booted; `tandem cluster start "+name+"` starts them",
				"since", mk.Since, "by", mk.By)
		}
		if err := m.serveControl(); err != nil {
			return nil, fmt.Errorf("serving control requests: %w", err)
		}
		if err := m.startPlugins(); err != nil {
			return nil, err
		}
	}
	if err := m.serveRemoveVoter(); err != nil {
		return nil, fmt.Errorf("serving remove-voter requests: %w", err)
	}
	if top.Leases == bus.LeasesGrants && !m.server.Member().NonVoter {
		// From the start: a majority of the voters' grants is what
		// any lease needs (host/lease/grants.go).
		g, err := lease.NewGranter(m.vital, name, lease.DefaultTTL, nil, log)
		if err != nil {
			return nil, err
		}
		m.undo.push(g.Close)
	}
	if _, err := bus.ServeMembers(m.conn, m.status); err != nil {
		return nil, fmt.Errorf("serving pings: %w", err)
	}
	// Configuration writes are served from the start, before this
	// member runs any configuration: `config reseed` must work when
	// none can be run.
	stopWrites, err := liveconfig.Serve(m.conn, name, log)
	if err != nil {
		return nil, fmt.Errorf("serving configuration writes: %w", err)
	}
	m.undo.push(stopWrites)
	m.serveStatusPage(f)
	role := "node"
	if o.Witness {
		role = "witness"
	}
	log.Info("bus started", "role", role, "client", fmt.Sprintf("%s:%d", m.server.Member().Address, m.server.Member().ClientPort),
		"voter", !m.server.Member().NonVoter, "voters", len(top.Voters()), "members", len(top.Members), "replicas", m.server.Replicas())
	return m, nil
}

func (m *Member) run(ctx context.Context, ready chan<- struct{}) {
	hb := time.NewTicker(HeartbeatInterval)
	defer hb.Stop()
	// systemd's watchdog is petted from this loop only: if it hangs, the
	// pets stop and systemd restarts the member (docs/operations.md).
	var watchdog <-chan time.Time
	if m.watchdog > 0 && m.notify.addr != "" {
		t := time.NewTicker(m.watchdog / 2)
		defer t.Stop()
		watchdog = t.C
		m.notify.send("WATCHDOG=1")
	}
	// The witness checks the bus's leaders every second, and 4 times a
	// second for a few seconds after any stream elects a leader elsewhere:
	// a node that rejoins after a partition disturbs the leaders (its Raft
	// term is higher), and until they are back on the witness a fault of
	// that node costs a 4-9 s election.
	// A node checks (locally) as often whether it leads a group while
	// holding singletons (placeLeaders).
	lead := time.NewTicker(leaderCheckFast)
	defer lead.Stop()
	var lastCheck, fastUntil time.Time
	var fitAt time.Time // the meta leader's next check of the buckets' replicas
	elected := make(chan struct{}, 1)
	if m.witness {
		if sub, err := m.conn.NC.Subscribe(bus.SubjectStreamLeaderElected, func(msg *nats.Msg) {
			var adv struct{ Leader string }
			if json.Unmarshal(msg.Data, &adv) == nil && adv.Leader != m.name {
				select {
				case elected <- struct{}{}:
				default:
				}
			}
		}); err == nil {
			defer func() { _ = sub.Unsubscribe() }()
		} else {
			m.log.Warn("not following leader elections (checking leaders every second only)", "err", err)
		}
	}
	leading := make(chan struct{}, 1)        // a keepLeaders round is running
	defer func() { leading <- struct{}{} }() // wait for it before returning
	// The node's services outlive ctx by the drain (see drain).
	svcCtx, svcCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer svcCancel()
	quorum := make(chan error, 1)
	go func() { quorum <- m.waitQuorum(ctx) }()
	defer func() {
		if quorum != nil {
			// Never reached quorum: there are no services to wait for.
			close(m.svcDone)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			m.notify.send("STOPPING=1\nSTATUS=stopping: handing over resources and bus leadership")
			if quorum == nil && !m.witness {
				m.drain(hb.C)
			}
			return
		case err := <-quorum:
			if err != nil {
				if ctx.Err() == nil {
					m.log.Error("bus not usable", "err", err)
				}
				continue
			}
			quorum = nil
			m.notify.send("STATUS=cluster has quorum")
			if ready != nil {
				close(ready)
				ready = nil
			}
			if m.witness {
				close(m.svcDone)
			} else {
				go func() {
					defer close(m.svcDone)
					s, err := m.startServices(svcCtx)
					if err != nil {
						if svcCtx.Err() == nil {
							m.log.Error("node services did not start", "err", err)
						}
						return
					}
					m.svc.Store(s)
				}()
			}
		case <-hb.C:
			if m.hbHook != nil {
				m.hbHook()
			}
			m.heartbeat()
		case <-watchdog:
			m.notify.send("WATCHDOG=1")
		case <-elected:
			fastUntil = time.Now().Add(leaderFastFor)
		case now := <-lead.C:
			// Only once the buckets exist: moving the meta leader while the
			// members are still creating them delays the cold start. In a
			// goroutine of its own: its requests can wait up to 2 s on a
			// peer that just dropped off, and the heartbeats must not.
			if quorum != nil {
				continue
			}
			var round func()
			if m.witness {
				if !now.Before(fastUntil) && now.Sub(lastCheck) < leaderCheckSlow {
					continue
				}
				lastCheck = now
				round = func() { m.keepLeaders(ctx) }
			} else if s := m.svc.Load(); s != nil {
				round = func() { m.placeLeaders(ctx, s) }
			} else {
				continue
			}
			if !now.Before(fitAt) && m.server.LeadsMeta() {
				fitAt = now.Add(fitEvery)
				place := round
				round = func() { place(); m.fitBuckets(ctx) }
			}
			select {
			case leading <- struct{}{}:
				go func() {
					defer func() { <-leading }()
					round()
				}()
			default: // the previous round is still at it
			}
		}
	}
}

// waitQuorum waits for a majority of voters, then makes sure the buckets
// exist, logging progress so an admin sees what the member waits for.
func (m *Member) waitQuorum(ctx context.Context) error {
	start := time.Now()
	for {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := m.conn.WaitQuorum(wctx)
		if err == nil {
			err = m.server.EnsureBuckets(wctx, m.conn)
		}
		cancel()
		if err == nil {
			m.log.Info("cluster has quorum", "after", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.log.Warn("waiting for quorum", "waited", time.Since(start).Round(time.Second), "routes", m.server.NATS().NumRoutes(), "err", err)
	}
}

func (m *Member) heartbeat() {
	hb := bus.Heartbeat{Node: m.name, Witness: m.witness, Incarnation: m.incarnation,
		Seq: m.hbSeq.Add(1), Started: m.started, Build: m.build, Stopped: m.stopped.Load(), Leases: m.top.Leases, TakesStamps: true}
	if s := m.svc.Load(); s != nil {
		hb.Plugins = s.pluginLines()
		hb.Singletons = s.leases.Singletons()
		hb.View, hb.ViewStamp = s.view(hb.Seq)
	}
	err := m.vital.Publish(hb)
	if err != nil {
		m.log.Debug("heartbeat not sent", "err", err)
	}
}

// dial makes another in-process connection to this member's server, like
// conn. Heartbeats, each member's heartbeats received and leases each have
// one of their own (docs/leases.md, "Floods"): what floods one connection
// (a slow consumer, a full buffer, a server closing it) leaves the others
// alone.
func (m *Member) dial() (*bus.Conn, error) {
	c, err := bus.Connect(m.connOpts)
	if err != nil {
		return nil, fmt.Errorf("another connection to the bus: %w", err)
	}
	return c, nil
}

func (m *Member) status() bus.MemberStatus {
	ns := m.server.NATS()
	st := bus.MemberStatus{Name: m.name, Witness: m.witness, Incarnation: m.incarnation, Started: m.started,
		Build: m.build, MetaCurrent: ns.JetStreamIsCurrent(), Routes: routedPeers(ns), Stopped: m.stopped.Load(), Topology: m.top}
	st.Daemons = append(st.Daemons, bus.DaemonStatus{Name: "bus", State: busState(st, m.server.Member().NonVoter)})
	if m.server.LeadsMeta() {
		st.Leads = append(st.Leads, "meta")
	}
	for _, b := range m.ledBuckets() {
		st.Leads = append(st.Leads, strings.TrimPrefix(b, "tandem-"))
	}
	if !m.witness {
		state := "active"
		if st.Stopped {
			state = "inactive (cluster stopped)" // pcs: "pacemaker: inactive"
		}
		st.Daemons = append([]bus.DaemonStatus{{Name: "tandem", State: state}}, st.Daemons...)
		if s := m.svc.Load(); s != nil {
			st.Daemons = append(st.Daemons, s.daemonStatus()...)
			st.Counters = s.counters()
			st.Singletons = s.leases.Singletons()
		}
	}
	return st
}

func busState(st bus.MemberStatus, nonVoter bool) string {
	q := "quorum"
	switch {
	case nonVoter:
		q = "member, not a voter" // it has no meta group of its own to ask
	case !st.MetaCurrent:
		q = "no quorum"
	}
	return fmt.Sprintf("active (%d peers, %s)", st.Routes, q)
}

// routedPeers counts the voters this server has routes to (NATS keeps a pool
// of several connections per peer).
func routedPeers(ns *server.Server) int {
	rz, err := ns.Routez(nil)
	if err != nil {
		return 0
	}
	peers := map[string]bool{}
	for _, r := range rz.Routes {
		peers[r.RemoteName] = true
	}
	return len(peers)
}

func (m *Member) shutdown() {
	m.log.Info("shutting down: handing over bus leadership")
	m.undo.run()
	m.log.Info("stopped")
}
