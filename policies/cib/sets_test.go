package cib

import (
	"fmt"
	"strings"
	"testing"
)

func pairText(ps []OrderPair) string {
	var out []string
	for _, p := range ps {
		s := fmt.Sprintf("%s>%s", p.First, p.Then)
		if p.AnyOf != nil {
			s += "(any " + strings.Join(p.AnyOf, ",") + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func colocText(cs []Colocation) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Rsc+"~"+c.With)
	}
	return strings.Join(out, " ")
}

func yes() *bool { b := true; return &b }
func no() *bool  { return new(bool) }

// The pairs a constraint with sets stands for, as Pacemaker 2.1.5 unpacks
// them (pcmk_sched_ordering.c, pcmk_sched_colocation.c).
func TestSetPairs(t *testing.T) {
	set := func(seq *bool, rs ...string) ResourceSet { return ResourceSet{Resources: rs, Sequential: seq} }
	orders := []struct {
		sets []ResourceSet
		kind OrderKind
		want string
	}{
		{[]ResourceSet{set(nil, "A", "B", "C")}, Mandatory, "A>B B>C"},
		{[]ResourceSet{set(no(), "A", "B"), set(nil, "C")}, Mandatory, "A>C B>C"},
		// Between sets: every pair unless both say sequential=true.
		{[]ResourceSet{set(nil, "A", "B"), set(nil, "C", "D")}, Mandatory, "A>B C>D A>C A>D B>C B>D"},
		{[]ResourceSet{set(yes(), "A", "B"), set(yes(), "C", "D")}, Mandatory, "A>B C>D B>C"},
		{[]ResourceSet{set(nil, "A", "B", "C")}, Serialize, "A>B A>C B>C"},
		{[]ResourceSet{{Resources: []string{"A", "B"}, Sequential: no(), RequireAll: no()}, set(nil, "C")}, Mandatory, "A>C(any A,B) B>C(any A,B)"},
		// A resource named twice counts where it first appears.
		{[]ResourceSet{set(nil, "A", "B", "A")}, Mandatory, "A>B"},
	}
	for _, tc := range orders {
		o := Order{ID: "o", Kind: tc.kind, Sets: tc.sets}
		if got := pairText(o.Pairs()); got != tc.want {
			t.Errorf("order %s (%s): %s, want %s", SetsText(tc.sets), tc.kind, got, tc.want)
		}
	}
	colocs := []struct {
		sets  []ResourceSet
		score Score
		want  string
	}{
		{[]ResourceSet{set(nil, "A", "B", "C")}, Infinity, "B~A C~B"},
		{[]ResourceSet{set(nil, "A", "B", "C")}, -Infinity, "B~A C~A C~B"},
		{[]ResourceSet{set(no(), "A", "B", "C")}, Infinity, ""},
		// Between sets: the first of a set with the last of the next.
		{[]ResourceSet{set(nil, "A", "B"), set(nil, "C", "D")}, 100, "B~A D~C A~D"},
		{[]ResourceSet{set(no(), "A", "B"), set(nil, "C")}, Infinity, "A~C B~C"},
		{[]ResourceSet{set(nil, "A"), set(no(), "B", "C")}, Infinity, "A~B A~C"},
	}
	for _, tc := range colocs {
		co := Colocation{ID: "c", Score: tc.score, Sets: tc.sets}
		if got := colocText(co.Pairs()); got != tc.want {
			t.Errorf("colocation %s (%s): %s, want %s", SetsText(tc.sets), tc.score, got, tc.want)
		}
	}
}

// Deleting a resource takes it out of the sets that name it; a constraint
// left with fewer than two resources goes.
func TestDeleteResourceFromSets(t *testing.T) {
	c := grouped(t)
	_ = c.AddOrder(Order{ID: "o", Kind: Mandatory, Symmetrical: true, Sets: []ResourceSet{{Resources: []string{"a", "b"}}, {Resources: []string{"c"}}}})
	_ = c.AddColocation(Colocation{ID: "co", Score: Infinity, Sets: []ResourceSet{{Resources: []string{"c"}}, {Resources: []string{"db"}}}})
	removed, err := c.DeleteResource("c")
	if err != nil || strings.Join(removed, " ") != "co" {
		t.Fatalf("delete c: removed %v, %v; want co", removed, err)
	}
	if got := SetsText(c.Orders[0].Sets); got != "set a b" {
		t.Errorf("order after deleting c: %s", got)
	}
	if ps := c.Validate(); ps != nil {
		t.Error(ps)
	}
}

// A colocation set's role goes to both ends of the pairs inside the set;
// between sets, the first set's role is rsc-role and the next set's
// with-rsc-role (pcmk_sched_colocation.c, colocate_rsc_sets). An order's
// set takes no role.
func TestSetRoles(t *testing.T) {
	co := Colocation{ID: "c", Score: Infinity, Sets: []ResourceSet{
		{Resources: []string{"a", "b"}, Role: RoleUnpromoted}, {Resources: []string{"db"}, Role: RolePromoted}}}
	var got []string
	for _, p := range co.Pairs() {
		got = append(got, fmt.Sprintf("%s %s with %s %s", p.RscRole, p.Rsc, p.WithRole, p.With))
	}
	if want := "Unpromoted b with Unpromoted a|Unpromoted a with Promoted db"; strings.Join(got, "|") != want {
		t.Errorf("pairs %q, want %q", strings.Join(got, "|"), want)
	}
	if txt := SetsText(co.Sets); txt != "set a b role=Unpromoted set db role=Promoted" {
		t.Errorf("text %q", txt)
	}
	var s ResourceSet
	for _, tc := range []struct{ k, v, err string }{
		{"role", "master", ""},
		{"role", "Stopped", `role="Stopped": want Started, Promoted or Unpromoted`},
		{"action", "promote", `unknown set option "action" (a set takes sequential, role)`},
	} {
		err := s.SetOption(tc.k, tc.v, false)
		if (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("colocation set %s=%s: %v, want %q", tc.k, tc.v, err, tc.err)
		}
	}
	if s.Role != RolePromoted {
		t.Errorf("role=master: %q, want Promoted", s.Role)
	}
	if err := s.SetOption("role", "Promoted", true); err == nil || !strings.Contains(err.Error(), "action=promote") {
		t.Errorf("order set role=Promoted: %v, want a refusal naming action=promote", err)
	}
}
