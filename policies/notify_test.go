package policies

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

// notifyKeys lists the transition's notifications as notifyKey writes
// them, sorted.
func notifyKeys(tr *Transition) string {
	var out []string
	for _, a := range tr.Actions {
		if a.Op == OpNotify {
			out = append(out, notifyKey(a))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func scheduleTOML(t *testing.T, src string, st State) *Result {
	t.Helper()
	f, err := config.Parse("c.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Schedule(Input{CIB: f.CIB, State: st, Now: pmNow})
	if err != nil {
		t.Fatal(err)
	}
	// What a host receives: the JSON form, validated.
	data, err := json.Marshal(res.Transition)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeTransition(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	res.Transition = *back
	return res
}

// Promotable clones with notify = true. promoted-notify reproduces
// Pacemaker 2.1.5's regression case of that name (its .summary: pre and
// post promote notifications to all three instances); the others follow
// pe_notif.c's rules for promote and demote, which the crm_simulate
// scenarios (TestPacemakerNotify) cannot express (the generated CIB has no
// promotable clones).
func TestNotifyPromotable(t *testing.T) {
	three := []NodeState{{"holly", Online}, {"benji", Online}, {"carl", Online}}
	unpromoted := []InstanceState{
		{Resource: "db", Clone: "db-clone", Instance: 0, Node: "holly"},
		{Resource: "db", Clone: "db-clone", Instance: 1, Node: "benji"},
		{Resource: "db", Clone: "db-clone", Instance: 2, Node: "carl"},
	}
	type edge struct{ a, b string } // a waits for b (notifyKey form)
	for _, c := range []struct {
		name, config string
		state        State
		notes        string
		lists        map[string]string // notifyKey -> "list=unames ..." checked on it
		waits        []edge
	}{{
		name:   "promoted-notify: three unpromoted, holly promoted",
		config: threeNodes + promotableTOML("db", "notify = true\n"),
		state:  State{Nodes: three, Instances: unpromoted, Promotion: scores("db", map[string]cib.Score{"holly": 10, "benji": 5, "carl": 5})},
		notes:  "post-promote db@benji, post-promote db@carl, post-promote db@holly, pre-promote db@benji, pre-promote db@carl, pre-promote db@holly",
		lists:  map[string]string{"pre-promote db@carl": "promote=holly unpromoted=benji carl holly promoted= active=benji carl holly"},
		waits:  []edge{{"promote db@holly", "pre-promote db@carl"}, {"post-promote db@benji", "promote db@holly"}},
	}, {
		name:   "fresh start: post-start to both, then promote notifications to both (the new instances too)",
		config: twoNodes + promotableTOML("db", "notify = true\n"),
		state:  State{Nodes: both(), Promotion: scores("db", map[string]cib.Score{"holly": 10, "benji": 5})},
		notes:  "post-promote db@benji, post-promote db@holly, post-start db@benji, post-start db@holly, pre-promote db@benji, pre-promote db@holly",
		lists:  map[string]string{"pre-promote db@benji": "start=benji holly promote=holly active= promoted="},
		waits:  []edge{{"pre-promote db@holly", "post-start db@benji"}, {"promote db@holly", "pre-promote db@benji"}},
	}, {
		name:   "promoted holly goes standby: demote, stop, promote benji, each notified in that order",
		config: twoNodes + promotableTOML("db", "notify = true\n"),
		state: State{Nodes: []NodeState{{"holly", Standby}, {"benji", Online}},
			Instances: marked(unpromoted[:2], "db", "holly", func(in *InstanceState) { in.Role = cib.RolePromoted }),
			Promotion: scores("db", map[string]cib.Score{"holly": 10, "benji": 5})},
		notes: "post-demote db@benji, post-demote db@holly, post-promote db@benji, post-stop db@benji, pre-demote db@benji, pre-demote db@holly, " +
			"pre-promote db@benji, pre-stop db@benji, pre-stop db@holly",
		lists: map[string]string{"pre-stop db@holly": "demote=holly stop=holly promote=benji promoted=holly unpromoted=benji"},
		waits: []edge{{"demote db@holly", "pre-demote db@benji"}, {"pre-stop db@holly", "post-demote db@benji"},
			{"stop db@holly", "pre-stop db@benji"}, {"post-stop db@benji", "stop db@holly"},
			{"pre-promote db@benji", "post-stop db@benji"}, {"promote db@benji", "pre-promote db@benji"}},
	}, {
		name:   "without notify: no notification",
		config: twoNodes + promotableTOML("db", ""),
		state:  State{Nodes: both(), Promotion: scores("db", map[string]cib.Score{"holly": 10, "benji": 5})},
	}, {
		name:   "an instance on a node in maintenance is left alone: not notified",
		config: twoNodes + "[[resource]]\nid = \"db\"\nagent = \"systemd:db\"\n[resource.clone]\nid = \"db-clone\"\nnotify = true\n",
		state:  State{Nodes: []NodeState{{"holly", Maintenance}, {"benji", Online}}, Instances: unpromoted[:1]},
		notes:  "post-start db@benji",
		lists:  map[string]string{"post-start db@benji": "active=holly start=benji"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			res := scheduleTOML(t, c.config, c.state)
			tr := &res.Transition
			if got := notifyKeys(tr); got != c.notes {
				t.Fatalf("notifications:\n  got:  %s\n  want: %s\n%s", got, c.notes, describe(tr))
			}
			byKey := map[string]Action{}
			for _, a := range tr.Actions {
				byKey[notifyKey(a)] = a
			}
			for k, want := range c.lists {
				a, ok := byKey[k]
				if !ok {
					t.Fatalf("no %s", k)
				}
				for _, part := range splitLists(want) {
					if got := unames(a.Notify, part[0]); got != part[1] {
						t.Errorf("%s: %s list %q, want %q", k, part[0], got, part[1])
					}
				}
			}
			closure := tandemClosure(tr)
			for _, e := range c.waits {
				a, okA := byKey[e.a]
				b, okB := byKey[e.b]
				if !okA || !okB || !closure[a.ID][b.ID] {
					t.Errorf("%s does not wait for %s\n%s", e.a, e.b, describe(tr))
				}
			}
		})
	}
}

// splitLists reads "start=benji holly promote=holly active=" into
// (list, unames) pairs.
func splitLists(s string) [][2]string {
	var out [][2]string
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok {
			out = append(out, [2]string{k, v})
			continue
		}
		last := &out[len(out)-1]
		last[1] = strings.TrimSpace(last[1] + " " + f)
	}
	return out
}

// A transition with a notification that does not say what it notifies, or
// under a wrong id, is refused by hosts.
func TestNotifyValidate(t *testing.T) {
	n := &Notification{Type: NotifyPre, Operation: OpStart}
	ok := Action{ID: NotifyID("pre", OpStart, "db", "db-clone", 1, "holly"), Resource: "db", Clone: "db-clone", Instance: 1, Node: "holly", Op: OpNotify, Notify: n}
	for _, c := range []struct {
		name string
		edit func(*Action)
		want string
	}{
		{"fine", func(*Action) {}, ""},
		{"no notification", func(a *Action) { a.Notify = nil }, "says what it notifies"},
		{"a primitive", func(a *Action) { a.Clone = "" }, "goes to a clone instance"},
		{"bad type", func(a *Action) { a.Notify = &Notification{Type: "during", Operation: OpStart} }, `type "during" is not pre or post`},
		{"bad operation", func(a *Action) { a.Notify = &Notification{Type: NotifyPre, Operation: "monitor"} }, `notification of "monitor"`},
		{"wrong id", func(a *Action) { a.ID = "notify/db#1@holly" }, "id does not match"},
	} {
		a := ok
		c.edit(&a)
		err := (&Transition{Version: TransitionVersion, Actions: []Action{a}}).Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// The lists go once per clone in the JSON form; a notification whose
// clone has none is refused.
func TestNotifyListsOncePerClone(t *testing.T) {
	res := scheduleTOML(t, threeNodes+promotableTOML("db", "notify = true\n"), State{Nodes: []NodeState{{"holly", Online}, {"benji", Online}, {"carl", Online}},
		Promotion: scores("db", map[string]cib.Score{"holly": 10, "benji": 5, "carl": 5})})
	data, err := json.Marshal(res.Transition)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"all":`); n != 1 {
		t.Errorf("the node list is written %d times, want once:\n%s", n, data)
	}
	for _, a := range res.Transition.Actions {
		if a.Op == OpNotify && len(a.Notify.All) != 3 {
			t.Errorf("%s decoded without its lists: %+v", a.ID, a.Notify)
		}
	}
	bad := strings.Replace(string(data), `"notify_lists":{"db-clone"`, `"notify_lists":{"other"`, 1)
	if _, err := DecodeTransition([]byte(bad)); err == nil || !strings.Contains(err.Error(), `no notify_lists for clone "db-clone"`) {
		t.Errorf("lists of another clone: %v", err)
	}
}

// NotifyListsOf finds a notify clone's lists in a transition, for the
// instances' own actions; a clone without notify has none.
func TestNotifyListsOf(t *testing.T) {
	res := scheduleTOML(t, twoNodes+"[[resource]]\nid = \"db\"\nagent = \"systemd:db\"\n[resource.clone]\nid = \"db-clone\"\nnotify = true\n"+
		"[[resource]]\nid = \"web\"\nagent = \"systemd:web\"\n[resource.clone]\nid = \"web-clone\"\n", State{Nodes: both()})
	l, ok := res.Transition.NotifyListsOf("db-clone")
	if !ok || len(l.Start) != 2 || len(l.Active) != 0 {
		t.Errorf("db-clone's lists: %+v %t, want two starts", l, ok)
	}
	if _, ok := res.Transition.NotifyListsOf("web-clone"); ok {
		t.Error("web-clone (no notify) has lists")
	}
}
