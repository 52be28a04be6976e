package executor

import (
	"context"
	"errors"
	"sync"
)

// instanceKey names one instance of a resource on this node.
type instanceKey struct {
	resource   string
	cloneIndex int
}

// Locks keeps operations on one resource instance from overlapping: a
// monitor never runs during that instance's start or stop. An action
// never waits for a monitor, though: it cancels the monitor that holds the
// instance (its result would say nothing of what the action changes), so
// that the stop of a resource whose agent hangs in monitor takes no
// longer than the stop's own timeout. Share one between the Executor and
// Monitors of a host.
type Locks struct {
	mu sync.Mutex
	m  map[instanceKey]*slot
}

type slot struct {
	ch      chan struct{} // holds a token while the instance is held
	waiting int           // actions waiting for it
	preempt func()        // cancels the monitor holding it, if one does
}

// errPreempted: a monitor gave the instance up to an action.
var errPreempted = errors.New("an action of the instance is waiting")

// NewLocks returns an empty lock table.
func NewLocks() *Locks { return &Locks{m: map[instanceKey]*slot{}} }

func (l *Locks) slotLocked(k instanceKey) *slot {
	s, ok := l.m[k]
	if !ok {
		s = &slot{ch: make(chan struct{}, 1)}
		l.m[k] = s
	}
	return s
}

// lock takes instance k for an action, cancelling the monitor that holds
// it.
func (l *Locks) lock(ctx context.Context, k instanceKey) (unlock func(), err error) {
	l.mu.Lock()
	s := l.slotLocked(k)
	s.waiting++
	if s.preempt != nil {
		s.preempt()
	}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		s.waiting--
		l.mu.Unlock()
	}()
	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Hold takes an instance (cloneIndex -1 for a primitive) as an action
// does: a monitor of it that is running is cancelled and its result
// dropped, and none starts until unlock. The resource manager's reload
// holds it, so that no monitor runs with the old parameters while the
// agent applies the new ones.
func (l *Locks) Hold(ctx context.Context, resource string, cloneIndex int) (unlock func(), err error) {
	return l.lock(ctx, instanceKey{resource, cloneIndex})
}

// lockMonitor takes instance k for a monitor, which runs with the context
// it returns: that context ends when an action wants the instance.
func (l *Locks) lockMonitor(ctx context.Context, k instanceKey) (mctx context.Context, unlock func(), err error) {
	l.mu.Lock()
	s := l.slotLocked(k)
	l.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	mctx, cancel := context.WithCancel(ctx)
	l.mu.Lock()
	if s.waiting > 0 {
		l.mu.Unlock()
		cancel()
		<-s.ch
		return nil, nil, errPreempted
	}
	s.preempt = cancel
	l.mu.Unlock()
	return mctx, func() {
		l.mu.Lock()
		s.preempt = nil
		l.mu.Unlock()
		cancel()
		<-s.ch
	}, nil
}
