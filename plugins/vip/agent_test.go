package vip

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

var ctx = context.Background()

func vipParams(extra ...string) map[string]string {
	p := map[string]string{"ip": vipIP}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

// Start infers nic and prefix from the connected route, marks the address
// as ours, is idempotent; Stop removes it and is idempotent too.
func TestStartStopIdempotent(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	r := req("vip", vipParams("arp_count", "1"))

	want(t, "monitor before start", a.Monitor(ctx, r), sdk.NotRunning, "not configured")
	want(t, "start", a.Start(ctx, r), sdk.OK, "added 198.18.0.70/27 to tdvipa")
	got := addrsOf(t, l.hA, vipIP)
	if len(got) != 1 || got[0].Prefix != 27 || got[0].Proto != OwnerProto {
		t.Fatalf("after start: %+v", got)
	}
	want(t, "second start", a.Start(ctx, r), sdk.OK, "already on tdvipa")
	if got := addrsOf(t, l.hA, vipIP); len(got) != 1 {
		t.Fatalf("after second start: %+v", got)
	}
	want(t, "monitor", a.Monitor(ctx, r), sdk.OK, "198.18.0.70/27 on tdvipa")
	want(t, "stop", a.Stop(ctx, r), sdk.OK, "removed 198.18.0.70/27 on tdvipa")
	if got := addrsOf(t, l.hA, vipIP); len(got) != 0 {
		t.Fatalf("after stop: %+v", got)
	}
	want(t, "second stop", a.Stop(ctx, r), sdk.OK, "was not configured")
	want(t, "monitor after stop", a.Monitor(ctx, r), sdk.NotRunning)
	// The interface's own address was never touched.
	if got := addrsOf(t, l.hA, "198.18.0.65"); len(got) != 1 {
		t.Fatalf("own address: %+v", got)
	}
}

func TestStartWithLabelAndExplicitNetmask(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	r := req("vip", vipParams("nic", nicA, "cidr_netmask", "32", "label", "web", "arp_count", "0"))
	want(t, "start", a.Start(ctx, r), sdk.OK, "no gratuitous ARP: arp_count is 0")
	got := addrsOf(t, l.hA, vipIP)
	if len(got) != 1 || got[0].Prefix != 32 || got[0].Label != "tdvipa:web" {
		t.Fatalf("after start: %+v", got)
	}
	// Changed params move our own address.
	r2 := req("vip", vipParams("nic", nicA, "arp_count", "0"))
	want(t, "start with other netmask", a.Start(ctx, r2), sdk.OK, "added 198.18.0.70/27")
	if got := addrsOf(t, l.hA, vipIP); len(got) != 1 || got[0].Prefix != 27 {
		t.Fatalf("after restart: %+v", got)
	}
	want(t, "stop", a.Stop(ctx, r2), sdk.OK)
}

// The peer sees both forms of the gratuitous ARP, and its neighbour entry
// for the VIP, which pointed at another (failed) node, now points here.
func TestGratuitousARPReachesPeer(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	run(t, "ip", "-n", l.nsB, "neigh", "replace", vipIP, "lladdr", "02:00:00:00:00:99", "dev", nicB, "nud", "stale")
	ip := netip.MustParseAddr(vipIP)
	w := watchARP(t, l.hB, nicB, ip)

	r := req("vip", vipParams("arp_count", "3", "arp_interval", "50ms"))
	start := time.Now()
	want(t, "start", a.Start(ctx, r), sdk.OK, "gratuitous ARP 3×")
	isGratuitous := func(op uint16) func(arpPacket) bool {
		return func(p arpPacket) bool {
			return p.Op == op && p.SenderIP == ip && p.TargetIP == ip && bytes.Equal(p.SenderMAC, l.macA)
		}
	}
	req1, err := w.next(5*time.Second, isGratuitous(arpOpRequest))
	if err != nil {
		t.Fatalf("gratuitous request: %v", err)
	}
	t.Logf("start → gratuitous ARP request seen by the peer: %s", req1.at.Sub(start))
	if _, err := w.next(5*time.Second, isGratuitous(arpOpReply)); err != nil {
		t.Fatalf("gratuitous reply: %v", err)
	}
	// The rest of arp_count follows in the background.
	for i := 2; i <= 3; i++ {
		if _, err := w.next(5*time.Second, isGratuitous(arpOpRequest)); err != nil {
			t.Fatalf("gratuitous request %d: %v", i, err)
		}
	}
	poll.Until(t, 5*time.Second, 50*time.Millisecond, func() error {
		out := run(t, "ip", "-n", l.nsB, "neigh", "show", vipIP, "dev", nicB)
		if !strings.Contains(out, l.macA.String()) {
			return fmt.Errorf("peer neighbour entry: %q, want %s", out, l.macA)
		}
		return nil
	})
	want(t, "stop", a.Stop(ctx, r), sdk.OK)
}

// arp_refresh sends an announcement at each monitor.
func TestARPRefreshOnMonitor(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	ip := netip.MustParseAddr(vipIP)
	r := req("vip", vipParams("arp_count", "1", "arp_refresh", "true"))
	want(t, "start", a.Start(ctx, r), sdk.OK)
	w := watchARP(t, l.hB, nicB, ip)
	want(t, "monitor", a.Monitor(ctx, r), sdk.OK)
	if _, err := w.next(5*time.Second, func(p arpPacket) bool {
		return p.Op == arpOpReply && p.SenderIP == ip && p.TargetIP == ip
	}); err != nil {
		t.Fatalf("no refresh at monitor: %v", err)
	}
	want(t, "stop", a.Stop(ctx, r), sdk.OK)
}

// A peer that configures the same address answers our probe: the monitor
// fails naming its MAC.
func TestConflictDetected(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	r := req("vip", vipParams("arp_count", "1"))
	want(t, "start", a.Start(ctx, r), sdk.OK)
	want(t, "monitor without conflict", a.Monitor(ctx, r), sdk.OK)

	run(t, "ip", "-n", l.nsB, "addr", "add", vipIP+"/27", "dev", nicB)
	var res sdk.Result
	poll.Until(t, 10*time.Second, 100*time.Millisecond, func() error {
		res = a.Monitor(ctx, r)
		if res.Code == sdk.OK {
			return fmt.Errorf("monitor still says %q", res.Message)
		}
		return nil
	})
	want(t, "monitor with conflict", res, sdk.ErrGeneric, "address conflict", l.macB.String())

	run(t, "ip", "-n", l.nsB, "addr", "del", vipIP+"/27", "dev", nicB)
	want(t, "monitor after the peer let go", a.Monitor(ctx, r), sdk.OK)
	want(t, "stop", a.Stop(ctx, r), sdk.OK)
}

// Addresses that someone else configured are never taken over or
// removed: not by start, stop, or a hold's expiry.
func TestOnlyOurAddressesAreRemoved(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	run(t, "ip", "-n", l.nsA, "addr", "add", "198.18.0.71/27", "dev", nicA)
	run(t, "ip", "-n", l.nsA, "addr", "add", "198.18.0.72/27", "dev", nicA)

	ours := req("vip", vipParams("arp_count", "1"))
	want(t, "start ours", a.Start(ctx, ours), sdk.OK)
	want(t, "stop ours", a.Stop(ctx, ours), sdk.OK, "removed 198.18.0.70/27")
	if len(addrsOf(t, l.hA, "198.18.0.71")) != 1 || len(addrsOf(t, l.hA, "198.18.0.72")) != 1 {
		t.Fatal("stopping our VIP touched another address")
	}

	theirs := req("vip72", map[string]string{"ip": "198.18.0.72", "arp_count": "1"})
	want(t, "start on a foreign address", a.Start(ctx, theirs), sdk.ErrGeneric, "not added by tandem", "ip addr del 198.18.0.72/27 dev tdvipa")
	want(t, "monitor a foreign address", a.Monitor(ctx, theirs), sdk.ErrGeneric, "not by tandem")
	want(t, "stop a foreign address", a.Stop(ctx, theirs), sdk.OK, "left 198.18.0.72/27 on tdvipa in place")
	want(t, "hold already expired", a.Hold(ctx, sdk.HoldRequest{ResourceID: "vip72", AgentType: Name, Params: theirs.Params, Until: sdk.MonotonicNow() - time.Second}),
		sdk.ErrGeneric, "left 198.18.0.72/27 on tdvipa in place")
	if len(addrsOf(t, l.hA, "198.18.0.72")) != 1 {
		t.Fatal("a foreign address was removed")
	}
}

// On kernels that drop IFA_PROTO, the ownership record alone marks the
// address: simulate one by adding the address by hand (proto 0) and
// writing the record a start would have written.
func TestOwnershipRecordWithoutProto(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	run(t, "ip", "-n", l.nsA, "addr", "add", vipIP+"/27", "dev", nicA)
	if got := addrsOf(t, l.hA, vipIP); len(got) != 1 || got[0].Proto != 0 {
		t.Fatalf("hand-added address: %+v", got)
	}
	r := req("vip", vipParams("arp_count", "1"))
	want(t, "monitor before the record", a.Monitor(ctx, r), sdk.ErrGeneric, "not by tandem")
	if err := a.writeRecord(ownerRecord{Resource: "vip", IP: vipIP, Prefix: 27, NIC: nicA}); err != nil {
		t.Fatal(err)
	}
	want(t, "monitor with the record", a.Monitor(ctx, r), sdk.OK)
	// A record for another prefix or interface does not match.
	if err := a.writeRecord(ownerRecord{Resource: "vip", IP: vipIP, Prefix: 24, NIC: nicA}); err != nil {
		t.Fatal(err)
	}
	want(t, "stop with a mismatched record", a.Stop(ctx, r), sdk.OK, "in place")
	if err := a.writeRecord(ownerRecord{Resource: "vip", IP: vipIP, Prefix: 27, NIC: nicA}); err != nil {
		t.Fatal(err)
	}
	want(t, "stop with the record", a.Stop(ctx, r), sdk.OK, "removed 198.18.0.70/27")
	if rec, _ := a.readRecord(netip.MustParseAddr(vipIP)); rec != nil {
		t.Fatalf("record left after stop: %+v", rec)
	}
}

func TestValidateOnNode(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	v := func(params map[string]string) sdk.Result {
		return a.Validate(ctx, sdk.ValidateRequest{AgentType: Name, Params: params})
	}
	want(t, "defaults", v(vipParams()), sdk.OK, "198.18.0.70/27 on tdvipa")
	want(t, "unknown nic", v(vipParams("nic", "eth9")), sdk.ErrNotConfigured, `nic "eth9": no such interface on this node`, nicA)
	want(t, "no route", v(map[string]string{"ip": "198.18.0.200"}), sdk.ErrNotConfigured, "no interface of this node has a connected route covering ip 198.18.0.200", "set nic and cidr_netmask")
	want(t, "no route on nic", v(map[string]string{"ip": "198.18.0.200", "nic": nicA}), sdk.ErrNotConfigured, `nic "tdvipa" has no connected route`, "set cidr_netmask")
	want(t, "nic and netmask need no route", v(map[string]string{"ip": "198.18.0.200", "nic": nicA, "cidr_netmask": "32"}), sdk.OK)
	want(t, "bad ip", v(map[string]string{"ip": "300.1.1.1"}), sdk.ErrNotConfigured, `ip "300.1.1.1"`)
	want(t, "netmask out of range", v(vipParams("cidr_netmask", "40")), sdk.ErrNotConfigured, `cidr_netmask "40"`)
	want(t, "wrong agent type", a.Validate(ctx, sdk.ValidateRequest{AgentType: "ipaddr2", Params: vipParams()}), sdk.ErrNotConfigured, `agent = "vip"`)

	run(t, "ip", "-n", l.nsA, "link", "set", nicA, "down")
	want(t, "start on a down nic", a.Start(ctx, req("vip", vipParams("nic", nicA, "cidr_netmask", "27"))), sdk.ErrGeneric, "tdvipa is down")
}

// A VIP whose interface loses its carrier fails its monitor.
func TestMonitorSeesLinkDown(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	r := req("vip", vipParams("arp_count", "1"))
	want(t, "start", a.Start(ctx, r), sdk.OK)
	run(t, "ip", "-n", l.nsB, "link", "set", nicB, "down")
	poll.Until(t, 5*time.Second, 50*time.Millisecond, func() error {
		if res := a.Monitor(ctx, r); res.Code != sdk.ErrGeneric || !strings.Contains(res.Message, "tdvipa is operationally down") {
			return fmt.Errorf("monitor: %v %q", res.Code, res.Message)
		}
		return nil
	})
	want(t, "stop", a.Stop(ctx, r), sdk.OK)
}

func hold(a *Agent, id string, params map[string]string, until time.Duration) sdk.Result {
	return a.Hold(ctx, sdk.HoldRequest{ResourceID: id, AgentType: Name, Params: params, Until: until})
}

// The plugin removes the address by itself when the hold is not extended,
// and refuses to start again until a new hold arrives.
func TestHoldExpiryRemovesAddress(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	r := req("vip", vipParams("arp_count", "1"))
	want(t, "hold", hold(a, "vip", r.Params, sdk.MonotonicNow()+500*time.Millisecond), sdk.OK, "held for")
	want(t, "start", a.Start(ctx, r), sdk.OK)
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := addrsOf(t, l.hA, vipIP); len(got) != 0 {
			return fmt.Errorf("still configured: %+v", got)
		}
		return nil
	})
	want(t, "monitor after expiry", a.Monitor(ctx, r), sdk.NotRunning, "removed: hold expired without renewal")
	want(t, "start after expiry", a.Start(ctx, r), sdk.ErrGeneric, "refusing to start", "hold ended")
	if len(addrsOf(t, l.hA, vipIP)) != 0 {
		t.Fatal("a refused start added the address")
	}
	want(t, "new hold", hold(a, "vip", r.Params, sdk.MonotonicNow()+time.Minute), sdk.OK)
	want(t, "start under the new hold", a.Start(ctx, r), sdk.OK)
	want(t, "cancel the hold", hold(a, "vip", r.Params, 0), sdk.OK, "cancelled")
	want(t, "stop", a.Stop(ctx, r), sdk.OK)
}

