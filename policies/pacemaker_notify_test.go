package policies

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Clone notifications (notify = true), checked against crm_simulate like
// the other scenarios: which instances get which notification ("pre-start
// db@holly"), with which uname lists, and how they are ordered with the
// clone's starts and stops. The scenarios are those of Pacemaker's
// notify-1..3 regression cases (a clone starting and stopping instances
// with notifications), on anonymous clones (the cts cases use unique ones,
// which Tandem does not model) and with node names of our own.

func notifyClone(extra string) string {
	return twoNodes + "[[resource]]\nid = \"db\"\nagent = \"systemd:db\"\n[resource.clone]\nid = \"db-clone\"\nnotify = true\n" + extra
}

func notifyScenarios() []pmScenario {
	one := []InstanceState{{Resource: "db", Clone: "db-clone", Instance: 0, Node: "holly"}}
	two := append(slices.Clone(one), InstanceState{Resource: "db", Clone: "db-clone", Instance: 1, Node: "benji"})
	return []pmScenario{
		{name: "notify-fresh-start", about: "nothing runs: both start; no pre-start (nobody active), post-start to both",
			config: notifyClone(""), state: State{Nodes: both()}},
		{name: "notify-start-one", about: "db runs on holly and starts on benji: pre-start to holly, post-start to both (notify-1's rsc1)",
			config: notifyClone(""), state: State{Nodes: both(), Instances: one}},
		{name: "notify-stop-one", about: "benji goes standby: pre-stop to both, post-stop to holly only (notify-1's rsc2)",
			config: notifyClone(""), state: State{Nodes: []NodeState{{"holly", Online}, {"benji", Standby}}, Instances: two}},
		{name: "notify-move", about: "clone-max 1 moves from holly to benji (a location): pre-stop to holly, post-start to benji, stop notifications before start ones (notify-3's rsc1)",
			config: notifyClone("clone-max = 1\n[[location]]\nrsc = \"db-clone\"\nnode = \"benji\"\nscore = 100\n"),
			state:  State{Nodes: both(), Instances: one},
			// Pacemaker lists db:1 inactive, an instance beyond clone-max
			// 1 that unpacking the anonymous clone's history creates;
			// Tandem lists the clone's instances 0..clone-max-1 only.
			differs: []string{"post-start db@benji: 0 inactive, pacemaker 1", "pre-stop db@holly: 0 inactive, pacemaker 1"}},
		{name: "notify-recover", about: "db failed on benji: recovered there (stop, start) with stop and start notifications",
			config: notifyClone(""), state: State{Nodes: both(), Instances: withFailed(two, "db", "benji")}},
	}
}

// pmNotify is a notify action of Pacemaker's graph with its lists.
type pmNotify struct {
	key      string            // "pre-start db@holly"
	lists    map[string]string // "start" -> sorted unames, ...
	inactive int               // instances in notify_inactive_resource
}

var notifyListNames = []string{"active", "start", "stop", "promote", "demote", "promoted", "unpromoted", "available", "all"}

