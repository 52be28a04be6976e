package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/tandem-ha/tandem/e2e/priv"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// The lab: two network namespaces joined by a veth pair, nothing in the
// test machine's own namespace. Names start with "tdvip"; addresses come
// from 198.18.0.64/27 only.
const (
	nicA  = "tdvipa"
	nicB  = "tdvipb"
	addrA = "198.18.0.65/27"
	addrB = "198.18.0.66/27"
	vipIP = "198.18.0.70"
)

var labSeq atomic.Int32

type lab struct {
	nsA, nsB string
	hA, hB   netns.NsHandle
	macA     net.HardwareAddr
	macB     net.HardwareAddr
}

func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newLab(t testing.TB) *lab {
	t.Helper()
	return buildLab(t, labNet{prefix: "tdvip", nicA: nicA, nicB: nicB, addA: []string{addrA}, addB: []string{addrB}})
}

// labNet says how to build a lab: the prefix of its namespaces' names, its
// interfaces, and the `ip addr add` arguments of each side's own address.
type labNet struct {
	prefix     string
	nicA, nicB string
	addA, addB []string
}

func buildLab(t testing.TB, c labNet) *lab {
	t.Helper()
	priv.Require(t, "ip")
	n := labSeq.Add(1)
	l := &lab{
		nsA: fmt.Sprintf("%s%d-%da", c.prefix, os.Getpid(), n),
		nsB: fmt.Sprintf("%s%d-%db", c.prefix, os.Getpid(), n),
	}
	nicA, nicB, addrA, addrB := c.nicA, c.nicB, c.addA, c.addB
	for _, ns := range []string{l.nsA, l.nsB} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("remove namespace %s: %v %s", ns, err, out)
			}
		})
	}
	run(t, "ip", "-n", l.nsA, "link", "add", nicA, "type", "veth", "peer", "name", nicB, "netns", l.nsB)
	run(t, append([]string{"ip", "-n", l.nsA, "addr", "add", "dev", nicA}, addrA...)...)
	run(t, append([]string{"ip", "-n", l.nsB, "addr", "add", "dev", nicB}, addrB...)...)
	run(t, "ip", "-n", l.nsA, "link", "set", nicA, "up")
	run(t, "ip", "-n", l.nsB, "link", "set", nicB, "up")
	var err error
	if l.hA, err = netns.GetFromName(l.nsA); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.hA.Close() })
	if l.hB, err = netns.GetFromName(l.nsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.hB.Close() })
	l.macA = l.mac(t, l.hA, nicA)
	l.macB = l.mac(t, l.hB, nicB)
	return l
}

// in runs fn on a thread inside ns.
func in(ns netns.NsHandle, fn func() error) error {
	return NewWith(Options{Netns: ns}).inNetns(fn)
}

func (l *lab) mac(t testing.TB, ns netns.NsHandle, nic string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	err := in(ns, func() error {
		link, err := netlink.LinkByName(nic)
		if err != nil {
			return err
		}
		mac = link.Attrs().HardwareAddr
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

// agent returns an in-process agent working in namespace A, with its own
// state directory.
func (l *lab) agent(t testing.TB) *Agent {
	return NewWith(Options{
		StateDir: t.TempDir(),
		Netns:    l.hA,
		Logger:   slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// addrsOf lists namespace ns's addresses equal to ip.
func addrsOf(t testing.TB, ns netns.NsHandle, ip string) []kernelAddr {
	t.Helper()
	var out []kernelAddr
	err := in(ns, func() error {
		all, err := listAddrs()
		for _, a := range all {
			if a.IP.String() == ip {
				out = append(out, a)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkFor polls f every interval until it returns nil or total passes.
func req(id string, params map[string]string) sdk.Request {
	return sdk.Request{ResourceID: id, AgentType: Name, Params: params, Instance: sdk.Instance{Node: "a", CloneIndex: -1}}
}

func want(t testing.TB, what string, got sdk.Result, code sdk.Code, contains ...string) {
	t.Helper()
	if got.Code != code {
		t.Fatalf("%s: %v %q, want %v", what, got.Code, got.Message, code)
	}
	for _, c := range contains {
		if !strings.Contains(got.Message, c) {
			t.Fatalf("%s: message %q does not say %q", what, got.Message, c)
		}
	}
}

// arpWatcher is a packet socket in the peer's namespace that records ARP
// frames about ip, with the time each arrived.
type arpWatcher struct {
	frames chan seenFrame
	stop   func()
}

type seenFrame struct {
	p  arpPacket
	at time.Time
}

func watchARP(t testing.TB, ns netns.NsHandle, nic string, ip netip.Addr) *arpWatcher {
	t.Helper()
	var s *arpSocket
	err := in(ns, func() error {
		link, err := netlink.LinkByName(nic)
		if err != nil {
			return err
		}
		s, err = openARPSocket(link.Attrs().Index, link.Attrs().HardwareAddr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &arpWatcher{frames: make(chan seenFrame, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for ctx.Err() == nil {
			// Bounded reads: the loop notices the cancel within 50 ms.
			if err := s.waitReadable(50 * time.Millisecond); err != nil {
				continue
			}
			n, _, err := s.recv(buf)
			if err != nil {
				continue
			}
			at := time.Now()
			p, err := parseFrame(buf[:n])
			if err != nil || (p.SenderIP != ip && p.TargetIP != ip) {
				continue
			}
			select {
			case w.frames <- seenFrame{p, at}:
			default:
			}
		}
	}()
	w.stop = func() { cancel(); <-done; s.Close() }
	t.Cleanup(w.stop)
	return w
}

// next waits up to total for a frame that matches.
func (w *arpWatcher) next(total time.Duration, match func(arpPacket) bool) (seenFrame, error) {
	timer := time.NewTimer(total)
	defer timer.Stop()
	for {
		select {
		case f := <-w.frames:
			if match(f.p) {
				return f, nil
			}
		case <-timer.C:
			return seenFrame{}, errors.New("no matching ARP frame")
		}
	}
}

// breakVIP is a conformance Resource.Break for a VIP in namespace ns: the
// address is deleted from nic behind the agent's back (what an admin's
// `ip addr del`, or a network manager rewriting the interface, does).
func breakVIP(ns netns.NsHandle, nic string) func(sdk.Request) error {
	return func(req sdk.Request) error {
		ip, err := netip.ParseAddr(req.Params["ip"])
		if err != nil {
			return err
		}
		return in(ns, func() error {
			link, err := netlink.LinkByName(nic)
			if err != nil {
				return err
			}
			addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
			if err != nil {
				return err
			}
			for _, a := range addrs {
				if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip {
					return netlink.AddrDel(link, &a)
				}
			}
			return fmt.Errorf("%s is not on %s: nothing to break", ip, nic)
		})
	}
}
