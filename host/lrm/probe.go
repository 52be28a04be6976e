package lrm

// Probes: what already runs here when a resource is first configured (or
// this node starts), found with a one-off monitor before anything is acted on.

import (
	"context"
	"fmt"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/executor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// ConfigChanged makes the LRM read the live configuration again: new
// resources are probed, definitions of stopped ones updated.
func (l *LRM) ConfigChanged() {
	live := l.cfg.Live()
	if live.CIB == nil {
		return
	}
	var toProbe []probeTarget
	type reloadJob struct {
		e   *entry
		def cib.Resource
	}
	var toReload []reloadJob
	l.mu.Lock()
	l.configRev = live.Rev
	configured := map[string]bool{}
	for i := range live.CIB.Resources {
		r := live.CIB.RunAs(&live.CIB.Resources[i])
		configured[r.ID] = true
		for _, e := range l.entriesOf(r.ID) {
			if e.idle() && (e.key != r.ID) != perInstance(r) {
				// Stopped under the key of the other way of running its
				// instances (apart, or as the resource's one entry) than
				// its clone runs them now: dropped.
				delete(l.entries, e.key)
				continue
			}
			if e.idle() {
				e.def = r
				if r.Clone != nil {
					e.clone = r.Clone.ID
				} else {
					e.clone = ""
				}
			} else if l.stopChangedKind(e, r) {
				// Stopped as it runs (now, or once the start or stop in
				// flight is done); its new definition is recorded once it is
				// stopped.
			} else if e.def.Agent == r.Agent {
				// Running: operations (monitor interval, timeouts) and meta
				// apply at once; parameters by the agent's reload when it
				// declares them reloadable, else only from the next start (the
				// running instance was started with the old ones; `resource
				// update` restarts it).
				params := e.def.Params
				if e.state == bus.StateStarted && cib.ParamsDigest(params) != cib.ParamsDigest(r.Params) && l.busy["reload/"+e.key] == "" {
					if ok, why := l.reloadable(e, r); ok {
						l.busy["reload/"+e.key] = "reload " + e.key
						toReload = append(toReload, reloadJob{e, r})
					} else {
						l.log.Info("parameters changed; the running instance keeps the old ones until it restarts", "resource", e.key, "why", why)
					}
				}
				e.def = r
				e.def.Params = params
				l.demoteUnpromotable(e, r)
			}
		}
		if !l.probed[r.ID] && l.busy["probe/"+r.ID] == "" {
			toProbe = append(toProbe, probeTarget{def: r, idx: -1, busy: "probe/" + r.ID})
			l.busy["probe/"+r.ID] = "probe " + r.ID
		}
	}
	for id := range l.probed {
		if !configured[id] {
			delete(l.probed, id) // probed again if it comes back
		}
	}
	l.mu.Unlock()
	l.changed()
	for _, j := range toReload {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.reload(j.e, j.def)
		}()
	}
	if len(toProbe) == 0 {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.probe(toProbe)
	}()
}

// onRefresh probes again the blocked resources a cleanup names (`tandem
// resource cleanup [ID] [--node N]`): the admin says the cause of the
// failed stop is fixed, and what the probe finds (running, stopped) is
// what the coordinator plans from next. Resources no longer configured
// are probed with the definition they were last acted on with.
func (l *LRM) onRefresh(r bus.Refresh) {
	if (r.Node != "" && r.Node != l.cfg.Node) || r.Ticket != "" {
		return
	}
	var rs []probeTarget
	l.mu.Lock()
	for k, e := range l.entries {
		if e.state != bus.StateBlocked || !refreshNames(r.Resource, k, e) || l.busy["probe/"+k] != "" || e.def.Agent == "" {
			continue
		}
		t := probeTarget{def: e.def, idx: -1, busy: "probe/" + k}
		if k != e.id {
			t.idx = e.instance // that instance, and no other
		}
		rs = append(rs, t)
		l.busy[t.busy] = "probe " + k
	}
	l.mu.Unlock()
	if len(rs) == 0 {
		return
	}
	l.log.Info("cleanup: probing blocked resources again", "count", len(rs), "reason", r.Reason)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.probe(rs)
	}()
}