func TestPacemakerNotify(t *testing.T) {
	for _, sc := range notifyScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			cfg := sc.load(t)
			dir := filepath.Join("testdata", "pacemaker", sc.name)
			cib := cibXML(cfg, sc.state)
			if *updatePacemaker {
				runCrmSimulate(t, dir, cib)
			}
			stored, err := os.ReadFile(filepath.Join(dir, "cib.xml"))
			if err != nil {
				t.Fatalf("%v (run with -pacemaker.update where crm_simulate is installed)", err)
			}
			if string(stored) != cib {
				t.Fatalf("%s/cib.xml no longer matches the scenario: regenerate with -pacemaker.update", dir)
			}
			res, err := Schedule(Input{CIB: cfg, State: sc.state, Now: pmNow})
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Transition.Validate(); err != nil {
				t.Fatal(err)
			}
			pm := loadPacemaker(t, dir)
			notifies, byID := loadPacemakerNotify(t, dir)
			if len(notifies) == 0 {
				t.Fatalf("%s/graph.xml has no notify action", dir)
			}
			// Starts and stops agree as in every scenario.
			var plain Transition
			for _, a := range res.Transition.Actions {
				if a.Op != OpNotify {
					plain.Actions = append(plain.Actions, a)
				}
			}
			if d := compareWithPacemaker(pm, &plain); len(d) > 0 {
				t.Errorf("starts and stops differ from Pacemaker's: %s", strings.Join(d, "; "))
			}
			// The same notifications, with the same lists.
			tn := map[string]Action{}
			for _, a := range res.Transition.Actions {
				if a.Op == OpNotify {
					tn[notifyKey(a)] = a
				}
			}
			var want, got []string
			for k := range notifies {
				want = append(want, k)
			}
			for k := range tn {
				got = append(got, k)
			}
			sort.Strings(want)
			sort.Strings(got)
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Fatalf("notifications:\n  tandem:    %s\n  pacemaker: %s\ntandem:\n%s", strings.Join(got, ", "), strings.Join(want, ", "), describe(&res.Transition))
			}
			var inactive []string
			for k, pn := range notifies {
				n := tn[k].Notify
				for _, l := range notifyListNames {
					if g := unames(n, l); g != pn.lists[l] {
						t.Errorf("%s: %s list %q, pacemaker %q", k, l, g, pn.lists[l])
					}
				}
				// Instance numbers may differ; how many are inactive may
				// not, but where the scenario says so.
				if len(n.Inactive) != pn.inactive {
					inactive = append(inactive, fmt.Sprintf("%s: %d inactive, pacemaker %d", k, len(n.Inactive), pn.inactive))
				}
			}
			sort.Strings(inactive)
			if strings.Join(inactive, "\n") != strings.Join(sc.differs, "\n") {
				t.Errorf("inactive counts:\n  got:  %s\n  want: %s", strings.Join(inactive, "\n        "), strings.Join(sc.differs, "\n        "))
			}
			// Notifications ordered with the starts and stops as Pacemaker
			// orders them (transitively, through its pseudo-actions).
			closure := tandemClosure(&res.Transition)
			before := pm.before(nil)
			keyOf := map[string]string{} // tandem id -> key
			for _, a := range res.Transition.Actions {
				keyOf[a.ID] = notifyKey(a)
			}
			pmID := map[string]string{} // key -> pacemaker graph id
			for id, k := range byID {
				pmID[k] = id
			}
			for id, a := range pm.actions {
				pmID[a.String()] = id
			}
			for _, a := range res.Transition.Actions {
				for _, b := range res.Transition.Actions {
					if a.ID == b.ID || (a.Op != OpNotify && b.Op != OpNotify) {
						continue
					}
					pa, pb := pmID[keyOf[a.ID]], pmID[keyOf[b.ID]]
					if pa == "" || pb == "" {
						continue
					}
					if pmOrders, tOrders := before[pa][pb], closure[a.ID][b.ID]; pmOrders != tOrders {
						t.Errorf("%s after %s: pacemaker %t, tandem %t", keyOf[a.ID], keyOf[b.ID], pmOrders, tOrders)
					}
				}
			}
		})
	}
}

// notifyKey is "pre-start db@holly" for a notification, "start db@holly"
// for any other action (as pmAction.String writes it).
func notifyKey(a Action) string {
	if a.Notify == nil {
		return fmt.Sprintf("%s %s@%s", a.Op, a.Resource, a.Node)
	}
	return fmt.Sprintf("%s-%s %s@%s", a.Notify.Type, a.Notify.Operation, a.Resource, a.Node)
}

// unames is list l of n as sorted node names joined by spaces.
func unames(n *Notification, l string) string {
	var es []NotifyEntry
	switch l {
	case "active":
		es = n.Active
	case "start":
		es = n.Start
	case "stop":
		es = n.Stop
	case "promote":
		es = n.Promote
	case "demote":
		es = n.Demote
	case "promoted":
		es = n.Promoted
	case "unpromoted":
		es = n.Unpromoted
	case "available", "all":
		ns := n.Available
		if l == "all" {
			ns = n.All
		}
		return strings.Join(ns, " ")
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Node)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// loadPacemakerNotify reads the notify actions of a stored graph, keyed
// as notifyKey writes them, and maps graph ids to those keys.
func loadPacemakerNotify(t *testing.T, dir string) (map[string]pmNotify, map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "graph.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Synapses []struct {
			Ops []struct {
				ID        string `xml:"id,attr"`
				Operation string `xml:"operation,attr"`
				Node      string `xml:"on_node,attr"`
				Primitive struct {
					ID string `xml:"id,attr"`
				} `xml:"primitive"`
				Raw struct {
					Attrs []xml.Attr `xml:",any,attr"`
				} `xml:"attributes"`
			} `xml:"action_set>rsc_op"`
		} `xml:"synapse"`
	}
	if err := xml.Unmarshal(data, &g); err != nil {
		t.Fatalf("%s/graph.xml: %v", dir, err)
	}
	out, byID := map[string]pmNotify{}, map[string]string{}
	for _, s := range g.Synapses {
		for _, op := range s.Ops {
			if op.Operation != "notify" {
				continue
			}
			attr := map[string]string{}
			for _, a := range op.Raw.Attrs {
				attr[a.Name.Local] = a.Value
			}
			key := fmt.Sprintf("%s-%s %s@%s", attr["CRM_meta_notify_type"], attr["CRM_meta_notify_operation"], op.Primitive.ID, op.Node)
			n := pmNotify{key: key, lists: map[string]string{}, inactive: len(strings.Fields(attr["CRM_meta_notify_inactive_resource"]))}
			for _, l := range notifyListNames {
				f := strings.Fields(attr["CRM_meta_notify_"+l+"_uname"])
				sort.Strings(f)
				n.lists[l] = strings.Join(f, " ")
			}
			out[key] = n
			byID[op.ID] = key
		}
	}
	return out, byID
}
