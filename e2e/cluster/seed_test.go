package cluster_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/e2e/scenario"
	"github.com/tandem-ha/tandem/plugins/ocf"
	"github.com/tandem-ha/tandem/plugins/systemd"
)

// The seed tutorial's lab: prefix tdseed on 198.18.0.224/27 (holly .246,
// VIP .247, benji .248, director .254), members only, no resources.
var seedOpts = lab.Options{Prefix: "tdseed", Subnet: netip.MustParsePrefix("198.18.0.224/27"), Relocate: true, StartTandem: true}

// seedHAProxy is the tutorial's /etc/haproxy/haproxy.cfg (pcs's
// "systemd:haproxy" resource runs the distribution's unit on it), with the
// lab's addresses.
const seedHAProxy = `global
log 127.0.0.1 local2
chroot /var/lib/haproxy
pidfile /var/run/haproxy.pid
maxconn 4000
user haproxy
group haproxy
daemon
stats socket /var/lib/haproxy/stats
defaults
mode http
log global
option httplog
option dontlognull
option http-server-close
option forwardfor except 127.0.0.0/8
option redispatch
retries 3
timeout http-request 10s
timeout queue 1m
timeout connect 10s
timeout client 1m
timeout server 1m
timeout http-keep-alive 10s
timeout check 10s
maxconn 3000
listen apache
bind {VIP}:80 transparent #bind to the Virtual IP
mode http
option http-server-close
option forwardfor
balance roundrobin
server holly {holly}:80 check
server benji {benji}:80 check
`