// refreshNames says whether a Refresh for resource ("": every resource)
// is for entry e (key k): its primitive, or, as `cleanup RSC:N` names one
// instance of a globally-unique clone, that instance (kept apart under
// that key, or the one this node runs).
func refreshNames(resource, k string, e *entry) bool {
	switch {
	case resource == "" || resource == e.id || resource == k:
		return true
	case e.def.Clone != nil && e.def.Clone.GloballyUnique:
		return resource == instKey(e.id, e.instance)
	}
	return false
}

// probeTarget is a resource to probe: idx -1 finds its instance here (a
// primitive; a clone's one instance: probeIndex; every instance of a clone
// whose instances run apart, perInstance), else that instance. busy is the
// key it is busy under meanwhile.
type probeTarget struct {
	def  cib.Resource
	idx  int
	busy string
}

// probe runs a one-off monitor of each resource, all in parallel, and
// records what they found.
func (l *LRM) probe(ts []probeTarget) {
	rs := make([]cib.Resource, 0, len(ts))
	for _, t := range ts {
		rs = append(rs, t.def)
	}
	l.loadMetaData(rs)
	elsewhere := l.instancesElsewhere(rs)
	t := executor.Transition{ID: fmt.Sprintf("probe-%s-%d", l.cfg.Node, time.Now().UnixNano())}
	for _, pt := range ts {
		r := pt.def
		if r.Clone != nil && (pt.idx >= 0 || perInstance(r)) {
			// Every instance no other node reports, each under its own
			// entry: several may run here.
			idxs := []int{pt.idx}
			if pt.idx < 0 {
				idxs = l.freeIndexes(r, elsewhere[r.ID])
			}
			l.mu.Lock()
			for _, i := range idxs {
				k := instKey(r.ID, i)
				if _, ok := l.entries[k]; !ok {
					l.putLocked(k, l.newEntry(r, i))
				}
				t.Actions = append(t.Actions, l.action(r, "probe/"+k, bus.OpProbe, i))
			}
			l.mu.Unlock()
			continue
		}
		idx := -1
		if r.Clone != nil {
			idx = l.probeIndex(r, elsewhere[r.ID])
		}
		l.mu.Lock()
		if e, ok := l.entries[r.ID]; !ok {
			l.putLocked(r.ID, l.newEntry(r, idx))
		} else if r.Clone != nil {
			e.instance = idx
		}
		l.mu.Unlock()
		t.Actions = append(t.Actions, l.action(r, "probe/"+r.ID, bus.OpProbe, idx))
	}
	reports, err := l.exec.Execute(context.Background(), t)
	if err != nil {
		l.log.Error("probe", "err", err)
	}
	l.mu.Lock()
	for _, pt := range ts {
		delete(l.busy, pt.busy)
	}
	for _, rep := range reports {
		if rep.Ran {
			l.probed[rep.Action.Resource] = true
		}
	}
	l.mu.Unlock()
	l.changed()
}

// freeIndexes are the instances of clone r that no other node reports
// (elsewhere), all of which are probed here when they run apart.
func (l *LRM) freeIndexes(r cib.Resource, elsewhere map[int]string) []int {
	n := r.Clone.Max
	if n <= 0 {
		n = len(l.cfg.Topology.Nodes())
	}
	var free []int
	for i := 0; i < n; i++ {
		if _, taken := elsewhere[i]; !taken {
			free = append(free, i)
		}
	}
	return free
}