// Renewals keep the address; once they stop, it goes.
func TestHoldRenewalsKeepAddress(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	r := req("vip", vipParams("arp_count", "1"))
	const ttl = 2 * time.Second
	want(t, "hold", hold(a, "vip", r.Params, sdk.MonotonicNow()+ttl), sdk.OK)
	want(t, "start", a.Start(ctx, r), sdk.OK)
	// Renew every 200 ms for 2.5 s: past the first deadline.
	for range 13 {
		time.Sleep(200 * time.Millisecond)
		want(t, "renew", hold(a, "vip", r.Params, sdk.MonotonicNow()+ttl), sdk.OK)
		if got := addrsOf(t, l.hA, vipIP); len(got) != 1 {
			t.Fatalf("address gone while the hold was being renewed: %+v", got)
		}
	}
	lastRenew := time.Now()
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := addrsOf(t, l.hA, vipIP); len(got) != 0 {
			return fmt.Errorf("still configured: %+v", got)
		}
		return nil
	})
	if gone := time.Since(lastRenew); gone < ttl-100*time.Millisecond {
		t.Fatalf("address removed %s after the last renewal, before its %s deadline", gone, ttl)
	}
}

// A hold that arrives after its own deadline removes the address at once;
// cancelling a hold (Until 0) lets the address stay.
func TestHoldLateAndCancelled(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	r := req("vip", vipParams("arp_count", "1"))
	want(t, "start without a hold", a.Start(ctx, r), sdk.OK)
	want(t, "late hold", hold(a, "vip", r.Params, sdk.MonotonicNow()-time.Second), sdk.ErrGeneric, "after its deadline", "removed 198.18.0.70/27")
	if len(addrsOf(t, l.hA, vipIP)) != 0 {
		t.Fatal("a late hold left the address")
	}
	want(t, "hold", hold(a, "vip", r.Params, sdk.MonotonicNow()+300*time.Millisecond), sdk.OK)
	want(t, "start", a.Start(ctx, r), sdk.OK)
	want(t, "cancel", hold(a, "vip", r.Params, 0), sdk.OK)
	// Well past the cancelled deadline the address is still there: wait
	// for a marker that is later than it (a second hold on another id that
	// must fire first).
	marker := req("marker", map[string]string{"ip": "198.18.0.73", "arp_count": "0"})
	want(t, "marker hold", hold(a, "marker", marker.Params, sdk.MonotonicNow()+600*time.Millisecond), sdk.OK)
	want(t, "marker start", a.Start(ctx, marker), sdk.OK)
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if len(addrsOf(t, l.hA, "198.18.0.73")) != 0 {
			return fmt.Errorf("marker not expired yet")
		}
		return nil
	})
	if len(addrsOf(t, l.hA, vipIP)) != 1 {
		t.Fatal("a cancelled hold still removed the address")
	}
	want(t, "stop", a.Stop(ctx, r), sdk.OK)
}

