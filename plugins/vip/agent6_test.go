package vip

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

func vip6Params(extra ...string) map[string]string {
	p := map[string]string{"ip": vip6IP}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

// An IPv6 VIP: start infers nic and prefix from the connected route, adds
// the address marked as ours and without DAD (usable at once: not
// tentative), is idempotent; monitor sees it; stop removes only it.
func TestIPv6StartMonitorStop(t *testing.T) {
	l := newLab6(t)
	a := l.agent(t)
	r := req("vip6", vip6Params("arp_count", "1"))

	want(t, "monitor before start", a.Monitor(ctx, r), sdk.NotRunning, "not configured")
	want(t, "start", a.Start(ctx, r), sdk.OK, "added 2001:2::23/64 to tdv6a", "unsolicited neighbour advertisement 1×")
	got := addrsOf(t, l.hA, vip6IP)
	if len(got) != 1 || got[0].Prefix != 64 || got[0].Proto != OwnerProto {
		t.Fatalf("after start: %+v", got)
	}
	if f := got[0].Flags; f&unix.IFA_F_NODAD == 0 || f&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
		t.Fatalf("flags %#x: want nodad, neither tentative nor dadfailed", f)
	}
	want(t, "second start", a.Start(ctx, r), sdk.OK, "already on tdv6a")
	if got := addrsOf(t, l.hA, vip6IP); len(got) != 1 {
		t.Fatalf("after second start: %+v", got)
	}
	want(t, "monitor", a.Monitor(ctx, r), sdk.OK, "2001:2::23/64 on tdv6a")
	want(t, "stop", a.Stop(ctx, r), sdk.OK, "removed 2001:2::23/64 on tdv6a")
	if got := addrsOf(t, l.hA, vip6IP); len(got) != 0 {
		t.Fatalf("after stop: %+v", got)
	}
	want(t, "second stop", a.Stop(ctx, r), sdk.OK, "was not configured")
	want(t, "monitor after stop", a.Monitor(ctx, r), sdk.NotRunning)
	if got := addrsOf(t, l.hA, "2001:2::1"); len(got) != 1 {
		t.Fatalf("the interface's own address: %+v", got)
	}

	// An explicit /128 needs no route; a label is refused before anything
	// is done.
	r128 := req("vip6", vip6Params("nic", nic6A, "cidr_netmask", "128", "arp_count", "0"))
	want(t, "start /128", a.Start(ctx, r128), sdk.OK, "added 2001:2::23/128 to tdv6a", "no unsolicited neighbour advertisement: arp_count is 0")
	want(t, "stop /128", a.Stop(ctx, r128), sdk.OK, "removed 2001:2::23/128")
	want(t, "start with a label", a.Start(ctx, req("vip6", vip6Params("label", "web"))), sdk.ErrNotConfigured, "IPv6 addresses have no label")
}

// The peer sees every unsolicited neighbour advertisement of arp_count,
// each as RFC 4861 7.2.6 has it, and its kernel accepts them: its
// neighbour entry for the VIP, which pointed at another (failed) node,
// now points here. That also proves the checksum right.
func TestIPv6UnsolicitedNAReachesPeer(t *testing.T) {
	l := newLab6(t)
	a := l.agent(t)
	run(t, "ip", "-n", l.nsB, "-6", "neigh", "replace", vip6IP, "lladdr", "02:00:00:00:00:99", "dev", nic6B, "nud", "stale")
	ip := netip.MustParseAddr(vip6IP)
	w := watchNA(t, l.hB, nic6B)

	r := req("vip6", vip6Params("arp_count", "3", "arp_interval", "50ms"))
	start := time.Now()
	want(t, "start", a.Start(ctx, r), sdk.OK, "unsolicited neighbour advertisement 3× every 50ms")
	for i := 1; i <= 3; i++ {
		f, err := w.next(5*time.Second, unsolicitedFrom(l.macA, ip))
		if err != nil {
			t.Fatalf("advertisement %d: %v", i, err)
		}
		if i == 1 {
			t.Logf("start → unsolicited neighbour advertisement seen by the peer: %s", f.at.Sub(start))
		}
	}
	poll.Until(t, 5*time.Second, 50*time.Millisecond, func() error {
		out := run(t, "ip", "-n", l.nsB, "-6", "neigh", "show", vip6IP, "dev", nic6B)
		if !strings.Contains(out, l.macA.String()) {
			return fmt.Errorf("peer neighbour entry: %q, want %s", out, l.macA)
		}
		return nil
	})
	// arp_refresh: one more at a monitor.
	rr := req("vip6", vip6Params("arp_count", "1", "arp_refresh", "true"))
	want(t, "monitor with refresh", a.Monitor(ctx, rr), sdk.OK)
	if _, err := w.next(5*time.Second, unsolicitedFrom(l.macA, ip)); err != nil {
		t.Fatalf("no advertisement at a monitor with arp_refresh: %v", err)
	}
	want(t, "stop", a.Stop(ctx, r), sdk.OK)
}