// instancesElsewhere says which instances of the clones among rs other
// nodes report (running, or in any state but stopped), by resource and
// clone index: what this node may find through shared storage but must not
// adopt. It asks the other nodes (up to 1 s; a node that is down does not
// answer) and adds what they last published.
func (l *LRM) instancesElsewhere(rs []cib.Resource) map[string]map[int]string {
	clones := map[string]bool{}
	for _, r := range rs {
		if r.Clone != nil {
			clones[r.ID] = true
		}
	}
	if len(clones) == 0 {
		return nil
	}
	out := map[string]map[int]string{}
	add := func(rep nodeBrief) {
		if rep.head.Node == l.cfg.Node {
			return
		}
		for _, rs := range rep.active {
			if !clones[rs.Resource] || rs.State == bus.StateStopped {
				continue
			}
			if out[rs.Resource] == nil {
				out[rs.Resource] = map[int]string{}
			}
			out[rs.Resource][rs.Instance] = rep.head.Node
		}
	}
	_ = bus.Gather(l.cfg.Conn, bus.SubjectStateRequest, nil, len(l.cfg.Topology.Nodes())-1, time.Second, func(data []byte) bool {
		rep, ok := l.readBrief(data)
		if !ok || rep.head.Node == l.cfg.Node {
			return false
		}
		add(rep)
		return true
	})
	l.lockReports()
	defer l.mu.Unlock()
	for _, rep := range l.reports {
		add(rep)
	}
	return out
}

// probeIndex is the clone index clone r is probed under on this node. A
// node runs one instance, but it may be any of them (the one it ran before
// this host restarted): each index that no other node reports is looked
// at, the one already here first, and the first found running is the
// one; with none running, the first free index. An index another node
// reports is never probed: its instance, seen through shared storage, is
// not this node's to adopt. A blocked instance (a cleanup probes it again)
// keeps its index.
func (l *LRM) probeIndex(r cib.Resource, elsewhere map[int]string) int {
	n := r.Clone.Max
	if n <= 0 {
		n = len(l.cfg.Topology.Nodes())
	}
	pref := 0
	l.mu.Lock()
	if e, ok := l.entries[r.ID]; ok {
		if e.state == bus.StateBlocked {
			l.mu.Unlock()
			return e.instance
		}
		pref = e.instance
	}
	l.mu.Unlock()
	var free []int
	if _, taken := elsewhere[pref]; !taken && pref < max(n, 1) {
		free = append(free, pref)
	}
	for i := 0; i < n; i++ {
		if _, taken := elsewhere[i]; !taken && i != pref {
			free = append(free, i)
		}
	}
	if len(free) == 0 {
		// Every instance is another node's: probe past them, where
		// nothing of this node's can be confused with theirs.
		return n
	}
	if len(free) == 1 {
		return free[0]
	}
	for _, i := range free {
		req := sdk.Request{ResourceID: r.ID, Params: r.Params, Instance: sdk.Instance{Node: l.cfg.Node, CloneIndex: i}}
		if out := l.cfg.Runner.Run(context.Background(), r.Agent, bus.OpProbe, req, l.opTimeout(r, bus.OpProbe)); running(out.Code, out.TimedOut) {
			return i
		}
	}
	return free[0]
}

// putLocked records e under key k (l.mu held).
func (l *LRM) putLocked(k string, e *entry) {
	e.key = k
	l.entries[k] = e
}

func (l *LRM) newEntry(r cib.Resource, idx int) *entry {
	e := &entry{id: r.ID, def: r, instance: max(idx, 0), state: bus.StateUnknown, since: time.Now()}
	if r.Clone != nil {
		e.clone = r.Clone.ID
	}
	return e
}

// action builds an executor action for resource r on this node.
func (l *LRM) action(r cib.Resource, id, op string, idx int) executor.Action {
	a := executor.Action{ID: id, Resource: r.ID, CloneIndex: -1, Node: l.cfg.Node, Agent: r.Agent, Op: op,
		Params: r.Params, Timeout: l.opTimeout(r, op)}
	if r.Clone != nil {
		a.Clone, a.CloneIndex = r.Clone.ID, max(idx, 0)
	}
	return a
}
