package daemon

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/coordinator"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/lrm"
	"github.com/tandem-ha/tandem/host/membership"
	"github.com/tandem-ha/tandem/host/supervisor"
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
	wg      sync.WaitGroup
}

// startServices brings up a node's services. It retries what needs the
// bus until ctx ends, so a member that lost quorum again keeps trying.
func (m *Member) startServices(ctx context.Context, pluginDir string) (*services, error) {
	s := &services{}
	s.live.Store(&liveconfig.Revision{})
	var (
		store *liveconfig.Store
		fails *failures.Store
		err   error
	)
	for attempt := 0; ; attempt++ {
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		store, err = liveconfig.Open(octx, m.conn)
		if err == nil {
			fails, err = failures.Open(octx, m.conn)
		}
		if err == nil {
			var rev liveconfig.Revision
			var seeded bool
			rev, seeded, err = store.Seed(octx, m.cfg, m.name)
			if err == nil {
				s.live.Store(&rev)
				if seeded {
					m.log.Info("live configuration seeded from the cluster file", "rev", rev.Rev)
				} else if !sameConfig(rev, m.cfg) {
					m.log.Warn("the live configuration differs from this node's cluster file; the live one is used (see `tandem config show`)", "rev", rev.Rev)
				}
			}
		}
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		m.log.Warn("live configuration not available yet", "err", err)
		time.Sleep(500 * time.Millisecond)
	}
	live := func() liveconfig.Revision { return *s.live.Load() }

	peers := func() []string {
		var ps []string
		if c := live().Config; c != nil {
			for _, n := range c.Nodes {
				if n.Name != m.name {
					ps = append(ps, n.Name)
				}
			}
		}
		return ps
	}
	for {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s.leases, err = lease.NewManager(lctx, lease.Config{Conn: m.conn, Node: m.name, Peers: peers, Logger: m.log})
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		m.log.Warn("lease manager not ready", "err", err)
		time.Sleep(500 * time.Millisecond)
	}

	// Plugins launch when a resource first needs them: a node runs only the
	// plugins its resources use.
	s.sup, err = supervisor.New(supervisor.Config{Dir: pluginDir, Logger: m.log, OnDemand: true})
	if err != nil {
		s.leases.Close()
		return nil, fmt.Errorf("plugins: %w", err)
	}
	if err := s.sup.Start(ctx); err != nil {
		s.leases.Close()
		s.sup.Close()
		return nil, fmt.Errorf("plugins: %w", err)
	}
	m.serveValidate(ctx, s.sup)

	var online func() []string
	var lrmRef atomic.Pointer[lrm.LRM]
	var coordRef atomic.Pointer[coordinator.Coordinator]
	s.members, err = membership.New(m.conn, membership.DefaultDeadAfter, func(ch membership.Change) {
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
		m.log.Info("member "+what, "member", ch.Member, "witness", ch.Witness)
		if ch.Witness {
			return
		}
		if c := coordRef.Load(); c != nil {
			// A node that left takes its actions with it: abort, replan. A
			// node that stops must start nothing more: abort too.
			c.Poke(ch.Member+" "+what, !ch.Online || ch.Rejoined || (ch.StopChanged && ch.Stopped))
		}
		if l := lrmRef.Load(); l != nil {
			l.Notify()
		}
	})
	if err != nil {
		s.leases.Close()
		s.sup.Close()
		return nil, fmt.Errorf("membership: %w", err)
	}
	online = s.members.Online
	tracking := time.Now()
	// Membership is settled once every configured member has been heard
	// from, or after DeadAfter (then the silent ones are offline).
	settled := func() bool {
		if time.Since(tracking) > membership.DefaultDeadAfter {
			return true
		}
		cfg := live().Config
		if cfg == nil {
			return false
		}
		up := map[string]bool{}
		for _, n := range online() {
			up[n] = true
		}
		for _, n := range cfg.Nodes {
			if !up[n.Name] {
				return false
			}
		}
		return cfg.Witness == nil || up[cfg.Witness.Name]
	}

	s.lrm, err = lrm.New(lrm.Config{Conn: m.conn, Node: m.name, Incarnation: m.incarnation, Runner: s.sup, Leases: s.leases,
		Failures: fails, Live: live, Online: online, Logger: m.log})
	if err != nil {
		s.members.Close()
		s.leases.Close()
		s.sup.Close()
		return nil, err
	}
	lrmRef.Store(s.lrm)
	s.coord = coordinator.New(coordinator.Config{Conn: m.conn, Node: m.name, Leases: s.leases, Failures: fails,
		Online: online, Settled: settled, Stopped: s.members.IsStopped, Live: live, Logger: m.log})
	coordRef.Store(s.coord)

	var applyMu sync.Mutex
	apply := func(r liveconfig.Revision) {
		applyMu.Lock()
		defer applyMu.Unlock()
		if r.Rev <= live().Rev {
			return
		}
		s.live.Store(&r)
		m.log.Info("live configuration changed", "rev", r.Rev, "by", r.By, "summary", r.Summary)
		s.lrm.ConfigChanged()
		s.coord.Poke(fmt.Sprintf("configuration rev %d", r.Rev), false)
	}
	if err := store.Watch(ctx, apply); err != nil {
		m.log.Warn("not watching the live configuration", "err", err)
	}
	// The watch is a JetStream consumer, which a leader move can stall for a
	// while; every edit also announces itself on the bus, and a slow poll
	// catches anything else: read the current revision then.
	fetch := func() {
		fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if r, err := store.Current(fctx); err == nil {
			apply(r)
		}
	}
	if sub, err := bus.Subscribe(m.conn, bus.ConfigChanged{}.Subject(), func(ev bus.ConfigChanged, _ bus.Envelope) {
		if ev.Revision > live().Rev {
			go fetch()
		}
	}); err == nil {
		go func() { <-ctx.Done(); _ = sub.Unsubscribe() }()
	}
	go func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				fetch()
			}
		}
	}()

	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.lrm.Run(ctx); err != nil {
			m.log.Error("local resource manager stopped", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.coord.Run(ctx)
	}()
	return s, nil
}

// stop waits for the resource manager to stop what runs here (ctx is
// already done), then closes the rest.
func (s *services) stop() {
	s.wg.Wait()
	s.members.Close()
	s.leases.Close()
	s.sup.Close()
}

// sameConfig says whether the live configuration is the cluster file's.
func sameConfig(rev liveconfig.Revision, c *config.Config) bool {
	data, err := config.Encode(c)
	return err == nil && string(data) == rev.TOML
}

func (s *services) pluginLines() []string {
	var lines []string
	for _, p := range s.sup.Plugins() {
		lines = append(lines, fmt.Sprintf("%s %s", p.Name, p.State))
	}
	return lines
}

func (s *services) daemonStatus() []bus.DaemonStatus {
	var ds []bus.DaemonStatus
	for _, p := range s.sup.Plugins() {
		ds = append(ds, bus.DaemonStatus{Name: "plugin " + p.Name, State: p.String()})
	}
	return ds
}
