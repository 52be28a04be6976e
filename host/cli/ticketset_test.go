package cli

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

// TestTicketSets: `constraint ticket set` adds one constraint over resource
// sets, as pcs does; constraint lists it under Resource Sets; the cluster
// file keeps it ([[ticket.set]]); `constraint ticket remove` and deleting a
// resource take resources out of its sets; bad input names what is wrong
// and changes nothing.
func TestTicketSets(t *testing.T) {
	f, err := config.Parse("sets.toml", []byte(`
[cluster]
name = "site-a"
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[witness]
name = "quorum"
address = "198.18.0.25"
[[resource]]
id = "web"
agent = "example:sleeper"
[[resource]]
id = "app"
agent = "example:sleeper"
[[resource]]
id = "db"
agent = "example:replica"
[resource.clone]
promotable = true
`))
	if err != nil {
		t.Fatal(err)
	}
	c := f.CIB
	add := func(args ...string) error {
		tk, err := parseTicketSet(c, append([]string{"set"}, args...))
		if err != nil {
			return err
		}
		_, err = c.AddTicket(tk)
		return err
	}
	if err := add("web", "app", "set", "db-clone", "role=Promoted", "setoptions", "ticket=site-a", "loss-policy=demote"); err != nil {
		t.Fatal(err)
	}
	want := cib.Ticket{ID: "pcs_rsc_ticket_set_web_app_set_db-clone_site-a", Ticket: "site-a", LossPolicy: cib.LossDemote,
		Sets: []cib.ResourceSet{{Resources: []string{"web", "app"}}, {Resources: []string{"db-clone"}, Role: cib.RolePromoted}}}
	if len(c.Tickets) != 1 || !reflect.DeepEqual(c.Tickets[0], want) {
		t.Fatalf("tickets %+v, want %+v", c.Tickets, want)
	}
	// The scheduler sees one binding per resource: demote for the
	// Promoted role, stop for the others (what Pacemaker does).
	var got []string
	for _, b := range c.TicketBindings() {
		got = append(got, b.Rsc+"/"+b.RscRole+"/"+b.Policy())
	}
	if strings.Join(got, " ") != "web//stop app//stop db-clone/Promoted/demote" {
		t.Errorf("bindings %v", got)
	}
	var buf bytes.Buffer
	writeConstraints(&buf, c, true)
	if !strings.Contains(buf.String(), "Ticket Constraints:\n  Resource Sets:\n    set web app set db-clone role=Promoted setoptions loss-policy=demote ticket=site-a (id:pcs_rsc_ticket_set_web_app_set_db-clone_site-a)\n") {
		t.Errorf("constraint --full:\n%s", buf.String())
	}

	// The file keeps it, and reads back the same.
	data, err := config.Encode(f.Topology, c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "[[ticket.set]]") {
		t.Errorf("encoded without [[ticket.set]]:\n%s", data)
	}
	back, err := config.Parse("back.toml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(back.CIB.Tickets, c.Tickets) {
		t.Errorf("read back %+v, want %+v", back.CIB.Tickets, c.Tickets)
	}

	// Refused, and nothing changes.
	before := append([]cib.Ticket(nil), c.Tickets...)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"web", "setoptions", "loss-policy=stop"}, "setoptions has no ticket=TICKET"},
		{[]string{"web", "sequential=false", "setoptions", "ticket=t"}, "takes only role="},
		{[]string{"web", "setoptions", "ticket=t", "kind=Optional"}, `unknown ticket option "kind"`},
		{[]string{"web", "setoptions", "ticket=t", "loss-policy=fence"}, "Tandem has no fencing"},
		{[]string{"web", "app", "setoptions", "ticket=t", "loss-policy=demote"}, "loss-policy demote needs a set with role = \"Promoted\""},
		{[]string{"web", "role=Promoted", "setoptions", "ticket=t"}, `"web" is not a promotable clone`},
		{[]string{"db-clone", "role=Unpromoted", "setoptions", "ticket=t"}, `set role "Unpromoted"`},
		{[]string{"web", "set", "web", "setoptions", "ticket=t"}, `"web" is named twice`},
		{[]string{"nope", "setoptions", "ticket=t"}, `"nope"`},
	} {
		err := add(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("set %s: error %v, want one saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	if !reflect.DeepEqual(c.Tickets, before) {
		t.Errorf("a refused set changed the tickets: %+v", c.Tickets)
	}

	// remove takes a resource out of the sets; the last one takes the
	// constraint with it.
	if err := c.RemoveTickets("site-a", "app"); err != nil {
		t.Fatal(err)
	}
	if got := c.Tickets[0].Names(); strings.Join(got, " ") != "web db-clone" {
		t.Errorf("after removing app: %v", got)
	}
	if err := c.RemoveTickets("site-b", "web"); err == nil || !strings.Contains(err.Error(), "site-a web db-clone") {
		t.Errorf("removing from an unknown ticket: %v", err)
	}
	if err := c.RemoveTickets("site-a", "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteResource("db"); err != nil {
		t.Fatal(err)
	}
	if len(c.Tickets) != 0 {
		t.Errorf("the constraint outlived its last resource: %+v", c.Tickets)
	}
}
