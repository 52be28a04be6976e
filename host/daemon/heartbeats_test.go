package daemon_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/lease"
)

// followedHeartbeats lists the members whose heartbeat subjects the
// clients of member's own bus server (its daemon's connections) subscribe
// to, sorted, once each.
func followedHeartbeats(tc *daemontest.Cluster, member string) ([]string, error) {
	cz, err := tc.Server(member).NATS().Connz(&server.ConnzOptions{Subscriptions: true, Limit: 1 << 16})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range cz.Conns {
		for _, s := range c.Subs {
			if name, ok := strings.CutPrefix(s, bus.SubjectPrefix+"heartbeat."); ok {
				seen[name] = true
			}
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

var memberOnline = regexp.MustCompile(`(?m)^tandem_member_online\{member="([^"]+)"\} ([01])$`)

// Six nodes, the first three voters: a plain member follows the voters'
// heartbeats only (and its own), a voter every member's, so that the
// heartbeats delivered at rest grow linearly in the members. A plain member
// still sees every member come and go (from the view in the coordinator's
// heartbeats): when a plain member dies and when the coordinator dies, the
// singletons they ran move, the new coordinator is a voter, and the plain
// members' membership (their /metrics) and status list every member right.
func TestPlainMembersFollowTheVotersHeartbeatsOnly(t *testing.T) {
	shape := daemontest.Shape{Nodes: []string{"holly", "benji", "carol", "dave", "erin", "fred"}}
	voters := []string{"holly", "benji", "carol"}
	var res strings.Builder
	// One singleton on each voter (whichever coordinates runs one) and
	// one on erin, a plain member.
	for _, n := range append(voters, "erin") {
		fmt.Fprintf(&res, `
[[resource]]
id = "s-%[1]s"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[[resource.op]]
name = "monitor"
interval = "1s"

[[location]]
rsc = "s-%[1]s"
node = "%[1]s"
score = "100"
`, n)
	}
	tc := daemontest.NewShape(t, shape, `
[defaults]
resource-stickiness = 1
`+res.String())
	ports := bustest.FreePorts(t, 2)
	metricsAt := map[string]string{"dave": fmt.Sprintf("127.0.0.1:%d", ports[0]), "fred": fmt.Sprintf("127.0.0.1:%d", ports[1])}
	tc.Metrics = map[string]bus.Metrics{}
	for n, a := range metricsAt {
		tc.Metrics[n] = bus.Metrics{Listen: a}
	}
	tc.StartAll()
	c := tc.Connect()
	poll.Until(t, 120*time.Second, 200*time.Millisecond, func() error {
		for _, n := range append(voters, "erin") {
			if w := tc.Where("s-" + n); len(w) != 1 || w[0] != n {
				return fmt.Errorf("s-%s on %v, want %s", n, w, n)
			}
		}
		return nil
	})

	// The subscriptions: a voter follows all six, a plain member the
	// three voters and itself.
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
		for _, n := range shape.Nodes {
			want := shape.Nodes
			if n == "dave" || n == "erin" || n == "fred" {
				want = append(append([]string(nil), voters...), n)
			}
			want = append([]string(nil), want...)
			sort.Strings(want)
			got, err := followedHeartbeats(tc, n)
			if err != nil {
				return err
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				return fmt.Errorf("%s's daemon follows the heartbeats of %v, want %v", n, got, want)
			}
		}
		return nil
	})

	client := &http.Client{Timeout: 5 * time.Second}
	// online scrapes member's /metrics: who its membership says is online.
	online := func(member string) (map[string]bool, error) {
		resp, err := client.Get("http://" + metricsAt[member] + "/metrics")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for _, m := range memberOnline.FindAllStringSubmatch(string(body), -1) {
			out[m[1]] = m[2] == "1"
		}
		return out, nil
	}
	// membershipIs waits until both plain members with metrics, and
	// status, say exactly the members of up are online.
	membershipIs := func(up ...string) {
		t.Helper()
		want := map[string]bool{}
		for _, n := range shape.Nodes {
			want[n] = false
		}
		for _, n := range up {
			want[n] = true
		}
		poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
			for _, m := range []string{"dave", "fred"} {
				got, err := online(m)
				if err != nil {
					return err
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					return fmt.Errorf("%s's membership: %v, want %v", m, got, want)
				}
			}
			answers, err := bus.GatherMembers(c, len(up), 2*time.Second)
			if err != nil {
				return err
			}
			var names []string
			for _, a := range answers {
				names = append(names, a.Name)
			}
			sort.Strings(names)
			if strings.Join(names, " ") != strings.Join(up, " ") {
				return fmt.Errorf("status: %v answer, want %v", names, up)
			}
			return nil
		})
	}
	all := append([]string(nil), shape.Nodes...)
	sort.Strings(all)
	membershipIs(all...)

	kv, err := c.JS.KeyValue(context.Background(), bus.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	coordinator := func() (string, error) {
		ten, err := lease.ReadTenure(context.Background(), kv, lease.CoordinatorKey)
		if err != nil {
			return "", err
		}
		return ten.Node, nil
	}
	isVoter := func(n string) bool { return n == "holly" || n == "benji" || n == "carol" }
	var coord string
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() (err error) {
		coord, err = coordinator()
		return err
	})
	if !isVoter(coord) {
		t.Fatalf("%s coordinates, not a voter", coord)
	}
	// Every member takes stamps: of 24 heartbeats of the coordinator in
	// a row (6 s), those of each second carry a stamp of its view, and
	// the view whole only every 4 s (and on a change), not every second.
	// The view's members are the six.
	sub, err := c.NC.SubscribeSync(bus.SubjectHeartbeat(coord))
	if err != nil {
		t.Fatal(err)
	}
	var wholes, stamps int
	for i := 0; i < 24; i++ {
		msg, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("coordinator %s's heartbeat %d of 24: %v", coord, i+1, err)
		}
		hb, _, err := bus.Decode[bus.Heartbeat](msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !hb.TakesStamps {
			t.Fatalf("%s's heartbeat does not say it takes stamps", coord)
		}
		if hb.View != nil {
			wholes++
			if len(hb.View.Online) != len(all) || hb.View.Version == 0 {
				t.Errorf("%s's view: %d members online, version %d; want %d and a version", coord, len(hb.View.Online), hb.View.Version, len(all))
			}
		}
		if hb.ViewStamp != nil {
			stamps++
		}
	}
	_ = sub.Unsubscribe()
	if stamps < 3 || wholes > 3 {
		t.Errorf("of 24 heartbeats of the coordinator %s: %d carry the view whole, %d a stamp; want at most 3 and at least 3", coord, wholes, stamps)
	}

	// A plain member dies (cut off from the bus): its singleton moves,
	// and the other plain members learn it left from the coordinator.
	tc.CutOff("erin")
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
		if w := tc.Where("s-erin"); len(w) != 1 || w[0] == "erin" {
			return fmt.Errorf("s-erin on %v, want one node other than erin", w)
		}
		return nil
	})
	membershipIs(without(all, "erin")...)

	// The coordinator dies: its singleton moves, another voter
	// coordinates, and the plain members see it gone.
	tc.CutOff(coord)
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
		if w := tc.Where("s-" + coord); len(w) != 1 || w[0] == coord {
			return fmt.Errorf("s-%s on %v, want one node other than %s", coord, w, coord)
		}
		now, err := coordinator()
		if err != nil {
			return err
		}
		if now == coord || !isVoter(now) {
			return fmt.Errorf("%s coordinates, want another voter than %s", now, coord)
		}
		return nil
	})
	membershipIs(without(all, "erin", coord)...)
	// The other singletons stayed where they were.
	for _, n := range voters {
		if n == coord {
			continue
		}
		if w := tc.Where("s-" + n); len(w) != 1 || w[0] != n {
			t.Errorf("s-%s on %v, want %s", n, w, n)
		}
	}
}

func without(list []string, drop ...string) []string {
	var out []string
	for _, n := range list {
		keep := true
		for _, d := range drop {
			keep = keep && n != d
		}
		if keep {
			out = append(out, n)
		}
	}
	return out
}
