package policies

import (
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

// cibXML renders a Tandem configuration and state as a Pacemaker CIB that
// crm_simulate can schedule: the same resources, constraints, defaults and
// node flags; a status section with a probe result ("not running") for every
// resource on every online node so that Pacemaker schedules no probes, a
// start for every active instance, a failed monitor for every failed one,
// and fail-count/last-failure attributes for the failure history.
//
// Limits: the instances of an anonymous clone (Pacemaker's default) are
// not told apart, so at most one instance of it per node can be expressed;
// a globally-unique clone's are (rsc:0, rsc:1, ...), without a failure
// history; every resource uses ocf:pacemaker:Dummy (scheduling does not
// depend on the agent).
func cibXML(cfg *cib.CIB, s State) string {
	var b strings.Builder
	var w xmlWriter = func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	w(0, `<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1">`)
	w(1, `<configuration>`)
	w(2, `<crm_config>`)
	w(3, `<cluster_property_set id="cib-bootstrap-options">`)
	w(4, `<nvpair id="opt-stonith-enabled" name="stonith-enabled" value="false"/>`)
	w(4, `<nvpair id="opt-no-quorum-policy" name="no-quorum-policy" value="ignore"/>`)
	if cfg.Properties.MaintenanceMode {
		w(4, `<nvpair id="opt-maintenance-mode" name="maintenance-mode" value="true"/>`)
	}
	if ps := cfg.Properties.PlacementStrategy; ps != "" {
		w(4, `<nvpair id="opt-placement-strategy" name="placement-strategy" value="%s"/>`, esc(ps))
	}
	w(3, `</cluster_property_set>`)
	w(2, `</crm_config>`)

	status := nodeStatuses(cfg, s)
	w(2, `<nodes>`)
	for i, n := range cfg.Nodes {
		st := status[n.Name]
		attrs := ""
		for _, k := range slices.Sorted(maps.Keys(n.Attributes)) {
			attrs += fmt.Sprintf(`<nvpair id="n%d-%s" name="%s" value="%s"/>`, i+1, esc(k), esc(k), esc(n.Attributes[k]))
		}
		if st == Standby {
			attrs += fmt.Sprintf(`<nvpair id="n%d-standby" name="standby" value="on"/>`, i+1)
		}
		if st == Maintenance {
			attrs += fmt.Sprintf(`<nvpair id="n%d-maintenance" name="maintenance" value="on"/>`, i+1)
		}
		util := utilizationXML(fmt.Sprintf("n%d", i+1), n.Utilization)
		switch {
		case attrs == "" && util == "":
			w(3, `<node id="%d" uname="%s"/>`, i+1, esc(n.Name))
		case attrs == "":
			w(3, `<node id="%d" uname="%s">%s</node>`, i+1, esc(n.Name), util)
		default:
			w(3, `<node id="%d" uname="%s"><instance_attributes id="n%d-attrs">%s</instance_attributes>%s</node>`, i+1, esc(n.Name), i+1, attrs, util)
		}
	}
	w(2, `</nodes>`)

	w(2, `<resources>`)
	rendered := map[string]bool{} // group members already written with their group
	for _, r := range cfg.Resources {
		if rendered[r.ID] {
			continue
		}
		if g := cfg.GroupOf(r.ID); g != nil {
			// The group goes where its first member would have gone.
			writeGroupXML(w, cfg, g)
			for _, m := range g.Resources {
				rendered[m] = true
			}
			continue
		}
		ind := 3
		if r.Clone != nil {
			writeCloneXML(w, r.Clone, r.Meta.Priority)
			ind = 4
		}
		writePrimitiveXML(w, ind, &r)
		if r.Clone != nil {
			w(3, `</clone>`)
		}
	}
	w(2, `</resources>`)

	w(2, `<constraints>`)
	for _, o := range cfg.Orders {
		if len(o.Sets) > 0 {
			w(3, `<rsc_order id="%s" kind="%s" symmetrical="%t">%s</rsc_order>`, esc(o.ID), o.Kind, o.Symmetrical, setsXML(o.ID, o.Sets))
			continue
		}
		w(3, `<rsc_order id="%s" first="%s" then="%s" first-action="%s" then-action="%s" kind="%s" symmetrical="%t"/>`,
			esc(o.ID), esc(o.First), esc(o.Then), o.FirstAction, o.ThenAction, o.Kind, o.Symmetrical)
	}
	for _, c := range cfg.Colocations {
		if len(c.Sets) > 0 {
			w(3, `<rsc_colocation id="%s" score="%s">%s</rsc_colocation>`, esc(c.ID), c.Score, setsXML(c.ID, c.Sets))
			continue
		}
		w(3, `<rsc_colocation id="%s" rsc="%s" with-rsc="%s" score="%s"/>`, esc(c.ID), esc(c.Rsc), esc(c.With), c.Score)
	}
	for _, l := range cfg.Locations {
		if l.Rule != nil {
			score := fmt.Sprintf(`score="%s"`, l.Score)
			if l.ScoreAttribute != "" {
				score = fmt.Sprintf(`score-attribute="%s"`, esc(l.ScoreAttribute))
			}
			role := ""
			if l.Role != "" {
				role = fmt.Sprintf(` role="%s"`, l.Role)
			}
			w(3, `<rsc_location id="%s" rsc="%s">%s</rsc_location>`, esc(l.ID), esc(l.Rsc), ruleXML(l.ID+"-rule", l.Rule, score+role))
			continue
		}
		w(3, `<rsc_location id="%s" rsc="%s" node="%s" score="%s"/>`, esc(l.ID), esc(l.Rsc), esc(l.Node), l.Score)
	}
	for _, t := range cfg.Tickets {
		if len(t.Sets) > 0 {
			w(3, `<rsc_ticket id="%s" ticket="%s" loss-policy="%s">%s</rsc_ticket>`, esc(t.ID), esc(t.Ticket), t.Policy(), setsXML(t.ID, t.Sets))
			continue
		}
		role := ""
		if t.RscRole != "" {
			role = fmt.Sprintf(` rsc-role="%s"`, t.RscRole)
		}
		w(3, `<rsc_ticket id="%s" rsc="%s" ticket="%s" loss-policy="%s"%s/>`, esc(t.ID), esc(t.Rsc), esc(t.Ticket), t.Policy(), role)
	}
	w(2, `</constraints>`)
	if m := metaNV("rsc-defaults", cfg.Defaults); m != "" {
		w(2, `<rsc_defaults><meta_attributes id="rsc-defaults">%s</meta_attributes></rsc_defaults>`, m)
	}
	w(1, `</configuration>`)

	w(1, `<status>`)
	active := map[string]InstanceState{} // "rsc@node"
	for _, in := range s.Instances {
		active[in.Resource+"@"+in.Node] = in
	}
	failures := map[string]Failure{}
	for _, f := range s.Failures {
		failures[f.Resource+"@"+f.Node] = f
	}
	if len(s.Tickets) > 0 {
		w(2, `<tickets>`)
		for _, t := range s.Tickets {
			w(3, `<ticket_state id="%s" granted="%t" standby="%t"/>`, esc(t.Ticket), t.Granted, t.Standby)
		}
		w(2, `</tickets>`)
	}
	for i, n := range cfg.Nodes {
		id := i + 1
		if status[n.Name] == Offline {
			w(2, `<node_state id="%d" uname="%s" in_ccm="false" crmd="offline" join="down" expected="down"/>`, id, esc(n.Name))
			continue
		}
		w(2, `<node_state id="%d" uname="%s" in_ccm="true" crmd="online" join="member" expected="member">`, id, esc(n.Name))
		var fattrs []string
		for _, r := range cfg.Resources {
			if f, ok := failures[r.ID+"@"+n.Name]; ok && f.Count > 0 {
				key := fmt.Sprintf("%s#monitor_%d", r.ID, monitorSeconds(&r)*1000)
				count := strconv.Itoa(f.Count)
				if f.Count >= int(cib.Infinity) {
					count = "INFINITY"
				}
				fattrs = append(fattrs, nv(fmt.Sprintf("status-%d-fail-count-%s", id, r.ID), "fail-count-"+key, count),
					nv(fmt.Sprintf("status-%d-last-failure-%s", id, r.ID), "last-failure-"+key, strconv.FormatInt(f.Last.Unix(), 10)))
			}
		}
		if len(fattrs) > 0 {
			w(3, `<transient_attributes id="%d"><instance_attributes id="status-%d">%s</instance_attributes></transient_attributes>`, id, id, strings.Join(fattrs, ""))
		}
		w(3, `<lrm id="%d">`, id)
		w(4, `<lrm_resources>`)
		for _, r := range cfg.Resources {
			if r.Clone != nil && r.Clone.GloballyUnique {
				writeUniqueLRM(w, cfg, &r, s.Instances, n.Name)
				continue
			}
			in, on := active[r.ID+"@"+n.Name]
			f, failedBefore := failures[r.ID+"@"+n.Name]
			w(5, `<lrm_resource id="%s" class="ocf" provider="pacemaker" type="Dummy">`, esc(r.ID))
			switch {
			case on:
				w(6, `%s`, lrmOp(r.ID+"_last_0", r.ID+"_start_0", "start", 0, 2, 0, n.Name))
				if in.Failed {
					ms := monitorSeconds(&r) * 1000
					w(6, `%s`, lrmOp(fmt.Sprintf("%s_monitor_%d", r.ID, ms), fmt.Sprintf("%s_monitor_%d", r.ID, ms), "monitor", ms, 3, 1, n.Name))
					w(6, `%s`, lrmOp(r.ID+"_last_failure_0", fmt.Sprintf("%s_monitor_%d", r.ID, ms), "monitor", ms, 3, 1, n.Name))
				}
			default:
				w(6, `%s`, lrmOp(r.ID+"_last_0", r.ID+"_monitor_0", "monitor", 0, 1, 7, n.Name))
				if failedBefore && f.Count > 0 {
					ms := monitorSeconds(&r) * 1000
					w(6, `%s`, lrmOp(r.ID+"_last_failure_0", fmt.Sprintf("%s_monitor_%d", r.ID, ms), "monitor", ms, 0, 1, n.Name))
				}
			}
			w(5, `</lrm_resource>`)
		}
		w(4, `</lrm_resources>`)
		w(3, `</lrm>`)
		w(2, `</node_state>`)
	}
	w(1, `</status>`)
	w(0, `</cib>`)
	return b.String()
}

// writeUniqueLRM writes the history on node of a globally-unique clone's
// instances: each of its instances (rsc:0 ... up to clone-max, and any
// active one beyond) started, failed or probed not running.
func writeUniqueLRM(w xmlWriter, cfg *cib.CIB, r *cib.Resource, ins []InstanceState, node string) {
	most, _ := r.Clone.Limits(len(cfg.Nodes))
	here := map[int]InstanceState{}
	for _, in := range ins {
		if in.Resource == r.ID {
			most = max(most, in.Instance+1)
			if in.Node == node {
				here[in.Instance] = in
			}
		}
	}
	for i := 0; i < most; i++ {
		id := fmt.Sprintf("%s:%d", r.ID, i)
		w(5, `<lrm_resource id="%s" class="ocf" provider="pacemaker" type="Dummy">`, esc(id))
		in, on := here[i]
		switch {
		case on:
			w(6, `%s`, lrmOp(id+"_last_0", id+"_start_0", "start", 0, 2, 0, node))
			if in.Failed {
				ms := monitorSeconds(r) * 1000
				key := fmt.Sprintf("%s_monitor_%d", id, ms)
				w(6, `%s`, lrmOp(key, key, "monitor", ms, 3, 1, node))
				w(6, `%s`, lrmOp(id+"_last_failure_0", key, "monitor", ms, 3, 1, node))
			}
		default:
			w(6, `%s`, lrmOp(id+"_last_0", id+"_monitor_0", "monitor", 0, 1, 7, node))
		}
		w(5, `</lrm_resource>`)
	}
}

func nodeStatuses(cfg *cib.CIB, s State) map[string]NodeStatus {
	out := map[string]NodeStatus{}
	for _, n := range NodeStatuses(cfg, s) {
		out[n.Name] = n.Status
	}
	return out
}

func lrmOp(id, key, op string, intervalMS, call, rc int, node string) string {
	// A fixed, old last-rc-change: failure times come from the
	// last-failure attributes, which is what failure-timeout reads. The
	// digests are those Pacemaker 2.1.5 computes for a Dummy resource
	// without parameters; without them it restarts the resource as if its
	// definition had changed.
	digest := "f2317cad3d54cec5d7d7aa7d0bf35cf8"
	if intervalMS > 0 {
		digest = "4811cef7f7f94e3a35a70be7916cb2fd"
	}
	return fmt.Sprintf(`<lrm_rsc_op id="%s" operation_key="%s" operation="%s" crm-debug-origin="tandem" crm_feature_set="3.16.1" transition-key="%d:0:0:00000000-0000-0000-0000-000000000000" transition-magic="0:%d;%d:0:0:00000000-0000-0000-0000-000000000000" exit-reason="" call-id="%d" rc-code="%d" op-status="0" interval="%d" last-rc-change="1600000000" exec-time="0" queue-time="0" op-digest="%s" on_node="%s"/>`,
		esc(id), esc(key), op, call, rc, call, call, rc, intervalMS, digest, esc(node))
}

func monitorSeconds(r *cib.Resource) int {
	for _, o := range r.Ops {
		if o.Name == "monitor" && o.Interval > 0 {
			return int(o.Interval / time.Second)
		}
	}
	return 10
}

func metaNV(prefix string, m cib.Meta) string {
	var out []string
	if m.Stickiness != nil {
		out = append(out, nv(prefix+"-stickiness", "resource-stickiness", strconv.Itoa(*m.Stickiness)))
	}
	if m.MigrationThreshold != nil {
		v := strconv.Itoa(*m.MigrationThreshold)
		if *m.MigrationThreshold >= int(cib.Infinity) {
			v = "INFINITY"
		}
		out = append(out, nv(prefix+"-migration-threshold", "migration-threshold", v))
	}
	if m.FailureTimeout != nil {
		out = append(out, nv(prefix+"-failure-timeout", "failure-timeout", fmt.Sprintf("%ds", int(*m.FailureTimeout/time.Second))))
	}
	if m.TargetRole != "" {
		out = append(out, nv(prefix+"-target-role", "target-role", m.TargetRole))
	}
	if m.Priority != nil {
		out = append(out, nv(prefix+"-priority", "priority", strconv.Itoa(*m.Priority)))
	}
	sort.Strings(out)
	return strings.Join(out, "")
}

func nv(id, name, value string) string {
	return fmt.Sprintf(`<nvpair id="%s" name="%s" value="%s"/>`, esc(id), esc(name), esc(value))
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

type xmlWriter func(indent int, format string, args ...any)

// writeCloneXML opens a clone. A priority is the clone's too: Pacemaker
// orders top-level resources by their own priority, and a Tandem clone's
// meta attributes are the clone's and its instances'.
func writeCloneXML(w xmlWriter, cl *cib.Clone, priority *int) {
	w(3, `<clone id="%s">`, esc(cl.ID))
	var metas []string
	if priority != nil {
		metas = append(metas, nv(cl.ID+"-meta-priority", "priority", strconv.Itoa(*priority)))
	}
	if cl.Max > 0 {
		metas = append(metas, nv(cl.ID+"-meta-clone-max", "clone-max", strconv.Itoa(cl.Max)))
	}
	if cl.NodeMax > 0 {
		metas = append(metas, nv(cl.ID+"-meta-clone-node-max", "clone-node-max", strconv.Itoa(cl.NodeMax)))
	}
	if cl.Interleave {
		metas = append(metas, nv(cl.ID+"-meta-interleave", "interleave", "true"))
	}
	if cl.Notify {
		metas = append(metas, nv(cl.ID+"-meta-notify", "notify", "true"))
	}
	if cl.GloballyUnique {
		metas = append(metas, nv(cl.ID+"-meta-globally-unique", "globally-unique", "true"))
	}
	if len(metas) > 0 {
		w(4, `<meta_attributes id="%s-meta">%s</meta_attributes>`, esc(cl.ID), strings.Join(metas, ""))
	}
}

func writePrimitiveXML(w xmlWriter, ind int, r *cib.Resource) {
	w(ind, `<primitive id="%s" class="ocf" provider="pacemaker" type="Dummy">`, esc(r.ID))
	if m := metaNV(r.ID+"-meta", r.Meta); m != "" {
		w(ind+1, `<meta_attributes id="%s-meta">%s</meta_attributes>`, esc(r.ID), m)
	}
	if u := utilizationXML(r.ID, r.Utilization); u != "" {
		w(ind+1, `%s`, u)
	}
	w(ind+1, `<operations><op id="%s-monitor" name="monitor" interval="%ds"/></operations>`, esc(r.ID), monitorSeconds(r))
	w(ind, `</primitive>`)
}

// utilizationXML is a <utilization> element, "" when u is empty.
func utilizationXML(id string, u map[string]int) string {
	if len(u) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<utilization id="%s-utilization">`, esc(id))
	for _, k := range slices.Sorted(maps.Keys(u)) {
		b.WriteString(nv(fmt.Sprintf("%s-utilization-%s", id, k), k, strconv.Itoa(u[k])))
	}
	b.WriteString(`</utilization>`)
	return b.String()
}

func writeGroupXML(w xmlWriter, cfg *cib.CIB, g *cib.Group) {
	ind := 3
	if g.Clone != nil {
		writeCloneXML(w, g.Clone, g.Meta.Priority)
		ind = 4
	}
	w(ind, `<group id="%s">`, esc(g.ID))
	if m := metaNV(g.ID+"-meta", g.Meta); m != "" {
		w(ind+1, `<meta_attributes id="%s-meta">%s</meta_attributes>`, esc(g.ID), m)
	}
	for _, id := range g.Resources {
		r, _ := cfg.Resource(id)
		writePrimitiveXML(w, ind+1, r)
	}
	w(ind, `</group>`)
	if g.Clone != nil {
		w(3, `</clone>`)
	}
}

// setsXML renders resource sets, writing only the options the set has (an
// explicit sequential=true means something between order sets).
func setsXML(id string, sets []cib.ResourceSet) string {
	var b strings.Builder
	for i, s := range sets {
		fmt.Fprintf(&b, `<resource_set id="%s-set-%d"`, esc(id), i)
		if s.Sequential != nil {
			fmt.Fprintf(&b, ` sequential="%t"`, *s.Sequential)
		}
		if s.RequireAll != nil {
			fmt.Fprintf(&b, ` require-all="%t"`, *s.RequireAll)
		}
		if s.Action != "" {
			fmt.Fprintf(&b, ` action="%s"`, s.Action)
		}
		if s.Role != "" {
			fmt.Fprintf(&b, ` role="%s"`, s.Role)
		}
		b.WriteString(">")
		for _, r := range s.Resources {
			fmt.Fprintf(&b, `<resource_ref id="%s"/>`, esc(r))
		}
		b.WriteString("</resource_set>")
	}
	return b.String()
}

// ruleXML renders a rule with its nested rules; attrs go on the top one
// (score, role).
func ruleXML(id string, r *cib.Rule, attrs string) string {
	var b strings.Builder
	op := ""
	if r.BooleanOp != "" {
		op = fmt.Sprintf(` boolean-op="%s"`, r.BooleanOp)
	}
	if attrs != "" {
		attrs = " " + attrs
	}
	fmt.Fprintf(&b, `<rule id="%s"%s%s>`, esc(id), op, attrs)
	for i, e := range r.Expressions {
		fmt.Fprintf(&b, `<expression id="%s-expr-%d" attribute="%s" operation="%s"`, esc(id), i, esc(e.Attribute), e.Operation)
		if e.Operation != "defined" && e.Operation != "not_defined" {
			fmt.Fprintf(&b, ` value="%s"`, esc(e.Value))
		}
		if e.Type != "" {
			fmt.Fprintf(&b, ` type="%s"`, e.Type)
		}
		b.WriteString("/>")
	}
	for i := range r.Rules {
		b.WriteString(ruleXML(fmt.Sprintf("%s-%d", id, i), &r.Rules[i], `score="0"`))
	}
	b.WriteString("</rule>")
	return b.String()
}