// A peer that configures the same address answers our duplicate address
// probe: the monitor fails naming its MAC, and passes again once the peer
// lets go.
func TestIPv6ConflictDetected(t *testing.T) {
	l := newLab6(t)
	a := l.agent(t)
	r := req("vip6", vip6Params("arp_count", "1"))
	want(t, "start", a.Start(ctx, r), sdk.OK)
	want(t, "monitor without conflict", a.Monitor(ctx, r), sdk.OK)

	// nodad: the peer takes the address at once, as a host whose DAD is
	// off (or finished before ours arrived) would; it then answers probes.
	run(t, "ip", "-n", l.nsB, "addr", "add", vip6IP+"/64", "dev", nic6B, "nodad")
	var res sdk.Result
	poll.Until(t, 10*time.Second, 100*time.Millisecond, func() error {
		res = a.Monitor(ctx, r)
		if res.Code == sdk.OK {
			return fmt.Errorf("monitor still says %q", res.Message)
		}
		return nil
	})
	want(t, "monitor with conflict", res, sdk.ErrGeneric, "address conflict: 2001:2::23 is also answered for by "+l.macB.String(), "on the segment of tdv6a")

	run(t, "ip", "-n", l.nsB, "addr", "del", vip6IP+"/64", "dev", nic6B)
	want(t, "monitor after the peer let go", a.Monitor(ctx, r), sdk.OK)
	want(t, "stop", a.Stop(ctx, r), sdk.OK)
}

// Holds work for an IPv6 VIP as for an IPv4 one: the plugin removes the
// address at the deadline and refuses to start again until a new hold.
func TestIPv6HoldExpiry(t *testing.T) {
	l := newLab6(t)
	a := l.agent(t)
	r := req("vip6", vip6Params("arp_count", "1"))
	want(t, "hold", hold(a, "vip6", r.Params, sdk.MonotonicNow()+500*time.Millisecond), sdk.OK, "2001:2::23 held for")
	want(t, "start", a.Start(ctx, r), sdk.OK)
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := addrsOf(t, l.hA, vip6IP); len(got) != 0 {
			return fmt.Errorf("still configured: %+v", got)
		}
		return nil
	})
	want(t, "monitor after expiry", a.Monitor(ctx, r), sdk.NotRunning, "removed: hold expired without renewal")
	want(t, "start after expiry", a.Start(ctx, r), sdk.ErrGeneric, "refusing to start 2001:2::23", "hold ended")
	if len(addrsOf(t, l.hA, vip6IP)) != 0 {
		t.Fatal("a refused start added the address")
	}
	want(t, "new hold", hold(a, "vip6", r.Params, sdk.MonotonicNow()+time.Minute), sdk.OK)
	want(t, "start under the new hold", a.Start(ctx, r), sdk.OK)
	want(t, "late hold", hold(a, "vip6", r.Params, sdk.MonotonicNow()-time.Second), sdk.ErrGeneric, "after its deadline", "removed 2001:2::23/64")
	if len(addrsOf(t, l.hA, vip6IP)) != 0 {
		t.Fatal("a late hold left the address")
	}
}

