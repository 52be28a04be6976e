package vip

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Hold sets the deadline until which the resource's address may stay on
// this node: the host sends one at every renewal of the VIP's lease. When
// the deadline passes without a newer Hold, a timer in this process
// removes the address, however frozen the host is. Until = 0 cancels the
// hold. A deadline already in the past removes the address at once and
// fails, so that the host learns it was late.
//
// A newer Hold replaces the deadline whether it is later or earlier: the
// host knows its lease best.
//
// The timer needs this process to run. So that a machine whose whole
// userland is frozen (a hung VM, every process stopped) cannot keep the
// address either, each Hold also gives the address a kernel lifetime
// (valid_lft and preferred_lft) that covers the hold, rounded up to the
// kernel's whole seconds: the kernel removes the address by itself once no
// Hold has refreshed it for that long. docs/leases.md states the bound.
func (a *Agent) Hold(ctx context.Context, req sdk.HoldRequest) sdk.Result {
	if err := checkType(req.AgentType); err != nil {
		return sdk.Result{Code: sdk.ErrNotConfigured, Message: err.Error()}
	}
	p, err := ParseParams(req.Params)
	if err != nil && !p.IP.IsValid() {
		return paramsResult(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.resource(resourceKey(req.ResourceID, p.IP))
	r.holdParams = req.Params
	if r.holdTimer != nil {
		r.holdTimer.Stop()
		r.holdTimer = nil
	}
	if req.Until == 0 {
		r.holdUntil = 0
		if err := a.refreshLifetimeLocked(p.IP, 0); err != nil {
			return errResult(err)
		}
		return sdk.Resultf(sdk.OK, "hold on %s cancelled: no deadline", p.IP)
	}
	r.holdUntil = req.Until
	now := sdk.MonotonicNow()
	if req.Until <= now {
		late := (now - req.Until).Round(time.Millisecond)
		msg := a.expireLocked(r, p.IP, fmt.Sprintf("hold deadline had passed %s before it arrived", late))
		return sdk.Resultf(sdk.ErrGeneric, "hold on %s arrived %s after its deadline: %s", p.IP, late, msg)
	}
	until := req.Until
	r.holdTimer = time.AfterFunc(until-now, func() { a.holdFired(r, until) })
	lifetime := kernelLifetime(until, now)
	if err := a.refreshLifetimeLocked(p.IP, lifetime); err != nil {
		// The timer still removes the address at the deadline; only the
		// kernel's own bound is stale.
		return errResult(fmt.Errorf("%s held for %s, but %w", p.IP, (until - now).Round(time.Millisecond), err))
	}
	return sdk.Resultf(sdk.OK, "%s held for %s (kernel lifetime %ds)", p.IP, (until - now).Round(time.Millisecond), lifetime)
}

// kernelLifetime is the kernel lifetime, in its whole seconds, that covers
// a hold until `until` seen at now: the time left rounded up, at least 1
// (0 would mean forever). No hold (until 0) is no lifetime: 0.
func kernelLifetime(until, now time.Duration) uint32 {
	if until == 0 {
		return 0
	}
	s := (until - now + time.Second - 1) / time.Second
	return uint32(min(max(s, 1), foreverLifetime-1))
}

// refreshLifetimeLocked restarts the kernel lifetime of every copy of ip
// this agent added (0: for good); there is nothing to do when none is
// configured. Called with a.mu held, so no Start, Stop or expiry of ours
// runs between finding the address and refreshing it (a refresh would add
// an address that had just been removed).
func (a *Agent) refreshLifetimeLocked(ip netip.Addr, lifetime uint32) error {
	return a.inNetns(func() error {
		found, err := a.findAddr(ip)
		if err != nil {
			return err
		}
		for _, f := range found {
			if f.Owned {
				if err := setLifetime(f.kernelAddr, lifetime); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// holdFired runs on the hold's timer. A Hold that came in meanwhile has
// replaced the deadline (and stopped the timer, unless it was already
// firing): then there is nothing to do.
func (a *Agent) holdFired(r *resource, until time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.holdUntil != until {
		return
	}
	if now := sdk.MonotonicNow(); now < until {
		// Go's timers run on the same clock; this only guards against a
		// timer that fires a hair early.
		r.holdTimer = time.AfterFunc(until-now, func() { a.holdFired(r, until) })
		return
	}
	r.holdTimer = nil
	p, _ := ParseParams(r.holdParams)
	if !p.IP.IsValid() {
		a.log().Error("hold expired but its params have no valid ip; nothing removed", "resource", r.id)
		return
	}
	a.expireLocked(r, p.IP, "hold expired without renewal")
}

// expireLocked removes the resource's address because its hold ran out and
// logs it. Called with a.mu held.
func (a *Agent) expireLocked(r *resource, ip netip.Addr, why string) string {
	r.gen++
	if r.stopARP != nil {
		r.stopARP()
		r.stopARP = nil
	}
	var removed, foreign []string
	err := a.inNetns(func() error {
		var err error
		removed, foreign, err = a.removeOurs(ip)
		return err
	})
	r.expiredAt = sdk.MonotonicNow()
	if err != nil {
		r.expiredMsg = why + ", and removing the address failed"
		a.log().Error("hold expired: removing the address failed", "resource", r.id, "ip", ip.String(), "reason", why, "error", err)
		return fmt.Sprintf("removing %s failed: %v", ip, err)
	}
	msg := describeRemoval(ip, removed, foreign)
	if len(removed) > 0 {
		r.expiredMsg = "removed: " + why
		a.log().Warn("hold expired: the host did not renew it in time; address removed", "resource", r.id, "ip", ip.String(), "reason", why, "removed", strings.Join(removed, ", "))
	} else {
		r.expiredMsg = why + "; nothing to remove"
		a.log().Info("hold expired; the address was not configured", "resource", r.id, "ip", ip.String(), "reason", why)
	}
	return msg
}
