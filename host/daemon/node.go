package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/alerts"
	"github.com/tandem-ha/tandem/host/coordinator"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/lrm"
	"github.com/tandem-ha/tandem/host/membership"
	"github.com/tandem-ha/tandem/host/metrics"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/host/tickets"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// services are what a node runs once the bus has quorum: the live
// configuration, membership, leases, plugins, the local resource manager
// and its bid for coordinator.
type services struct {
	live    atomic.Pointer[liveconfig.Revision]
	members *membership.Tracker
	leases  *lease.Manager
	sup     *supervisor.Supervisor
	lrm     *lrm.LRM
	coord   *coordinator.Coordinator
	running sync.WaitGroup // the resource manager, the coordinator and the configuration follower
	undo    undoStack      // closes what was built, in reverse
	changes atomic.Uint64  // membership changes seen
	alerts  *alerts.Manager
	metrics *metrics.Recorder
	// The tenure and the tracker's version of the last view a heartbeat
	// carried, whole or as a stamp (view), under viewMu.
	viewMu                 sync.Mutex
	viewToken, viewVersion uint64
	// settled says whether membership has listened long enough to know
	// who is online (the coordinator plans only then; a view is sent
	// only then).
	settled func() bool
}

// view is the membership view this node's heartbeat number seq carries,
// whole or as a stamp: none unless it coordinates and its membership is
// settled (a view of a tracker just started would tell the plain members
// that the members not heard yet left); else as viewToSend says.
func (s *services) view(seq uint64) (*bus.MembershipView, *bus.ViewStamp) {
	if s.coord == nil {
		return nil, nil
	}
	token, ok := s.coord.Tenure()
	if !ok || !s.settled() {
		return nil, nil
	}
	online, version := s.members.View()
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	whole, stamp := viewToSend(seq, token, version, s.viewToken, s.viewVersion, s.members.TakeStamps)
	s.viewToken, s.viewVersion = token, version
	switch {
	case whole:
		return &bus.MembershipView{Token: token, Version: version, Online: online}, nil
	case stamp:
		return nil, &bus.ViewStamp{Token: token, Version: version}
	}
	return nil, nil
}

// viewToSend says what the coordinator's heartbeat number seq carries of
// its view (tenure token, version) when the last one carried was (sentToken,
// sentVersion): the view whole when it changed or the tenure is new, and
// at least once a second (every fourth heartbeat) for the plain members
// that missed one; but while every online member takes stamps
// (takeStamps), the whole view only every 4 s (every sixteenth, before a
// plain member's fallback of 5 s: one that missed a change gets it then)
// and a stamp the other seconds, which keeps the view a member has fresh.
// That makes the view's bytes at rest, N entries to N members, a quarter.
func viewToSend(seq, token, version, sentToken, sentVersion uint64, takeStamps func() bool) (whole, stamp bool) {
	switch {
	case token != sentToken || version != sentVersion:
		return true, false
	case seq%4 != 0:
		return false, false
	case seq%16 == 0 || !takeStamps():
		return true, false
	}
	return false, true
}

