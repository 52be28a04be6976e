package cibimport

import (
	"encoding/xml"
	"sort"
	"strconv"
	"strings"

	"github.com/tandem-ha/tandem/policies"
	"github.com/tandem-ha/tandem/policies/cib"
)

// What the tests read of a CIB's status section (the importer reads none of
// it): each node's membership, the resources' operation history, and the
// promotion scores among the transient attributes.
type cibStatus struct {
	Nodes []struct {
		Uname string `xml:"uname,attr"`
		Crmd  string `xml:"crmd,attr"`
		InCCM string `xml:"in_ccm,attr"`
		Join  string `xml:"join,attr"`
		Attrs []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"transient_attributes>instance_attributes>nvpair"`
		Resources []struct {
			ID  string `xml:"id,attr"`
			Ops []struct {
				Operation string `xml:"operation,attr"`
				CallID    int    `xml:"call-id,attr"`
				RC        int    `xml:"rc-code,attr"`
				OpStatus  int    `xml:"op-status,attr"`
				Interval  string `xml:"interval,attr"`
			} `xml:"lrm_rsc_op"`
		} `xml:"lrm>lrm_resources>lrm_resource"`
	} `xml:"status>node_state"`
}

// stateOf is the scheduler's State from a CIB's status: nodes online or
// offline, each resource active (and promoted) where its last operation
// left it, promotion scores. ok is false for what it does not read: a
// failure, a pending or migrating operation, a fail-count, an instance of a
// resource the import left out.
func stateOf(doc []byte, c *cib.CIB) (policies.State, bool) {
	var st cibStatus
	if err := xml.Unmarshal(doc, &st); err != nil {
		return policies.State{}, false
	}
	var s policies.State
	seen := map[string]bool{}
	for _, n := range st.Nodes {
		if c.Node(n.Uname) == nil {
			return s, false
		}
		seen[n.Uname] = true
		// in_ccm is "true" or, since Pacemaker 2.1.7, the time it joined.
		online := n.Crmd == "online" && n.InCCM != "" && n.InCCM != "false" && n.InCCM != "0" && n.Join == "member"
		status := policies.Offline
		if online {
			status = policies.Online
		}
		s.Nodes = append(s.Nodes, policies.NodeState{Name: n.Uname, Status: status})
		for _, a := range n.Attrs {
			switch {
			case strings.HasPrefix(a.Name, "fail-count-"), strings.HasPrefix(a.Name, "last-failure-"):
				return s, false
			case strings.HasPrefix(a.Name, "master-"), strings.HasPrefix(a.Name, "promotion-"):
				rsc := strings.TrimPrefix(strings.TrimPrefix(a.Name, "master-"), "promotion-")
				rsc, _, _ = strings.Cut(rsc, ":")
				sc, err := cib.ParseScore(a.Value)
				if err != nil {
					return s, false
				}
				s.Promotion = append(s.Promotion, policies.PromotionScore{Resource: rsc, Node: n.Uname, Score: sc})
			case strings.HasPrefix(a.Name, "probe_complete"), a.Name == "shutdown" && a.Value == "0":
			default:
				return s, false // a node attribute set at run time (pingd, standby): not imported
			}
		}
		for _, r := range n.Resources {
			prim, inst, _ := strings.Cut(r.ID, ":")
			if res, _ := c.Resource(prim); res == nil {
				if len(r.Ops) > 0 {
					return s, false
				}
				continue
			}
			ops := r.Ops
			sort.Slice(ops, func(i, j int) bool { return ops[i].CallID < ops[j].CallID })
			active, promoted := false, false
			for _, op := range ops {
				recurring := op.Interval != "" && op.Interval != "0"
				switch {
				case op.OpStatus != 0 || op.CallID < 0:
					return s, false
				case recurring && op.RC == 0, recurring && op.RC == 8:
				case op.Operation == "monitor" && (op.RC == 0 || op.RC == 8):
					active, promoted = true, op.RC == 8
				case op.Operation == "monitor" && op.RC == 7:
					active, promoted = false, false
				case op.RC != 0:
					return s, false
				case op.Operation == "start":
					active = true
				case op.Operation == "promote":
					active, promoted = true, true
				case op.Operation == "demote":
					promoted = false
				case op.Operation == "stop":
					active, promoted = false, false
				default:
					return s, false
				}
			}
			if !active {
				continue
			}
			i, _ := strconv.Atoi(inst)
			in := policies.InstanceState{Resource: prim, Instance: i, Node: n.Uname}
			if promoted {
				in.Role = cib.RolePromoted
			}
			s.Instances = append(s.Instances, in)
		}
	}
	return s, len(seen) == len(c.Nodes)
}