// An IPv6 address someone else configured is neither taken over nor
// removed; validate says what this node would do, and names what is
// missing.
func TestIPv6ForeignAddressAndValidate(t *testing.T) {
	l := newLab6(t)
	a := l.agent(t)
	run(t, "ip", "-n", l.nsA, "addr", "add", "2001:2::24/64", "dev", nic6A, "nodad")
	theirs := req("vip6b", map[string]string{"ip": "2001:2::24", "arp_count": "1"})
	want(t, "start on a foreign address", a.Start(ctx, theirs), sdk.ErrGeneric, "not added by tandem", "ip addr del 2001:2::24/64 dev tdv6a")
	want(t, "monitor a foreign address", a.Monitor(ctx, theirs), sdk.ErrGeneric, "not by tandem")
	want(t, "stop a foreign address", a.Stop(ctx, theirs), sdk.OK, "left 2001:2::24/64 on tdv6a in place")
	if len(addrsOf(t, l.hA, "2001:2::24")) != 1 {
		t.Fatal("a foreign address was removed")
	}

	v := func(params map[string]string) sdk.Result {
		return a.Validate(ctx, sdk.ValidateRequest{AgentType: Name, Params: params})
	}
	want(t, "defaults", v(vip6Params()), sdk.OK, "2001:2::23/64 on tdv6a")
	want(t, "no route", v(map[string]string{"ip": "2001:2:0:1::5"}), sdk.ErrNotConfigured, "no interface of this node has a connected route covering ip 2001:2:0:1::5")
	want(t, "nic and netmask need no route", v(map[string]string{"ip": "2001:2:0:1::5", "nic": nic6A, "cidr_netmask": "128"}), sdk.OK)
	want(t, "anycast", v(map[string]string{"ip": "2001:2::"}), sdk.ErrNotConfigured, "Subnet-Router anycast address of 2001:2::/64")

	// IPv6 turned off on the interface: the kernel refuses the address.
	run(t, "ip", "netns", "exec", l.nsA, "sysctl", "-qw", "net.ipv6.conf."+nic6A+".disable_ipv6=1")
	want(t, "start with IPv6 disabled", a.Start(ctx, req("vip6", vip6Params("nic", nic6A, "cidr_netmask", "64"))),
		sdk.ErrNotConfigured, "IPv6 is disabled on tdv6a", "disable_ipv6")
}

// The agent through the real gRPC path, in process, with an IPv6 VIP.
func TestIPv6ConformanceInProcess(t *testing.T) {
	l := newLab6(t)
	sdktest.Conformance(t, sdktest.Serve(t, l.agent(t)), sdktest.Resource{ID: "vip6", AgentType: Name, Params: vip6Params("arp_count", "1"),
		Break: breakVIP(l.hA, nic6A)})
}

// Through the plugin process, launched as tandem launches it inside
// namespace A: start announces the IPv6 VIP to the peer, stop removes it.
func TestIPv6PluginBinaryAnnounces(t *testing.T) {
	l := newLab6(t)
	p := launchInNetns(t, l.nsA, t.TempDir())
	ip := netip.MustParseAddr(vip6IP)
	w := watchNA(t, l.hB, nic6B)
	r := sdk.Request{ResourceID: "vip6", AgentType: Name, Params: vip6Params("arp_count", "2", "arp_interval", "100ms"), Instance: sdk.Instance{Node: "a", CloneIndex: -1}}
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	res, err := p.Start(c, r)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "start", res, sdk.OK, "unsolicited neighbour advertisement 2×")
	f, err := w.next(5*time.Second, unsolicitedFrom(l.macA, ip))
	if err != nil {
		t.Fatalf("neighbour advertisement from the plugin process: %v", err)
	}
	t.Logf("start RPC → neighbour advertisement at the peer: %s", f.at.Sub(start))
	if got := addrsOf(t, l.hA, vip6IP); len(got) != 1 || got[0].Proto != OwnerProto {
		t.Fatalf("after start: %+v", got)
	}
	if res, err = p.Stop(c, r); err != nil {
		t.Fatal(err)
	}
	want(t, "stop", res, sdk.OK, "removed 2001:2::23/64")
	if got := addrsOf(t, l.hA, vip6IP); len(got) != 0 {
		t.Fatalf("after stop: %+v", got)
	}
}