// startServices brings up a node's services. What needs the bus is retried
// until ctx ends, so a member that lost quorum again keeps trying. On an
// error, whatever was built is taken down again.
func (m *Member) startServices(ctx context.Context) (_ *services, err error) {
	s := &services{metrics: m.metrics}
	defer func() {
		if err != nil {
			s.undo.run()
		}
	}()
	var (
		store *liveconfig.Store
		fails *failures.Store
		tix   *tickets.Store
		rev   liveconfig.Revision
	)
	err = retry(ctx, m.log, "live configuration not available yet", func(ctx context.Context) error {
		var err error
		if store, err = liveconfig.Open(ctx, m.conn); err != nil {
			return err
		}
		if fails, err = failures.Open(ctx, m.conn); err != nil {
			return err
		}
		if tix, err = tickets.Open(ctx, m.conn); err != nil {
			return err
		}
		var seeded bool
		var bad *liveconfig.Revision
		if rev, bad, seeded, err = store.Seed(ctx, m.fileCIB, m.name, m.ranLiveConfig()); err != nil {
			return err
		}
		m.rememberLiveConfig(rev.Rev)
		switch {
		case bad != nil:
			m.log.Error("the current live configuration revision is invalid; running the last valid one (`tandem config rollback REV` or `config apply` replaces it)",
				"rev", bad.Rev, "running", rev.Rev, "err", bad.Invalid)
		case seeded:
			m.log.Info("live configuration seeded from the cluster file", "rev", rev.Rev)
		case !liveconfig.Same(rev.CIB, m.fileCIB):
			m.log.Warn("the live configuration differs from this node's cluster file; the live one is used (see `tandem config show`)", "rev", rev.Rev)
		}
		if !slices.Equal(rev.CIB.NodeNames(), m.top.NodeNames()) {
			m.log.Warn("the live configuration's nodes are not this node's cluster file's: resources are placed on the live configuration's nodes; "+
				"once every member runs with the same file, `tandem config apply` it", "live", rev.CIB.NodeNames(), "file", m.top.NodeNames())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.live.Store(&rev)
	live := func() liveconfig.Revision { return *s.live.Load() }

	// The nodes that could take a lease this node holds: every other node
	// of the bus.
	var peers []string
	for _, n := range m.top.NodeNames() {
		if n != m.name {
			peers = append(peers, n)
		}
	}
	// The membership tracker, once there is one: a lease is acquired only
	// while every member keeps leases the same way (lease.Config.Mixed).
	var tracker atomic.Pointer[membership.Tracker]
	var voters []string
	for _, v := range m.top.Voters() {
		voters = append(voters, v.Name)
	}
	leaseConn, err := m.dial()
	if err != nil {
		return nil, err
	}
	s.undo.push(leaseConn.Close)
	err = retry(ctx, m.log, "lease manager not ready", func(ctx context.Context) error {
		var err error
		s.leases, err = lease.NewManager(ctx, lease.Config{Conn: leaseConn, Node: m.name, Peers: func() []string { return peers }, Logger: m.log,
			Renewed: s.metrics.LeaseRenewed, Grants: m.top.Leases == bus.LeasesGrants, Voters: func() []string { return voters },
			Mixed: func() string {
				if t := tracker.Load(); t != nil {
					return t.LeaseMismatch(m.top.Leases)
				}
				return ""
			}})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.undo.push(s.leases.Close)

	// The plugin supervisor was started with the member (startPlugins);
	// plugins launch when a resource first needs them.
	s.sup = m.sup
	stopValidating, err := m.serveValidate(ctx, s.sup)
	if err != nil {
		m.log.Warn("not answering validation requests", "err", err)
	} else {
		s.undo.push(stopValidating)
	}
	if stopChecking, err := m.serveAlertCheck(); err != nil {
		m.log.Warn("not answering alert checks", "err", err)
	} else {
		s.undo.push(stopChecking)
	}
	stopDescribing, err := m.serveMetaData(ctx, s.sup)
	if err != nil {
		m.log.Warn("not answering meta-data requests", "err", err)
	} else {
		s.undo.push(stopDescribing)
	}

	// Alerts run beside everything else and are closed last, after the
	// resource manager's stops on the way down were alerted.
	s.alerts = alerts.New(alerts.Config{Node: m.name, Version: m.build, Logger: m.log, Alerts: func() []cib.Alert {
		if c := s.live.Load().CIB; c != nil {
			return c.Alerts
		}
		return nil
	}})
	s.undo.push(func() {
		ctx, cancel := context.WithTimeout(context.Background(), alertDrain)
		defer cancel()
		s.alerts.Close(ctx)
	})
	m.checkAlerts(rev)

	// Membership calls back into the coordinator and the resource manager,
	// which are built after it.
	var coordRef atomic.Pointer[coordinator.Coordinator]
	// Each followed member's heartbeats come on a connection of their
	// own. A voter (a member that may coordinate) follows every member; a
	// plain member only the voters and itself, and learns the others from
	// the view in the coordinator's heartbeats: at rest, heartbeats are
	// delivered voters × members times twice, not members² times.
	// A plain member with no view for membership.DefaultFallback (an
	// older coordinator sends none; none at all without quorum) follows
	// every member until a view comes: those connections are made then.
	var hbMu sync.Mutex
	hbConns := map[string]*bus.Conn{}
	s.undo.push(func() {
		hbMu.Lock()
		defer hbMu.Unlock()
		for _, c := range hbConns {
			c.Close()
		}
	})
	hbConn := func(member string) *bus.Conn {
		hbMu.Lock()
		defer hbMu.Unlock()
		if c := hbConns[member]; c != nil {
			return c
		}
		c, err := m.dial()
		if err != nil {
			m.log.Warn("no connection for a member's heartbeats", "peer", member, "err", err)
			return nil
		}
		hbConns[member] = c
		return c
	}
	var memberNames, follow []string
	for _, mem := range m.top.Members {
		memberNames = append(memberNames, mem.Name)
		if m.bystander() && mem.NonVoter && mem.Name != m.name {
			continue
		}
		follow = append(follow, mem.Name)
		if hbConn(mem.Name) == nil {
			return nil, fmt.Errorf("another connection to the bus for %s's heartbeats", mem.Name)
		}
	}
	fallback := time.Duration(0)
	if m.bystander() {
		fallback = membership.DefaultFallback
	}
	if s.members, err = membership.NewFollowing(hbConn, memberNames, follow, membership.DefaultDeadAfter, fallback, func(ch membership.Change) {
		s.changes.Add(1)
		m.memberChanged(ch, coordRef.Load(), m.lrm.Load())
		if !ch.StopChanged {
			s.alerts.Send(alerts.NodeEvent(ch.Member, m.nodeID(ch.Member), ch.Online))
		}
	}); err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	s.undo.push(s.members.Close)
	tracker.Store(s.members)
	online := s.members.Online
	tracking := time.Now()
	// Membership is settled once every member of the bus has been heard
	// from, or after DeadAfter (then the silent ones are offline).
	settled := func() bool {
		if time.Since(tracking) > membership.DefaultDeadAfter {
			return true
		}
		up := map[string]bool{}
		for _, n := range online() {
			up[n] = true
		}
		for _, mem := range m.top.Members {
			if !up[mem.Name] {
				return false
			}
		}
		return true
	}
	s.settled = settled

	if s.lrm, err = lrm.New(lrm.Config{Conn: m.conn, Node: m.name, Incarnation: m.incarnation, Runner: s.sup, Leases: s.leases,
		Failures: fails, Live: live, Topology: m.top, Online: online, Logger: m.log, Alert: s.alerts.Send,
		MetaData: func(ctx context.Context, agent string) (sdk.MetaData, error) {
			return s.sup.MetaData(ctx, agent, metaDataTimeout)
		}}); err != nil {
		return nil, err
	}
	m.lrm.Store(s.lrm)
	s.coord = coordinator.New(coordinator.Config{Conn: m.conn, Node: m.name, Leases: s.leases, Failures: fails, Tickets: tix,
		Online: online, Settled: settled, Stopped: s.members.IsStopped, Live: live, Logger: m.log,
		Finished: s.metrics.TransitionFinished, Bystander: m.bystander()})
	coordRef.Store(s.coord)

	followed := store.Follow(ctx, rev.Rev, func(r liveconfig.Revision) {
		prev := s.live.Swap(&r)
		m.log.Info("live configuration changed", "rev", r.Rev, "by", r.By, "summary", r.Summary)
		if r.CIB != nil && (prev == nil || prev.CIB == nil || !slices.EqualFunc(prev.CIB.Alerts, r.CIB.Alerts, sameAlert)) {
			m.checkAlerts(r)
		}
		s.lrm.ConfigChanged()
		s.coord.Poke(fmt.Sprintf("configuration rev %d", r.Rev), false)
	}, m.log)

	if addr := m.top.Metrics.Listen; addr != "" {
		stop, err := metrics.Serve(addr, m.metricsSource(s, fails), m.log)
		if err != nil {
			// Monitoring must not keep a node from running resources.
			m.log.Error("metrics not served", "err", err)
		} else {
			s.undo.push(stop)
		}
	}

	s.running.Add(3)
	go func() {
		defer s.running.Done()
		<-followed
	}()
	go func() {
		defer s.running.Done()
		if err := s.lrm.Run(ctx); err != nil {
			m.log.Error("local resource manager stopped", "err", err)
		}
	}()
	go func() {
		defer s.running.Done()
		s.coord.Run(ctx)
	}()
	return s, nil
}

// bystander says whether this node is a plain member (not a voter): it
// never coordinates and follows only the voters' heartbeats.
func (m *Member) bystander() bool { return m.server.Member().NonVoter }

// memberChanged logs a change of membership and tells the coordinator (a
// node that left takes its actions with it: abort, replan; a node that
// stops must start nothing more: abort too) and the resource manager.
func (m *Member) memberChanged(ch membership.Change, coord *coordinator.Coordinator, l *lrm.LRM) {
	what := "left"
	switch {
	case ch.StopChanged && ch.Stopped:
		what = "stopped its resources (cluster stop)"
	case ch.StopChanged:
		what = "started its resources again (cluster start)"
	case ch.Online && ch.Rejoined:
		what = "restarted"
	case ch.Online:
		what = "joined"
	}
	m.log.Info("member "+what, "peer", ch.Member, "witness", ch.Witness)
	if ch.Witness {
		return
	}
	switch {
	case coord == nil:
	case !ch.Online && ch.Stopped:
		coord.PokeLeft(ch.Member+" "+what+" (its resources stopped)", ch.Member)
	default:
		coord.Poke(ch.Member+" "+what, !ch.Online || ch.Rejoined || (ch.StopChanged && ch.Stopped))
	}
	if l != nil {
		l.Notify()
	}
}

// alertDrain bounds how long a stopping member lets queued alerts run.
const alertDrain = 10 * time.Second

// nodeID is member's CRM_alert_nodeid: its position among the members of
// the cluster file, from 1.
func (m *Member) nodeID(member string) int {
	for i, mem := range m.top.Members {
		if mem.Name == member {
			return i + 1
		}
	}
	return 0
}

// checkAlerts logs, naming the alert, each agent of rev this host cannot
// run (missing, not executable): the configuration is the cluster's, the
// files are each host's.
func (m *Member) checkAlerts(rev liveconfig.Revision) {
	if rev.CIB == nil {
		return
	}
	for _, a := range rev.CIB.Alerts {
		if a.Path == "" {
			continue
		}
		if err := alerts.CheckPath(a.ID, a.Path); err != nil {
			m.log.Error("alert agent cannot run on this node", "rev", rev.Rev, "err", err)
		}
	}
}

func sameAlert(a, b cib.Alert) bool { return a.ID == b.ID && a.Path == b.Path }

// startPlugins starts the node's plugin supervisor, before the bus has
// quorum: a plugin dir that cannot be read fails the start (and no READY
// goes to systemd). Plugins
// launch when a resource first needs them: a node runs only the plugins
// its resources use. One installed while the node runs is found by the
// supervisor's rescan, and its agents' meta-data loaded once the resource
// manager runs.
func (m *Member) startPlugins() error {
	newPlugin := func(name string) {
		if l := m.lrm.Load(); l != nil {
			l.PluginInstalled(name)
		}
	}
	sup, err := supervisor.New(supervisor.Config{Dir: m.pluginDir, Logger: m.log, OnDemand: true, OnNewPlugin: newPlugin,
		Observe: func(agent, op string, o supervisor.Outcome) { m.metrics.PluginCall(agent, op, o.Duration, o.TimedOut) }})
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	m.undo.push(sup.Close)
	// OnDemand: Start launches nothing, so it waits for nothing.
	if err := sup.Start(context.Background()); err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	m.sup = sup
	return nil
}

// stop waits for the resource manager to stop what runs here (ctx is
// already done) and for the coordinator and the follower to end, then
// closes the rest.
func (s *services) stop() {
	s.running.Wait()
	s.undo.run()
}

func (s *services) pluginLines() []string {
	var lines []string
	for _, p := range s.sup.Plugins() {
		lines = append(lines, fmt.Sprintf("%s %s", p.Name, p.State))
	}
	return lines
}

func (s *services) counters() *bus.Counters {
	return &bus.Counters{MembershipChanges: s.changes.Load(), ForgedHeartbeats: s.members.Forged(), LeasesLost: s.leases.LostCount(),
		FencedPlans: s.lrm.Fenced()}
}

func (s *services) daemonStatus() []bus.DaemonStatus {
	var ds []bus.DaemonStatus
	for _, p := range s.sup.Plugins() {
		ds = append(ds, bus.DaemonStatus{Name: "plugin " + p.Name, State: p.String()})
	}
	return ds
}

// metricsSource is where a scrape of this node's /metrics reads.
func (m *Member) metricsSource(s *services, fails *failures.Store) metrics.Source {
	var voters, members []string
	for _, mem := range m.top.Members {
		members = append(members, mem.Name)
		if !mem.NonVoter {
			voters = append(voters, mem.Name)
		}
	}
	return metrics.Source{
		Member:  m.name,
		Voters:  voters,
		Members: members,
		Online:  s.members.Online,
		Node:    s.lrm.Report,
		Fails: func(ctx context.Context) ([]metrics.Failure, error) {
			recs, err := fails.List(ctx)
			out := make([]metrics.Failure, 0, len(recs))
			for _, r := range recs {
				out = append(out, metrics.Failure{Resource: r.Resource, Node: r.Node, Op: r.Op, Count: r.Count})
			}
			return out, err
		},
		Holder: func(ctx context.Context) (string, error) {
			t, err := s.leases.Tenure(ctx, lease.CoordinatorKey)
			if errors.Is(err, lease.ErrNoHolder) {
				return "", nil // between two coordinators
			}
			return t.Node, err
		},
		Fenced: s.lrm.Fenced,
		RTT:    m.conn.NC.RTT,
		Alerts: func() (uint64, uint64, uint64) {
			return s.alerts.Ran(), s.alerts.Failed(), s.alerts.Dropped()
		},
		Recorder: s.metrics,
	}
}
