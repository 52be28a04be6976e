package executor

import (
	"context"
	"sync"

	"github.com/tandem-ha/tandem/bus"
)

// boardTransitions is how many transitions a Board remembers: results of
// older ones are dropped (nothing waits on a superseded transition).
const boardTransitions = 16

// Board collects action results of recent transitions and lets executors
// wait for them. The coordinator records every bus.ActionResult it
// receives; the local executor records its own.
type Board struct {
	mu      sync.Mutex
	results map[string]map[string]bus.ActionResult // transition -> action -> result
	waiters map[string]map[string]chan struct{}
	order   []string // transitions, oldest first
}

var (
	_ Results  = (*Board)(nil)
	_ Recorder = (*Board)(nil)
)

// NewBoard returns an empty Board.
func NewBoard() *Board {
	return &Board{results: map[string]map[string]bus.ActionResult{}, waiters: map[string]map[string]chan struct{}{}}
}

func (b *Board) touch(transition string) {
	if _, ok := b.results[transition]; ok {
		return
	}
	b.results[transition] = map[string]bus.ActionResult{}
	b.waiters[transition] = map[string]chan struct{}{}
	b.order = append(b.order, transition)
	for len(b.order) > boardTransitions {
		old := b.order[0]
		b.order = b.order[1:]
		delete(b.results, old)
		delete(b.waiters, old) // waiters of a superseded transition wait for their ctx
	}
}

// Record stores a result; results without a transition (one-off
// operations) are ignored, and the first result of an action wins.
func (b *Board) Record(r bus.ActionResult) {
	if r.Transition == "" || r.Action == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.touch(r.Transition)
	if _, ok := b.results[r.Transition][r.Action]; ok {
		return
	}
	b.results[r.Transition][r.Action] = r
	if ch, ok := b.waiters[r.Transition][r.Action]; ok {
		close(ch)
		delete(b.waiters[r.Transition], r.Action)
	}
}

// Await waits for the result of an action.
func (b *Board) Await(ctx context.Context, transition, action string) (bus.ActionResult, error) {
	b.mu.Lock()
	b.touch(transition)
	if r, ok := b.results[transition][action]; ok {
		b.mu.Unlock()
		return r, nil
	}
	ch, ok := b.waiters[transition][action]
	if !ok {
		ch = make(chan struct{})
		b.waiters[transition][action] = ch
	}
	b.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return bus.ActionResult{}, ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.results[transition][action], nil
}

// Forget drops a transition's results.
func (b *Board) Forget(transition string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.results, transition)
	delete(b.waiters, transition)
	for i, t := range b.order {
		if t == transition {
			b.order = append(b.order[:i], b.order[i+1:]...)
			break
		}
	}
}
