package vip

import (
	"fmt"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

func TestKernelLifetime(t *testing.T) {
	s := time.Second
	for _, c := range []struct {
		until, now time.Duration
		want       uint32
	}{
		{0, 5 * s, 0},                            // no hold: for good
		{10*s + 850*time.Millisecond, 10 * s, 1}, // the lease's 850 ms: one second
		{11 * s, 10 * s, 1},
		{11*s + time.Nanosecond, 10 * s, 2},
		{70 * s, 10 * s, 60},
		{10 * s, 10 * s, 1}, // due now: the least the kernel keeps, never forever
		{9 * s, 10 * s, 1},
	} {
		if got := kernelLifetime(c.until, c.now); got != c.want {
			t.Errorf("kernelLifetime(%s, %s) = %d, want %d", c.until, c.now, got, c.want)
		}
	}
}

// addrFamily is one address family's lab and VIP, so that each lifetime test
// runs for IPv4 and IPv6 alike.
type addrFamily struct {
	name   string
	newLab func(testing.TB) *lab
	id, ip string
	params func(...string) map[string]string
}

var families = []addrFamily{
	{"IPv4", newLab, "vip", vipIP, vipParams},
	{"IPv6", newLab6, "vip6", vip6IP, vip6Params},
}

// Every hold gives our address a kernel lifetime that covers the hold (and
// keeps our protocol mark and, for IPv6, nodad); cancelling the hold makes
// the address permanent again.
func TestHoldSetsKernelLifetime(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			l := f.newLab(t)
			a := l.agent(t)
			r := req(f.id, f.params("arp_count", "1"))
			one := func(what string) kernelAddr {
				t.Helper()
				got := addrsOf(t, l.hA, f.ip)
				if len(got) != 1 || got[0].Proto != OwnerProto {
					t.Fatalf("%s: %+v, want one address with proto %#x", what, got, OwnerProto)
				}
				return got[0]
			}
			want(t, "hold", hold(a, f.id, r.Params, sdk.MonotonicNow()+850*time.Millisecond), sdk.OK, "kernel lifetime 1s")
			want(t, "start", a.Start(ctx, r), sdk.OK)
			if k := one("after start"); k.Valid > 1 || k.Preferred > 1 {
				t.Fatalf("after start under an 850 ms hold: valid %d s, preferred %d s, want at most 1", k.Valid, k.Preferred)
			}
			want(t, "longer hold", hold(a, f.id, r.Params, sdk.MonotonicNow()+time.Minute), sdk.OK, "kernel lifetime 60s")
			if k := one("after a 1-minute hold"); k.Valid < 58 || k.Valid > 60 || k.Preferred != k.Valid {
				t.Fatalf("after a 1-minute hold: valid %d s, preferred %d s, want 58-60 both", k.Valid, k.Preferred)
			}
			want(t, "start again", a.Start(ctx, r), sdk.OK, "already on")
			if k := one("after a second start"); k.Valid < 58 || k.Valid > 60 {
				t.Fatalf("after a second start: valid %d s, want 58-60", k.Valid)
			}
			want(t, "cancel", hold(a, f.id, r.Params, 0), sdk.OK, "cancelled")
			if k := one("after the hold was cancelled"); k.Valid != foreverLifetime || k.Preferred != foreverLifetime {
				t.Fatalf("after the hold was cancelled: valid %d, preferred %d, want forever", k.Valid, k.Preferred)
			}
			want(t, "stop", a.Stop(ctx, r), sdk.OK)
		})
	}
}

// A machine whose whole userland is frozen runs no timer of the agent: the
// kernel itself removes the address once its lifetime runs out, and not
// before the hold's deadline.
func TestFrozenAgentKernelRemovesAddress(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			l := f.newLab(t)
			a := l.agent(t)
			r := req(f.id, f.params("arp_count", "1"))
			until := sdk.MonotonicNow() + 850*time.Millisecond
			want(t, "hold", hold(a, f.id, r.Params, until), sdk.OK)
			want(t, "start", a.Start(ctx, r), sdk.OK)
			// Frozen: the hold's timer never fires.
			a.mu.Lock()
			a.res[f.id].holdTimer.Stop()
			a.mu.Unlock()
			var goneAt time.Duration
			poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
				if got := addrsOf(t, l.hA, f.ip); len(got) != 0 {
					return fmt.Errorf("still configured: %+v", got)
				}
				goneAt = sdk.MonotonicNow()
				return nil
			})
			if goneAt < until {
				t.Fatalf("the kernel removed the address %s before the hold's deadline", until-goneAt)
			}
			t.Logf("the kernel removed the address %s after the hold's deadline (%s after the hold)",
				(goneAt - until).Round(time.Millisecond), (goneAt - until + 850*time.Millisecond).Round(time.Millisecond))
		})
	}
}

// Holds that come every TTL/4 keep the address past its kernel lifetime:
// each one restarts the kernel's count.
func TestHoldsRefreshKernelLifetime(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			l := f.newLab(t)
			a := l.agent(t)
			r := req(f.id, f.params("arp_count", "1"))
			// A 2 s hold renewed every 250 ms: the kernel lifetime (2 s) is
			// passed several times over in 4 s, and a busy machine's late
			// renewal still comes well within it.
			want(t, "hold", hold(a, f.id, r.Params, sdk.MonotonicNow()+2*time.Second), sdk.OK)
			want(t, "start", a.Start(ctx, r), sdk.OK)
			a.mu.Lock()
			a.res[f.id].holdTimer.Stop() // only the kernel may remove it
			a.mu.Unlock()
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for range 16 {
				<-tick.C
				want(t, "renew", hold(a, f.id, r.Params, sdk.MonotonicNow()+2*time.Second), sdk.OK)
				a.mu.Lock()
				a.res[f.id].holdTimer.Stop()
				a.mu.Unlock()
				if got := addrsOf(t, l.hA, f.ip); len(got) != 1 {
					t.Fatalf("the address went while its hold was being renewed: %+v", got)
				}
			}
			want(t, "stop", a.Stop(ctx, r), sdk.OK)
		})
	}
}
