package vip

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// A conflict seen by the node that holds the VIP's lease (its hold runs)
// is not a failure: the monitor says degraded, the address stays, and the
// segment is told again that it is here. Once the hold has ended, the same
// conflict is a failure again.
func TestConflictSeenByHolderKeepsAddress(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			l := f.newLab(t)
			a := l.agent(t)
			ip := netip.MustParseAddr(f.ip)
			// One announcement per burst, sent before the call returns: the watcher
			// then sees only what the monitor sent.
			r := req(f.id, f.params("arp_count", "1"))
			want(t, "hold", hold(a, f.id, r.Params, sdk.MonotonicNow()+time.Minute), sdk.OK)
			want(t, "start", a.Start(ctx, r), sdk.OK)

			// The peer takes the address too, as a frozen node's kernel
			// keeps answering for it.
			peerAdd := []string{"ip", "-n", l.nsB, "addr", "add", f.ip + "/27", "dev", nicB}
			if ip.Is6() {
				peerAdd = []string{"ip", "-n", l.nsB, "addr", "add", f.ip + "/64", "dev", nic6B, "nodad"}
			}
			run(t, peerAdd...)
			announced := f.watchAnnouncements(t, l, ip)
			var res sdk.Result
			poll.Until(t, 10*time.Second, 100*time.Millisecond, func() error {
				if res = a.Monitor(ctx, r); res.Code == sdk.OK {
					return fmt.Errorf("monitor still says %q", res.Message)
				}
				return nil
			})
			want(t, "monitor of the holder with a conflict", res, sdk.Degraded,
				"address conflict", l.macB.String(), "kept it: this node holds its lease", "sent again (1×")
			if got := addrsOf(t, l.hA, f.ip); len(got) != 1 {
				t.Fatalf("the holder's address after the conflict: %+v", got)
			}
			if err := announced(5 * time.Second); err != nil {
				t.Fatalf("the holder did not announce the address again: %v", err)
			}

			// Without the lease the conflict is a failure, as before.
			want(t, "cancel the hold", hold(a, f.id, r.Params, 0), sdk.OK)
			want(t, "monitor without a hold", a.Monitor(ctx, r), sdk.ErrGeneric, "address conflict", l.macB.String())
			want(t, "stop", a.Stop(ctx, r), sdk.OK)
		})
	}
}

// watchAnnouncements starts watching the peer's side for our gratuitous
// ARP (IPv4) or unsolicited neighbour advertisement (IPv6) of ip, and
// returns a wait for the first one.
func (f addrFamily) watchAnnouncements(t *testing.T, l *lab, ip netip.Addr) func(time.Duration) error {
	if ip.Is6() {
		w := watchNA(t, l.hB, nic6B)
		return func(d time.Duration) error {
			_, err := w.next(d, unsolicitedFrom(l.macA, ip))
			return err
		}
	}
	w := watchARP(t, l.hB, nicB, ip)
	return func(d time.Duration) error {
		_, err := w.next(d, func(p arpPacket) bool {
			return p.SenderIP == ip && p.TargetIP == ip && bytes.Equal(p.SenderMAC, l.macA)
		})
		return err
	}
}
