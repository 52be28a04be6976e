package vip

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// conformanceResource is the VIP Conformance checks in l's namespace A;
// its Break deletes the address there.
func conformanceResource(l *lab) sdktest.Resource {
	return sdktest.Resource{ID: "vip", AgentType: Name, Params: map[string]string{"ip": vipIP, "arp_count": "1"},
		Break: breakVIP(l.hA, nicA)}
}

// The agent through the real gRPC path, in process, driving namespace A.
func TestConformanceInProcess(t *testing.T) {
	l := newLab(t)
	sdktest.Conformance(t, sdktest.Serve(t, l.agent(t)), conformanceResource(l))
}

// launchInNetns builds the plugin binary and launches it as tandem does,
// inside namespace ns: the executable tandem starts is a wrapper that
// enters the namespace and execs the plugin (ip netns exec does not fork,
// so the plugin's parent is still the test process).
func launchInNetns(t *testing.T, ns, stateDir string) *sdk.Process {
	t.Helper()
	bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/vip/cmd/tandem-plugin-vip")
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(t.TempDir(), "tandem-plugin-vip")
	script := fmt.Sprintf("#!/bin/sh\nexec %s netns exec %s %s\n", ipPath, ns, bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return sdktest.Launch(t, wrapper, "TANDEM_VIP_STATE_DIR="+stateDir)
}

// The plugin binary, launched the way tandem launches it, in namespace A.
func TestConformancePluginBinary(t *testing.T) {
	l := newLab(t)
	p := launchInNetns(t, l.nsA, t.TempDir())
	sdktest.Conformance(t, p, conformanceResource(l))
}

// Through the plugin process: start announces the VIP to the peer, and
// when the host stops extending the hold (as a frozen host would), the
// plugin removes the address by itself.
func TestPluginBinaryAnnouncesAndHoldExpires(t *testing.T) {
	l := newLab(t)
	p := launchInNetns(t, l.nsA, t.TempDir())
	ip := netip.MustParseAddr(vipIP)
	w := watchARP(t, l.hB, nicB, ip)
	params := map[string]string{"ip": vipIP, "arp_count": "2", "arp_interval": "100ms"}
	r := sdk.Request{ResourceID: "vip", AgentType: Name, Params: params, Instance: sdk.Instance{Node: "a", CloneIndex: -1}}
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	res, err := p.Hold(c, sdk.HoldRequest{ResourceID: "vip", AgentType: Name, Params: params, Until: sdk.MonotonicNow() + time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "hold", res, sdk.OK)
	start := time.Now()
	res, err = p.Start(c, r)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "start", res, sdk.OK)
	f, err := w.next(5*time.Second, func(p arpPacket) bool {
		return p.Op == arpOpRequest && p.SenderIP == ip && p.TargetIP == ip && bytes.Equal(p.SenderMAC, l.macA)
	})
	if err != nil {
		t.Fatalf("gratuitous ARP from the plugin process: %v", err)
	}
	t.Logf("start RPC → gratuitous ARP at the peer: %s", f.at.Sub(start))
	if got := addrsOf(t, l.hA, vipIP); len(got) != 1 || got[0].Proto != OwnerProto {
		t.Fatalf("after start: %+v", got)
	}
	// No renewal: the plugin drops the address at the deadline.
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := addrsOf(t, l.hA, vipIP); len(got) != 0 {
			return fmt.Errorf("still configured: %+v", got)
		}
		return nil
	})
	res, err = p.Monitor(c, r)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "monitor after expiry", res, sdk.NotRunning, "hold expired")
}
