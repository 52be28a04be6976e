package lrm

// Meta-data: what each agent declares, asked once per agent when a
// resource of it is first probed here. Operations with no timeout
// configured take the agent's; a parameter change of a running resource
// that the agent declares reloadable is applied by its reload.

import (
	"context"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// metaDataTimeout bounds one agent's meta-data call (it may launch the
// plugin).
const metaDataTimeout = 5 * time.Second

// loadMetaData asks the agents of rs not asked yet for their meta-data.
// An agent that does not answer is asked again at its next probe; until
// then its operations take DefaultTimeout and parameter changes wait for
// a restart.
func (l *LRM) loadMetaData(rs []cib.Resource) {
	if l.cfg.MetaData == nil {
		return
	}
	for _, r := range rs {
		if _, ok := l.metaData(r.Agent); ok || r.Agent == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), metaDataTimeout)
		md, err := l.cfg.MetaData(ctx, r.Agent)
		cancel()
		if err != nil {
			l.log.Warn("no meta-data: default timeouts, and parameter changes only by restart", "agent", r.Agent, "err", err)
			continue
		}
		l.metaMu.Lock()
		if l.metas == nil {
			l.metas = map[string]sdk.MetaData{}
		}
		l.metas[r.Agent] = md
		l.metaMu.Unlock()
	}
}

// PluginInstalled loads the meta-data of the agents of plugin (found in
// the plugin dir while the node runs) for the resources configured with
// them: a resource probed before the plugin was here got none, and would
// otherwise wait for its next probe.
func (l *LRM) PluginInstalled(plugin string) {
	live := l.cfg.Live()
	if live.CIB == nil {
		return
	}
	var rs []cib.Resource
	for _, r := range live.CIB.Resources {
		if name, _, _ := strings.Cut(r.Agent, ":"); name == plugin {
			rs = append(rs, r)
		}
	}
	l.mu.Lock()
	if l.closed || len(rs) == 0 {
		l.mu.Unlock()
		return
	}
	l.wg.Add(1)
	l.mu.Unlock()
	go func() {
		defer l.wg.Done()
		l.loadMetaData(rs)
	}()
}

func (l *LRM) metaData(agent string) (sdk.MetaData, bool) {
	l.metaMu.Lock()
	defer l.metaMu.Unlock()
	md, ok := l.metas[agent]
	return md, ok
}

// opTimeout is op's timeout: the configured one, else the agent's
// meta-data's, else DefaultTimeout (a probe and a reload without one of
// their own use the monitor's and start's settings as Pacemaker does for
// probes).
func (l *LRM) opTimeout(r cib.Resource, op string) time.Duration {
	name := op
	if op == bus.OpProbe {
		name = bus.OpMonitor
	}
	if o, ok := r.Op(name); ok && o.Timeout > 0 {
		return o.Timeout
	}
	if md, ok := l.metaData(r.Agent); ok {
		if a, ok := md.Action(name); ok && a.Timeout > 0 {
			return a.Timeout
		}
	}
	return DefaultTimeout
}

// reloadable says whether the parameters of running entry e can change to
// those of def by the agent's reload.
func (l *LRM) reloadable(e *entry, def cib.Resource) (bool, string) {
	md, ok := l.metaData(def.Agent)
	if !ok {
		return false, "the agent's meta-data is not known here"
	}
	return md.Reloadable(e.def.Params, def.Params)
}

// reload applies def's parameters to running entry e by the agent's
// reload. Success makes them the parameters e runs with (reported, so
// `resource update` sees it); a failure counts as one and leaves e
// failed, for the coordinator to recover (stop with the old parameters,
// start with the new).
func (l *LRM) reload(e *entry, def cib.Resource) {
	l.mu.Lock()
	key := "reload/" + e.key
	l.mu.Unlock()
	defer func() {
		l.setBusy(key, "")
		// The configuration may have changed again meanwhile.
		l.ConfigChanged()
	}()
	l.mu.Lock()
	idx := -1
	if e.clone != "" {
		idx = e.instance
	}
	since := e.since
	l.mu.Unlock()
	// No monitor runs with the old parameters while the agent reloads,
	// nor after, until the monitors restart with the new ones: a monitor
	// that checks a reloadable parameter would report a false failure.
	unlock, err := l.locks.Hold(context.Background(), def.ID, idx)
	if err != nil {
		return
	}
	defer unlock()
	req := sdk.Request{ResourceID: def.ID, Params: def.Params, Instance: sdk.Instance{Node: l.cfg.Node, CloneIndex: idx}, Cluster: l.View()}
	out := l.cfg.Runner.Run(context.Background(), def.Agent, bus.OpReload, req, l.opTimeout(def, bus.OpReload))
	if out.Code == sdk.OK && !out.TimedOut {
		l.mu.Lock()
		applied := e.state == bus.StateStarted && e.since.Equal(since)
		var holds []*holdSender
		if applied {
			e.def.Params = def.Params
			holds = []*holdSender{e.hold, e.promoHold}
			l.changed()
		}
		l.mu.Unlock()
		if applied {
			// The holds speak for the resource as it runs now; the next
			// renewal (within a quarter of the lease TTL) sends them.
			for _, h := range holds {
				if h != nil {
					h.setParams(def.Params)
				}
			}
			// The monitors restart with the new parameters before the
			// instance is let go (Set cancels the old ones; one waiting
			// for the instance gives up).
			l.mons.Set(l.monitorSpecs())
		}
		l.log.Info("reloaded with new parameters", "resource", def.ID, "message", out.Message)
		_ = l.cfg.Conn.Publish(bus.LogEvent{Node: l.cfg.Node, Level: "info", Message: "reloaded " + def.ID + " on " + l.cfg.Node + " with its new parameters"})
		return
	}
	msg := "reload: " + out.Message
	if out.TimedOut {
		msg = "reload timed out: " + out.Message
	}
	l.log.Warn("reload failed", "resource", def.ID, "code", out.Code.String(), "message", out.Message, "timed_out", out.TimedOut)
	l.countFailure(l.failureName(def.ID, idx), bus.OpReload, msg, false)
	l.mu.Lock()
	if e.state == bus.StateStarted && e.since.Equal(since) {
		l.setState(e, bus.StateFailed, msg)
	}
	l.mu.Unlock()
}
