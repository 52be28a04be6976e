package cib

import (
	"strings"
	"testing"
)

func TestUtilizationEdits(t *testing.T) {
	c := &CIB{Nodes: []Node{{Name: "holly"}}}
	if _, err := c.AddResource("db", "systemd:db", ResourceSpec{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddResource("web", "systemd:web", ResourceSpec{}); err != nil {
		t.Fatal(err)
	}
	c.Groups = []Group{{ID: "g", Resources: []string{"web"}}}
	for _, step := range []struct {
		err  error
		want string // "" for no error
	}{
		{c.SetNodeUtilization("holly", "cpu", "8"), ""},
		{c.SetNodeUtilization("holly", "memory", "16384"), ""},
		{c.SetNodeUtilization("holly", "cpu", "-1"), `utilization "cpu"="-1": want an integer from 0 to 2147483647`},
		{c.SetNodeUtilization("holly", "cpu", "1.5"), `utilization "cpu"="1.5": want an integer`},
		{c.SetNodeUtilization("nope", "cpu", "1"), `nope`},
		{c.SetNodeUtilization("holly", "#cpu", "1"), `utilization "#cpu": a name is not empty`},
		{c.SetResourceUtilization("db", "cpu", "2"), ""},
		{c.SetResourceUtilization("g", "cpu", "2"), `group "g": a group uses the sum of its members' utilization; set it on a member (web)`},
		{c.SetResourceUtilization("nope", "cpu", "2"), `no resource or clone "nope"`},
		{c.SetProperty("placement-strategy", "minimal"), ""},
		{c.SetProperty("placement-strategy", "balance"), `placement-strategy "balance": want default, utilization, balanced, minimal (did you mean "balanced"?)`},
	} {
		switch {
		case step.want == "" && step.err != nil:
			t.Errorf("unexpected error: %v", step.err)
		case step.want != "" && (step.err == nil || !strings.Contains(step.err.Error(), step.want)):
			t.Errorf("got %v, want an error containing %q", step.err, step.want)
		}
	}
	if got := FormatUtilization(c.Node("holly").Utilization); got != "cpu=8 memory=16384" {
		t.Errorf("node utilization %q", got)
	}
	if r, _ := c.Resource("db"); r.Utilization["cpu"] != 2 {
		t.Errorf("db utilization %v", r.Utilization)
	}
	if c.Properties.Placement() != PlacementMinimal || len(c.Validate()) != 0 {
		t.Errorf("placement %q, problems %v", c.Properties.Placement(), c.Validate())
	}
	// An empty value removes; the last one removed leaves no map.
	if err := c.SetNodeUtilization("holly", "cpu", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.SetNodeUtilization("holly", "memory", ""); err != nil || c.Node("holly").Utilization != nil {
		t.Errorf("after removing both: %v, %v", c.Node("holly").Utilization, err)
	}
	if err := c.SetProperty("placement-strategy", "default"); err != nil || c.Properties.PlacementStrategy != "" {
		t.Errorf("default is stored as unset: %q, %v", c.Properties.PlacementStrategy, err)
	}
	// Validate catches what was written past the edits.
	c.Node("holly").Utilization = map[string]int{"cpu": -3}
	c.Properties.PlacementStrategy = "spread"
	got := c.Validate().Error()
	for _, want := range []string{`node[0].utilization: node "holly": utilization "cpu"=-3`, `properties.placement-strategy: placement-strategy "spread"`} {
		if !strings.Contains(got, want) {
			t.Errorf("Validate: got\n%s\nwant %q", got, want)
		}
	}
}