// Holds, starts, stops and monitors from many goroutines at once: the
// address ends up in a state one of the serial orders would give, and
// nothing is left behind after a final stop.
func TestHoldStartStopRace(t *testing.T) {
	l := newLab(t)
	a := l.agent(t)
	r := req("vip", vipParams("arp_count", "3", "arp_interval", "1ms"))
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 25 {
				switch (g + i) % 4 {
				case 0:
					a.Hold(ctx, sdk.HoldRequest{ResourceID: "vip", AgentType: Name, Params: r.Params, Until: sdk.MonotonicNow() + time.Duration(i%3)*time.Millisecond})
				case 1:
					a.Start(ctx, r)
				case 2:
					a.Stop(ctx, r)
				case 3:
					a.Monitor(ctx, r)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	want(t, "final stop", a.Stop(ctx, r), sdk.OK)
	if got := addrsOf(t, l.hA, vipIP); len(got) != 0 {
		t.Fatalf("left behind: %+v", got)
	}
	// A start refused under an expired hold never leaves an address.
	want(t, "expired hold", hold(a, "vip", r.Params, sdk.MonotonicNow()+time.Millisecond), sdk.OK)
	poll.Until(t, 5*time.Second, 10*time.Millisecond, func() error {
		if res := a.Start(ctx, r); res.Code != sdk.ErrGeneric {
			a.Stop(ctx, r)
			return fmt.Errorf("start still allowed: %q", res.Message)
		}
		return nil
	})
	if got := addrsOf(t, l.hA, vipIP); len(got) != 0 {
		t.Fatalf("after a refused start: %+v", got)
	}
}
