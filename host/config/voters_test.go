package config

import (
	"strings"
	"testing"
)

const fiveNodes = `
[cluster]
name = "t"
[bus]
%s
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[[node]]
name = "carol"
address = "198.18.0.25"
[[node]]
name = "dave"
address = "198.18.0.26"
[[node]]
name = "erin"
address = "198.18.0.27"
`

func voterNames(t *testing.T, src string) string {
	t.Helper()
	f, err := Parse("c.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, m := range f.Topology.Voters() {
		vs = append(vs, m.Name)
	}
	// The file written back chooses the same voters.
	out, err := Encode(f.Topology, f.CIB)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse("c.toml", out)
	if err != nil {
		t.Fatalf("encoded file does not parse: %v\n%s", err, out)
	}
	for i, m := range g.Topology.Members {
		if m.NonVoter != f.Topology.Members[i].NonVoter {
			t.Errorf("encoded file makes %s a voter=%v, the original %v:\n%s", m.Name, !m.NonVoter, !f.Topology.Members[i].NonVoter, out)
		}
	}
	return strings.Join(vs, " ")
}

func TestVoters(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"reference: all three", base, "holly benji director"},
		{"witness first, then nodes in order", strings.Replace(base, "[witness]", "[[node]]\nname = \"carol\"\naddress = \"198.18.0.25\"\n[witness]", 1), "holly benji director"},
		{"five nodes: three vote", strings.Replace(fiveNodes, "%s", "", 1), "holly benji carol"},
		{"voter_count 5", strings.Replace(fiveNodes, "%s", "voter_count = 5", 1), "holly benji carol dave erin"},
		{"named", strings.Replace(fiveNodes, "%s", `voters = ["carol", "dave", "erin"]`, 1), "carol dave erin"},
		{"four nodes: three vote", strings.Replace(strings.Replace(fiveNodes, "%s", "", 1), "[[node]]\nname = \"erin\"\naddress = \"198.18.0.27\"\n", "", 1), "holly benji carol"},
	} {
		if got := voterNames(t, tc.src); got != tc.want {
			t.Errorf("%s: voters %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestVoterErrors(t *testing.T) {
	for _, tc := range []struct{ name, bus, want string }{
		{"even", `voters = ["holly", "benji"]`, `c.toml:5: [bus] voters names 2 members: name an odd number, 3 or more`},
		{"unknown", `voters = ["holly", "benji", "karol"]`, `c.toml:5: [bus] voters names "karol", which is neither a [[node]] nor the [witness]: the members are holly, benji, carol, dave, erin`},
		{"twice", `voters = ["holly", "benji", "holly"]`, `[bus] voters names "holly" twice`},
		{"both", "voters = [\"holly\", \"benji\", \"carol\"]\nvoter_count = 3", `[bus] gives both voters and voter_count`},
		{"count even", `voter_count = 4`, `c.toml:5: [bus] voter_count = 4: give an odd number, 3 or more`},
		{"count one", `voter_count = 1`, `[bus] voter_count = 1: give an odd number, 3 or more`},
	} {
		ps := problemsOf(t, strings.Replace(fiveNodes, "%s", tc.bus, 1))
		if !strings.Contains(ps.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, ps, tc.want)
		}
	}
	// The witness votes.
	ps := problemsOf(t, strings.Replace(base, "[[node]]", "[bus]\nvoters = [\"holly\", \"benji\", \"carol\"]\n[[node]]\nname = \"carol\"\naddress = \"198.18.0.25\"\n[[node]]", 1))
	if want := `[bus] voters leaves out the witness "director"`; !strings.Contains(ps.Error(), want) {
		t.Errorf("witness left out: got %v, want %q", ps, want)
	}
}
