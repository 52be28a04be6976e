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
	l.reports[l.cfg.Node] = briefOf(r)
	delete(l.pending, l.cfg.Node) // an earlier process's report, in flight: this one is newer
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

// pendingReport is a node's report as it came, not decoded yet.
type pendingReport struct {
	data []byte
	head bus.ReportHeader
	ver  uint64 // reportsVer when it came: tells it from a newer one
}

func reportHeader(r bus.NodeResources) bus.ReportHeader {
	return bus.ReportHeader{Node: r.Node, Incarnation: r.Incarnation, Seq: r.Seq}
}

// nodeBrief is a node's report as this node keeps it: its header and the
// resources it runs, those not stopped (bus.NodeResources.Active). That is
// all this node needs of another's report.
type nodeBrief struct {
	head   bus.ReportHeader
	active []bus.ActiveResource
}

func briefOf(r bus.NodeResources) nodeBrief {
	return nodeBrief{head: reportHeader(r), active: r.Brief()}
}

// readBrief reads a report's brief from data: from its Active when it has
// one (its other resources are not read), otherwise (an older build's
// report) from the whole report, decoded.
func (l *LRM) readBrief(data []byte) (nodeBrief, bool) {
	if p, ok := bus.PeekNodeResources(data); ok && p.Brief {
		return nodeBrief{head: p.ReportHeader, active: p.Active}, true
	}
	return l.decodeBrief(data)
}

// decodeBrief decodes the whole report in data, counted as tried, and
// makes its brief (ok is false when it does not decode): for a report
// of an older build, which has none.
func (l *LRM) decodeBrief(data []byte) (nodeBrief, bool) {
	l.decodes.Add(1)
	r, _, err := bus.Decode[bus.NodeResources](data)
	if err != nil {
		return nodeBrief{}, false
	}
	return briefOf(r), true
}

// onReport takes a node's report from the bus. Every node publishes one on
// every change, each as long as the resources it has probed, and this
// node needs the others' only for its agents' cluster view and its clone
// indexes, and of them only the resources not stopped: the report's brief
// (bus.NodeResources.Active), which comes right after its header and is
// all that is read of it (bus.PeekNodeResources). So a member's reports
// cost the others in proportion to what it runs, not to every resource it
// probed: with 32 members each reporting 256 resources, decoding every
// report in full was a sixth of every member's CPU during a cold start.
//
// A report of an older build (no brief) is kept as it came and decoded
// when the view or the clone indexes want it (settle), so that a burst of
// such reports from a node costs one decode, of the latest, and a report
// a newer one replaced costs none.
//
// Either way the header orders a node's reports: within one incarnation
// of the node, a report older than the one held (a lower sequence
// number) is dropped; a new incarnation's replaces it. This node's own
// reports come back too: it stored each when it published it
// (publishReport).
func (l *LRM) onReport(subject string, data []byte) {
	defer l.Notify()
	p, ok := bus.PeekNodeResources(data)
	h := p.ReportHeader
	var full *nodeBrief
	switch {
	case !ok:
		// Not in the order Encode writes, or not a report this build
		// reads (the state requests come on these subjects too): decode
		// it in full, as before (counted only once it decoded: the
		// state requests are not reports).
		r, _, err := bus.Decode[bus.NodeResources](data)
		if err != nil {
			return
		}
		l.decodes.Add(1)
		b := briefOf(r)
		full, h = &b, b.head
	case p.Brief:
		full = &nodeBrief{head: h, active: p.Active}
	}
	if bus.SubjectState(h.Node) != subject {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if h.Node == l.cfg.Node && h.Incarnation == l.cfg.Incarnation {
		return // stored when published
	}
	var prev bus.ReportHeader
	held := false
	if p, ok := l.pending[h.Node]; ok {
		prev, held = p.head, true
	} else if r, ok := l.reports[h.Node]; ok {
		prev, held = r.head, true
	}
	if held && prev.Incarnation == h.Incarnation && h.Seq < prev.Seq {
		return
	}
	l.reportsVer++
	if full != nil {
		l.reports[h.Node] = *full
		delete(l.pending, h.Node)
		return
	}
	l.pending[h.Node] = pendingReport{data: data, head: h, ver: l.reportsVer}
}

// decodeReport decodes p, a report of an older build that onReport kept:
// ok is false when it does not decode, or not to the header it was kept
// under (it is dropped, as a report that does not decode was on arrival).
func (l *LRM) decodeReport(p pendingReport) (nodeBrief, bool) {
	b, ok := l.decodeBrief(p.data)
	return b, ok && b.head == p.head
}

// settle decodes the reports kept since the last time, outside l.mu (the
// bus's callbacks and the actions need it meanwhile). A report that a newer
// one replaced while it was being decoded is left for the next: the newer
// one's turn.
func (l *LRM) settle() {
	l.decodeMu.Lock()
	defer l.decodeMu.Unlock()
	l.mu.Lock()
	if len(l.pending) == 0 {
		l.mu.Unlock()
		return
	}
	todo := make(map[string]pendingReport, len(l.pending))
	for n, p := range l.pending {
		todo[n] = p
	}
	l.mu.Unlock()
	type result struct {
		r  nodeBrief
		ok bool
	}
	done := make(map[string]result, len(todo))
	for n, p := range todo {
		r, ok := l.decodeReport(p)
		done[n] = result{r, ok}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for n, p := range todo {
		if cur, ok := l.pending[n]; !ok || cur.ver != p.ver {
			continue
		}
		delete(l.pending, n)
		if d := done[n]; d.ok {
			l.reports[n] = d.r
		}
	}
}

// lockReports settles the reports kept, then locks l.mu and decodes what
// came meanwhile: every report is then decoded. The caller unlocks l.mu.
func (l *LRM) lockReports() {
	l.settle()
	l.mu.Lock()
	l.decodeLocked()
}

// decodeLocked decodes what came since settle (l.mu held): the reports are
// then all decoded.
func (l *LRM) decodeLocked() {
	for n, p := range l.pending {
		delete(l.pending, n)
		if r, ok := l.decodeReport(p); ok {
			l.reports[n] = r
		}
	}
}

// View is what this node knows of the cluster, for agents. Every action
// and every monitor sends it, so it is built only when the reports or the
// members online changed since the last one (every node's report, each as
// long as its resources: N × R to go through), and shared: callers must
// not change it. The other nodes' reports that came since the last one are
// decoded here, each node's latest only (onReport).
func (l *LRM) View() *sdk.ClusterView {
	names := l.cfg.Online()
	online := map[string]bool{}
	for _, n := range names {
		online[n] = true
	}
	online[l.cfg.Node] = true
	key := strings.Join(names, " ")
	l.lockReports()
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
		for _, rs := range r.active {
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