// TestSeedTutorial runs the seed's Active/Active command sequence with pcs
// replaced by tandem (lab addresses; Debian's apache2 unit for httpd) from a
// cluster with no resources, on benji as in the tutorial, and checks the
// outputs the tutorial shows and the final state `make demo` reaches: the VIP
// on one node, httpd-clone and haproxy-clone started on both, curl
// alternating between Holly and Benji.
func TestSeedTutorial(t *testing.T) {
	o := seedOpts
	o.Config = filepath.Join("testdata", "empty.toml")
	if abs, err := filepath.Abs(o.Config); err == nil {
		o.Config = abs
	}
	l := labtest.Start(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := &scenario.Cluster{Lab: l, Nodes: []string{"holly", "benji"}, Witness: "director"}
	vip := netip.AddrFrom4(l.NodeAddr("holly").As4()).Next() // the seed's .23, between holly and benji
	c.VIP = vip
	c.VIPResource = "VIP-" + vip.String()
	c.Clones = []string{"httpd-clone", "haproxy-clone"}

	// Wait for the cluster (and its live configuration) to be there.
	poll.Until(t, 90*time.Second, 100*time.Millisecond, poll.About("the live configuration can be read and both nodes have found their plugins (idle: no resource yet)", func() error {
		if _, err := c.Tandem(ctx, "benji", "config", "show"); err != nil {
			return err
		}
		out, err := c.Tandem(ctx, "benji", "status")
		if err != nil {
			return err
		}
		if n := strings.Count(out, "plugins: haproxy health lsb ocf systemd vip idle"); n != 2 {
			return fmt.Errorf("%d nodes have their plugins idle:\n%s", n, out)
		}
		return nil
	}))
	sh := func(want string, args ...string) string {
		// Run as `tandem ARGS` on benji; a warning means something was skipped.
		t.Helper()
		out, err := c.Tandem(ctx, "benji", args...)
		if err != nil {
			t.Fatalf("[root@benji ~]# tandem %s\n%v", strings.Join(args, " "), err)
		}
		t.Logf("[root@benji ~]# tandem %s\n%s", strings.Join(args, " "), out)
		if strings.Contains(out, "Warning") {
			t.Errorf("tandem %s warned: %s", strings.Join(args, " "), out)
		}
		if want != "" && !strings.Contains(out, want) {
			t.Errorf("tandem %s: output does not contain %q", strings.Join(args, " "), want)
		}
		return out
	}

	// The Active/Standby cluster the tutorial starts from: the VIP, with the
	// tutorial's own agent and line (ocf:heartbeat:IPaddr2 from Debian's
	// resource-agents, run unchanged by the ocf bridge), and an HTTP server
	// (ocf:heartbeat:apache there; the unit here).
	// cidr_netmask is the lab's (/27 here, /24 in the tutorial's network):
	// IPaddr2 looks for the interface whose network holds ip with that mask,
	// and refuses ("[findif] failed") a mask no interface has.
	sh("", "resource", "create", c.VIPResource, "ocf:heartbeat:IPaddr2", "ip="+vip.String(), fmt.Sprintf("cidr_netmask=%d", o.Subnet.Bits()), "op", "monitor", "interval=30s")
	sh("", "resource", "create", "HTTPServer", "systemd:apache2", "op", "monitor", "interval=1min")
	poll.Until(t, 60*time.Second, 100*time.Millisecond, poll.About("the Active/Standby cluster runs", func() error {
		r, err := c.Status(ctx, "benji")
		if err != nil {
			return err
		}
		if len(scenario.StartedOn(r, "HTTPServer")) != 1 || len(scenario.StartedOn(r, c.VIPResource)) != 1 {
			return fmt.Errorf("HTTPServer on %v, VIP on %v", scenario.StartedOn(r, "HTTPServer"), scenario.StartedOn(r, c.VIPResource))
		}
		return nil
	}))

	// The tutorial, verbatim but for tandem, addresses and the unit name.
	sh("Attempting to stop: HTTPServer...Stopped", "resource", "delete", "HTTPServer")
	sh("", "resource", "create", "httpd", "systemd:apache2", "configfile=/etc/apache2/apache2.conf", "op", "monitor", "interval=30s", "clone")
	cfg := strings.NewReplacer("{VIP}", vip.String(), "{holly}", l.NodeAddr("holly").String(), "{benji}", l.NodeAddr("benji").String()).Replace(seedHAProxy)
	for _, n := range c.Nodes {
		// [root@benji ~]# vi /etc/haproxy/haproxy.cfg (on both nodes)
		if err := os.WriteFile(filepath.Join(l.RootDir(n), "etc/haproxy/haproxy.cfg"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sh("", "resource", "create", "haproxy", "systemd:haproxy", "op", "monitor", "interval=15s", "clone")
	sh("holly", "cluster", "start", "--all")
	status := sh("Clone Set: httpd-clone [httpd]", "status")
	if !strings.Contains(status, "Cluster name: mycluster") {
		t.Errorf("status does not name the cluster")
	}
	vipName := c.VIPResource
	sh(fmt.Sprintf("Adding %s haproxy-clone (kind: Mandatory) (Options: first-action=start then-action=start)", vipName),
		"constraint", "order", vipName, "then", "haproxy-clone")
	sh("Adding httpd-clone haproxy-clone (kind: Mandatory) (Options: first-action=start then-action=start)",
		"constraint", "order", "httpd-clone", "then", "haproxy-clone")
	sh("", "constraint", "colocation", "add", vipName, "with", "haproxy-clone")
	got := sh("", "constraint")
	want := fmt.Sprintf(`Location Constraints:
Ordering Constraints:
start %[1]s then start haproxy-clone (kind:Mandatory)
start httpd-clone then start haproxy-clone (kind:Mandatory)
Colocation Constraints:
%[1]s with haproxy-clone (score:INFINITY)`, vipName)
	if flatten(got) != want {
		t.Errorf("tandem constraint (indentation aside):\n%s\nwant, as in the tutorial:\n%s", flatten(got), want)
	}

	// The final state of make demo, and curl alternates.
	if _, err := c.WaitConverged(ctx, "benji", c.Nodes); err != nil {
		t.Fatal(err)
	}
	// The tutorial's resources use the ocf bridge and the systemd agent
	// only: those plugins run (shown with their versions), the other three
	// were never launched. The VIP's line is the tutorial's.
	running := fmt.Sprintf("plugins: ocf@%s systemd@%s running, haproxy health lsb vip idle", ocf.Version, systemd.Version)
	out := sh("", "status")
	if strings.Count(out, running) != 2 {
		t.Errorf("each node should run just the plugins its resources use:\n%s", out)
	}
	if !regexp.MustCompile(regexp.QuoteMeta(vipName) + `\t\(ocf::?heartbeat:IPaddr2\):\t ?Started `).MatchString(out) {
		t.Errorf("status should show the VIP as the tutorial's pcs status does (%s (ocf::heartbeat:IPaddr2): Started NODE):\n%s", vipName, out)
	}
	answers := waitAlternating(t, ctx, c)
	t.Logf("[stack@director ~]$ curl http://%s (x6)\n%s", vip, strings.Join(answers, "\n"))
}

// waitAlternating waits until six requests in a row to the VIP are
// answered alternately by the two nodes (HAProxy's round robin over both
// Apaches), and returns the answers.
func waitAlternating(t *testing.T, ctx context.Context, c *scenario.Cluster) []string {
	t.Helper()
	var answers []string
	poll.Until(t, 60*time.Second, 100*time.Millisecond, poll.About("curl alternates between Holly and Benji", func() error {
		answers = answers[:0]
		for range 6 {
			body, err := c.Get(ctx, 2*time.Second)
			if err != nil {
				return err
			}
			answers = append(answers, body)
		}
		for i := 1; i < len(answers); i++ {
			if answers[i] == answers[i-1] {
				return fmt.Errorf("answers %v do not alternate", answers)
			}
		}
		return nil
	}))
	return answers
}

// flatten drops indentation and blank lines, as the tutorial's copy shows them.
func flatten(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
