package lrm

// Fenced plans: this node runs a transition (or honours an abort) only from
// the current coordinator, checked against the coordinator lease: the event
// must be sent by the node it names as coordinator, and that node must hold
// the coordinator lease under the event's fencing token. A stale
// coordinator's plan (its tenure is over) and a plan forged in another
// node's name are dropped, logged and counted (docs/leases.md).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tandem-ha/tandem/host/lease"
)

// admitWait bounds how long a plan whose token is newer than the tenure
// this node reads waits for the lease's write to show (a new coordinator's
// first plan can overtake it), and how long a plan waits for a lease that
// cannot be read at the moment.
const admitWait = 1500 * time.Millisecond

// admitReadWait bounds how long a plan waits while the lease cannot be read
// at all (the leases stream is electing a leader, which takes up to one
// Raft election, 4-9 s): dropping it sooner would leave the coordinator
// waiting for the transition's timeout before it plans again.
const admitReadWait = 10 * time.Second

// admitRetry is the pause between two reads of the lease while a plan waits.
const admitRetry = 100 * time.Millisecond

// verdict of one look at the lease.
type verdict int

const (
	admitted verdict = iota
	dropped
	waiting // the event's token is newer than the tenure read: read again
)

// judge compares an event's coordinator and token with a tenure.
//
// Token 0 comes from a coordinator of a build before fencing (a rolling
// upgrade): it is admitted only while such an older build holds the lease
// (its record carries no token and no Fences flag).
func judge(coordinator string, token uint64, t lease.Tenure) (verdict, string) {
	switch {
	case token == 0 && t.Node == coordinator && t.Legacy:
		return admitted, ""
	case token == 0:
		return dropped, fmt.Sprintf("it carries no fencing token and the coordinator lease is %s's (token %d)", t.Node, t.Token)
	case token > t.Token:
		return waiting, fmt.Sprintf("its token %d is newer than the coordinator lease this node reads (%s, token %d)", token, t.Node, t.Token)
	case t.Node != coordinator:
		return dropped, fmt.Sprintf("the coordinator lease is held by %s (token %d), not by %s", t.Node, t.Token, coordinator)
	case token < t.Token:
		return dropped, fmt.Sprintf("its token %d is stale: %s's current tenure has token %d", token, t.Node, t.Token)
	}
	return admitted, ""
}

// admit says whether an event (kind "transition" or "abort", id) that names
// coordinator and token and was published by source may be acted on. It
// waits up to admitWait for the lease's newest write; a dropped event is
// logged (at most once a second) and counted.
func (l *LRM) admit(ctx context.Context, kind, id, coordinator string, token uint64, source string) bool {
	reason := ""
	if source != coordinator {
		reason = fmt.Sprintf("it was sent by %q, not by the coordinator it names (%q)", source, coordinator)
	} else {
		reason = l.checkLease(ctx, coordinator, token)
	}
	if reason == "" {
		return true
	}
	n := l.fenced.Add(1)
	l.mu.Lock()
	loud := time.Since(l.fenceLogged) >= time.Second
	if loud {
		l.fenceLogged = time.Now()
	}
	l.mu.Unlock()
	if loud {
		l.log.Warn("dropped a "+kind+" not from the current coordinator: "+reason, "id", id, "coordinator", coordinator,
			"token", token, "dropped_so_far", n)
	}
	return false
}

// checkLease returns why the lease does not admit (coordinator, token), or
// "" if it does.
func (l *LRM) checkLease(ctx context.Context, coordinator string, token uint64) string {
	start := time.Now()
	deadline := start.Add(admitWait)
	why := ""
	for {
		unreadable := false
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		t, err := l.cfg.Leases.Tenure(rctx, lease.CoordinatorKey)
		cancel()
		switch {
		case err == nil:
			l.mu.Lock()
			l.tenure = t
			l.mu.Unlock()
			v, reason := judge(coordinator, token, t)
			if v != waiting {
				return reason
			}
			why = reason
		case errors.Is(err, lease.ErrNoHolder):
			why = "nobody holds the coordinator lease"
		default:
			// The lease cannot be read (the bus has no leader for the
			// moment): the tenure last read stands in for it, so that a
			// genuine plan is not lost to an election.
			l.mu.Lock()
			last := l.tenure
			l.mu.Unlock()
			if last.Node != "" {
				if v, _ := judge(coordinator, token, last); v == admitted {
					return ""
				}
			}
			why = fmt.Sprintf("the coordinator lease could not be read: %v", err)
			unreadable = true
		}
		limit := deadline
		if unreadable {
			limit = start.Add(admitReadWait)
		}
		if !time.Now().Add(admitRetry).Before(limit) {
			return why
		}
		select {
		case <-ctx.Done():
			return why
		case <-time.After(admitRetry):
		}
	}
}

// Fenced is how many transitions and aborts this node dropped because they
// did not come from the current coordinator.
func (l *LRM) Fenced() uint64 { return l.fenced.Load() }
