package lrm

// Reports: what this node runs, as it publishes it and as its agents see
// the cluster (the view), and the notifications that keep them current.

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/executor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Report is what this node runs now.
func (l *LRM) Report() bus.NodeResources {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reportLocked()
}

func (l *LRM) reportLocked() bus.NodeResources {
	r := bus.NodeResources{Node: l.cfg.Node, Incarnation: l.cfg.Incarnation, Seq: l.seq, ConfigRev: l.configRev, Probed: true}
	live := l.cfg.Live()
	if live.CIB == nil {
		r.Probed = false
	} else {
		for _, rs := range live.CIB.Resources {
			if !l.probed[rs.ID] {
				r.Probed = false
			}
		}
	}
	for _, b := range l.busy {
		r.Busy = append(r.Busy, b)
	}
	sort.Strings(r.Busy)
	keys := make([]string, 0, len(l.entries))
	for k := range l.entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := l.entries[k]
		if e.state == bus.StateUnknown {
			continue
		}
		r.Resources = append(r.Resources, bus.ResourceState{Resource: e.id, Clone: e.clone, Instance: e.instance,
			State: e.state, Since: e.since, Message: e.message, Warning: e.warning, Params: cib.ParamsDigest(e.def.Params),
			Role: e.role, PromotionScore: e.score})
		if e.state == bus.StateBlocked {
			r.Resources[len(r.Resources)-1].BlockedDef = e.blocked
		}
	}
	return r
}

func (l *LRM) publishReport() {
	l.mu.Lock()
	l.seq++
	r := l.reportLocked()
	l.reports[l.cfg.Node] = r
	l.reportsVer++
	l.mu.Unlock()
	if err := l.cfg.Conn.Publish(r); err != nil {
		l.log.Debug("report not published", "err", err)
	}
}

// monitorSpecs are the recurring monitors of what is started here.
func (l *LRM) monitorSpecs() []executor.MonitorSpec {
	l.mu.Lock()
	defer l.mu.Unlock()
	var specs []executor.MonitorSpec
	for _, e := range l.entries {
		if e.state != bus.StateStarted {
			continue
		}
		op, ok := e.def.Op(bus.OpMonitor)
		if !ok || op.Interval <= 0 {
			continue
		}
		idx := -1
		if e.clone != "" {
			idx = e.instance
		}
		specs = append(specs, executor.MonitorSpec{Resource: e.id, Clone: e.clone, CloneIndex: idx, Agent: e.def.Agent,
			Params: e.def.Params, Interval: op.Interval, Timeout: l.opTimeout(e.def, bus.OpMonitor)})
	}
	return specs
}

// View is what this node knows of the cluster, for agents. Every action
// and every monitor sends it, so it is built only when the reports or the
// members online changed since the last one (every node's report, each as
// long as its resources: N × R to go through), and shared: callers must
// not change it.
func (l *LRM) View() *sdk.ClusterView {
	names := l.cfg.Online()
	online := map[string]bool{}
	for _, n := range names {
		online[n] = true
	}
	online[l.cfg.Node] = true
	key := strings.Join(names, " ")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.view != nil && l.viewVer == l.reportsVer && l.viewOnline == key {
		return l.view
	}
	v := &sdk.ClusterView{Active: map[string][]string{}}
	for _, n := range l.cfg.Topology.Nodes() {
		v.Nodes = append(v.Nodes, sdk.NodeView{Name: n.Name, Address: n.Address, Online: online[n.Name]})
	}
	for node, r := range l.reports {
		if !online[node] {
			continue
		}
		for _, rs := range r.Resources {
			if rs.State != bus.StateStarted {
				continue
			}
			v.Active[rs.Resource] = append(v.Active[rs.Resource], node)
			if rs.Clone != "" {
				v.Active[rs.Clone] = append(v.Active[rs.Clone], node)
			}
		}
	}
	for k, ns := range v.Active {
		sort.Strings(ns)
		v.Active[k] = slices.Compact(ns)
	}
	l.view, l.viewVer, l.viewOnline = v, l.reportsVer, key
	return v
}

// notifyLoop gives agents the cluster view whenever it changed.
func (l *LRM) notifyLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.notifyWake:
		}
		type target struct {
			def      cib.Resource
			instance int
		}
		var ts []target
		l.mu.Lock()
		for _, e := range l.entries {
			if e.state == bus.StateStarted && !l.noNotify[e.def.Agent] {
				idx := -1
				if e.clone != "" {
					idx = e.instance
				}
				ts = append(ts, target{e.def, idx})
			}
		}
		l.mu.Unlock()
		if len(ts) == 0 {
			// Nothing started here takes notifications: the view (every
			// node's report, each as long as the resources) is not built
			// for nobody. It is built, and compared with the one last
			// given, once a resource that takes them runs here.
			continue
		}
		v := l.View()
		key, _ := json.Marshal(v)
		l.mu.Lock()
		if string(key) == l.notified {
			l.mu.Unlock()
			continue
		}
		l.notified = string(key)
		l.mu.Unlock()
		for _, t := range ts {
			req := sdk.Request{ResourceID: t.def.ID, Params: t.def.Params, Cluster: v,
				Instance: sdk.Instance{Node: l.cfg.Node, CloneIndex: t.instance}}
			out := l.cfg.Runner.Run(ctx, t.def.Agent, bus.OpNotify, req, 5*time.Second)
			switch {
			case out.Code == sdk.ErrUnimplemented:
				l.mu.Lock()
				l.noNotify[t.def.Agent] = true
				l.mu.Unlock()
			case out.Code != sdk.OK:
				l.log.Warn("notify failed", "resource", t.def.ID, "code", out.Code.String(), "message", out.Message)
			default:
				l.log.Debug("notified", "resource", t.def.ID, "message", out.Message)
			}
		}
	}
}
