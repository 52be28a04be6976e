package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
)

// Tickets through the commands, on a real cluster: a resource bound to a
// ticket stays stopped until the ticket is granted, starts once it is,
// stops when it is revoked (loss-policy stop) or put in standby; a
// resource with loss-policy freeze is left running when its ticket is
// revoked. The constraints show in the listings and bad ones are refused.
func TestLiveTickets(t *testing.T) {
	lc := newLiveCluster(t)
	// Created stopped, so that they are bound to their tickets before the
	// scheduler first places them, then enabled.
	for _, id := range []string{"a", "f"} {
		lc.must(append(append([]string{"resource", "create", id, "example:process"}, lc.params()...), "op", "monitor", "interval=500ms", "--disabled")...)
	}
	lc.must("constraint", "ticket", "add", "site-a", "a")
	lc.must("constraint", "ticket", "add", "site-f", "f", "loss-policy=freeze", "id=f-needs-site-f")
	lc.must("resource", "enable", "a")
	lc.must("resource", "enable", "f")
	where := func(id string, n int) {
		t.Helper()
		poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
			if got := lc.Where(id); len(got) != n {
				return fmt.Errorf("%s on %v, want %d node(s)", id, got, n)
			}
			return nil
		})
	}
	// Never granted: revoked; a and f do not start.
	if out := lc.must("simulate", "--live"); !strings.Contains(out, "ticket site-a is revoked") {
		t.Errorf("simulate --live does not say why a stays stopped:\n%s", out)
	}
	// Watched for 3 s (several plans and monitor periods): neither runs.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, id := range []string{"a", "f"} {
			if got := lc.Where(id); len(got) != 0 {
				t.Fatalf("%s runs on %v without its ticket", id, got)
			}
		}
	}
	if out := lc.must("ticket"); out != "Tickets:\n  site-a: revoked; constraints: ticket-site-a-a\n  site-f: revoked; constraints: f-needs-site-f\n" {
		t.Errorf("ticket:\n%s", out)
	}
	if out := lc.must("ticket", "grant", "site-a"); out != "Ticket site-a: granted (was revoked)\n" {
		t.Errorf("grant: %q", out)
	}
	lc.must("ticket", "grant", "site-f")
	where("a", 1)
	where("f", 1)
	if out := lc.must("ticket", "list"); !strings.Contains(out, "  site-a: granted (since ") {
		t.Errorf("ticket list:\n%s", out)
	}
	if out := lc.must("constraint"); !strings.Contains(out, "Ticket Constraints:\n  a loss-policy=stop ticket=site-a\n  f loss-policy=freeze ticket=site-f\n") {
		t.Errorf("constraint:\n%s", out)
	}
	if out := lc.must("constraint", "--output", "json"); !strings.Contains(out, `"tickets": [`) || !strings.Contains(out, `"loss-policy": "freeze"`) {
		t.Errorf("constraint --output json:\n%s", out)
	}

	// Revoked: a stops (stop), f is left running (freeze).
	fOn := lc.Where("f")
	lc.must("ticket", "revoke", "site-a")
	lc.must("ticket", "revoke", "site-f")
	where("a", 0)
	// f is frozen: once the coordinator has planned (a stopped), f still
	// runs where it ran, and the plan has nothing for it.
	if got := lc.Where("f"); len(got) != 1 || got[0] != fOn[0] {
		t.Errorf("f (freeze) on %v after its ticket was revoked, want still on %v", got, fOn)
	}
	if out := lc.must("simulate", "--live"); strings.Contains(out, "Stop       f") || !strings.Contains(out, "frozen on") {
		t.Errorf("simulate --live: f must be frozen, not stopped:\n%s", out)
	}
	// status shows the tickets' state, as crm_mon --show-tickets.
	if out := lc.must("status"); !strings.Contains(out, "\nTickets:\n  * site-a: revoked (since '") || !strings.Contains(out, "\n  * site-f: revoked (since '") {
		t.Errorf("status has no Tickets section with both revoked:\n%s", out)
	}
	if out := lc.must("status", "--output", "json"); !strings.Contains(out, `"tickets": [`) || !strings.Contains(out, `"constraints": [`) {
		t.Errorf("status --output json has no tickets:\n%s", out)
	}

	// Granted but in standby: a stops again; activate lets it run.
	lc.must("ticket", "grant", "site-a")
	where("a", 1)
	lc.must("ticket", "standby", "site-a")
	where("a", 0)
	if out := lc.must("ticket", "activate", "site-a"); out != "Ticket site-a: granted (was granted, standby)\n" {
		t.Errorf("activate: %q", out)
	}
	where("a", 1)

	lc.refuse("Tandem has no fencing", "constraint", "ticket", "add", "site-a", "f", "loss-policy=fence")
	lc.refuse("loss-policy demote needs rsc-role", "constraint", "ticket", "add", "site-a", "f", "loss-policy=demote")
	lc.refuse("no resource or clone \"nope\"", "constraint", "ticket", "add", "site-a", "nope")
	lc.refuse("ticket name \"a b\"", "ticket", "grant", "a b")
	if cur := lc.live(); cur.Format != 8 {
		t.Errorf("live configuration format %d, want 8", cur.Format)
	}
	// Without its constraint, a does not need the ticket any more.
	lc.must("ticket", "revoke", "site-a")
	where("a", 0)
	lc.must("constraint", "ticket", "remove", "site-a", "a")
	where("a", 1)
	lc.refuse("no ticket constraint binds a to ticket site-a", "constraint", "ticket", "remove", "site-a", "a")
}
