package executor

import (
	"context"
	"sync"
)

// instanceKey names one instance of a resource on this node.
type instanceKey struct {
	resource   string
	cloneIndex int
}

// Locks keeps operations on one resource instance from overlapping: a
// monitor never runs during that instance's start or stop. Share one
// between the Executor and Monitors of a host.
type Locks struct {
	mu sync.Mutex
	m  map[instanceKey]chan struct{}
}

// NewLocks returns an empty lock table.
func NewLocks() *Locks { return &Locks{m: map[instanceKey]chan struct{}{}} }

func (l *Locks) lock(ctx context.Context, k instanceKey) (unlock func(), err error) {
	l.mu.Lock()
	ch, ok := l.m[k]
	if !ok {
		ch = make(chan struct{}, 1)
		l.m[k] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
