package policies

import (
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/host/config"
)

// Groups with a blocked member (its stop failed: left exactly where it
// is). A blocked member counts as running where it is for the members
// after it, unless it may not run there (banned, target-role=Stopped, or
// kept away by the group's own constraints): then nothing of the group
// starts or stays with it there (see setHold and docs/scheduler.md).
func TestBlockedGroupMember(t *testing.T) {
	disabledA := "[[resource]]\nid = \"a\"\nagent = \"systemd:a\"\nmeta = { target-role = \"Stopped\" }\n"
	for _, c := range []struct {
		name, config string
		state        State
		ops          string // the transition's actions, sorted
		placed       map[string]string
		note         [2]string // a note expected: resource, text
	}{{
		// A recovery restarts the later members, but not a blocked one.
		name:   "a restart leaves a blocked later member alone",
		config: twoNodes + primitives("a", "b") + groupTOML("g", []string{"a", "b"}, ""),
		state: State{Nodes: both(), Instances: []InstanceState{
			{Resource: "a", Node: "holly", Failed: true}, {Resource: "b", Node: "holly", Blocked: true}}},
		ops:    "start a@holly,stop a@holly",
		placed: map[string]string{"a": "holly", "b": "holly"},
	}, {
		// A cloned group's first member reached migration-threshold on
		// holly and its stop failed: the group is banned from holly, its
		// second member does not start there on top of it.
		name: "cloned group banned where its first member is blocked",
		config: twoNodes + primitives("a", "b") +
			groupTOML("g", []string{"a", "b"}, "meta = { migration-threshold = 1 }\n[group.clone]\n"),
		state: State{Nodes: both(), Instances: append([]InstanceState{{Resource: "a", Node: "holly", Failed: true, Blocked: true}},
			onNode("benji", "a", "b")...),
			Failures: []Failure{{Resource: "a", Node: "holly", Count: 1, Last: pmNow}}},
		ops:    "",
		placed: map[string]string{"a": "benji holly", "b": "benji"},
	}, {
		name:   "a disabled blocked member: the next one does not start with it",
		config: twoNodes + disabledA + primitives("b") + groupTOML("g", []string{"a", "b"}, ""),
		state:  State{Nodes: both(), Instances: []InstanceState{{Resource: "a", Node: "holly", Blocked: true}}},
		ops:    "",
		placed: map[string]string{"a": "holly"},
	}, {
		// As a member with target-role=Stopped stops the members after
		// it: its own stop failed, theirs need not.
		name:   "a disabled blocked member: the next one stops",
		config: twoNodes + disabledA + primitives("b") + groupTOML("g", []string{"a", "b"}, ""),
		state:  State{Nodes: both(), Instances: []InstanceState{{Resource: "a", Node: "holly", Blocked: true}, {Resource: "b", Node: "holly"}}},
		ops:    "stop b@holly",
		placed: map[string]string{"a": "holly"},
		note:   [2]string{"b", "it must run with a (INFINITY), which is only left where it may not run"},
	}, {
		// The group must not run with X; its first member is stuck
		// beside X, the rest of the group does not join it there.
		name: "a group kept away from X: nothing starts beside X with its blocked first member",
		config: twoNodes + primitives("X", "a", "b") + groupTOML("g", []string{"a", "b"}, "") +
			"[[colocation]]\nrsc = \"g\"\nwith = \"X\"\nscore = \"-INFINITY\"\n" +
			"[[location]]\nrsc = \"X\"\nnode = \"holly\"\nscore = 100\n",
		state:  State{Nodes: both(), Instances: append(onNode("holly", "X"), InstanceState{Resource: "a", Node: "holly", Failed: true, Blocked: true})},
		ops:    "",
		placed: map[string]string{"X": "holly", "a": "holly"},
	}, {
		// Where the blocked member may run, it counts as running: the
		// next member starts with it.
		name:   "a blocked member where it may run: the next one starts with it",
		config: twoNodes + primitives("a", "b") + groupTOML("g", []string{"a", "b"}, ""),
		state:  State{Nodes: both(), Instances: []InstanceState{{Resource: "a", Node: "holly", Failed: true, Blocked: true}}},
		ops:    "start b@holly",
		placed: map[string]string{"a": "holly", "b": "holly"},
	}, {
		// A colocation loop (a with b, and b with a as a member) places b
		// before a: whether blocked b counts on holly is known only once
		// disabled a is placed (blocked there, which it may not be).
		name: "a colocation loop through blocked members",
		config: twoNodes + disabledA + primitives("b", "c") + groupTOML("g", []string{"a", "b", "c"}, "") +
			"[[colocation]]\nrsc = \"a\"\nwith = \"b\"\nscore = \"INFINITY\"\n",
		state: State{Nodes: both(), Instances: []InstanceState{{Resource: "a", Node: "holly", Blocked: true},
			{Resource: "b", Node: "holly", Blocked: true}, {Resource: "c", Node: "holly", Failed: true}}},
		ops:    "stop c@holly",
		placed: map[string]string{"a": "holly", "b": "holly"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			f, err := config.Parse("blocked.toml", []byte(c.config))
			if err != nil {
				t.Fatal(err)
			}
			res := schedule(t, f.CIB, c.state)
			if got := strings.Join(ops(res), ","); got != c.ops {
				t.Errorf("actions %q, want %q", got, c.ops)
			}
			got := where(res)
			if len(got) != len(c.placed) {
				t.Errorf("placed %v, want %v", got, c.placed)
			}
			for r, want := range c.placed {
				if got[r] != want {
					t.Errorf("%s placed on %q, want %q (placement %v)", r, got[r], want, got)
				}
			}
			if c.note[0] != "" && !hasNote(res, c.note[0], c.note[1]) {
				t.Errorf("notes %v, want one on %s saying %q", res.Notes, c.note[0], c.note[1])
			}
			// Once the transition has run, nothing is left to do.
			next := Apply(f.CIB, c.state, &res.Transition)
			if again := schedule(t, f.CIB, next); !again.Transition.Empty() {
				t.Errorf("then %v", ops(again))
			}
		})
	}
}
