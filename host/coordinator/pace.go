package coordinator

import (
	"slices"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/policies"
)

// Pacing bounds how fast the coordinator publishes transitions, whatever
// the cluster's state: a plan that keeps failing the same way (a stop that
// fails and is not yet blocked, a start refused for a lease another node
// keeps) must not be republished as fast as its actions fail, flooding the
// bus and the logs.
const (
	// MinTransitionGap is the least time between two transitions: at most
	// 10 a second.
	MinTransitionGap = 100 * time.Millisecond
	// RetryBackoff is the pause before the same plan is published again
	// after it failed; it doubles with each failure in a row, up to
	// MaxRetryBackoff.
	RetryBackoff    = time.Second
	MaxRetryBackoff = time.Minute
)

// pacer decides when the next transition may be published. It is pure
// bookkeeping on the times it is given, so that tests need no clock.
type pacer struct {
	minGap, base, max time.Duration

	last     time.Time // when the last transition was published
	lastKey  string    // its actions
	failures int       // runs of lastKey in a row that failed
}

func newPacer() *pacer {
	return &pacer{minGap: MinTransitionGap, base: RetryBackoff, max: MaxRetryBackoff}
}

// planKey identifies a plan by its actions: the same key means the same
// starts and stops on the same nodes.
func planKey(t policies.Transition) string {
	ids := make([]string, len(t.Actions))
	for i, a := range t.Actions {
		ids[i] = a.ID
	}
	slices.Sort(ids)
	return strings.Join(ids, " ")
}

// wait is how long to hold back a transition with key before publishing
// it at now (0: publish now).
func (p *pacer) wait(key string, now time.Time) time.Duration {
	if p.last.IsZero() {
		return 0
	}
	gap := p.minGap
	if key == p.lastKey && p.failures > 0 {
		gap = max(gap, p.backoff())
	}
	if d := p.last.Add(gap).Sub(now); d > 0 {
		return d
	}
	return 0
}

// backoff is the pause after the current run of failures.
func (p *pacer) backoff() time.Duration {
	d := p.base
	for i := 1; i < p.failures && d < p.max; i++ {
		d *= 2
	}
	return min(d, p.max)
}

// published records that a transition with key went out at now.
func (p *pacer) published(key string, now time.Time) {
	if key != p.lastKey {
		p.failures = 0
	}
	p.last, p.lastKey = now, key
}

// finished records how the last published transition ended: a success
// resets the backoff, a failure lengthens it.
func (p *pacer) finished(failed bool) {
	if failed {
		p.failures++
	} else {
		p.failures = 0
	}
}
