package coordinator

import (
	"testing"
	"time"

	"github.com/tandem-ha/tandem/policies"
)

func TestPlanKey(t *testing.T) {
	a := policies.Action{ID: "stop/httpd#0@benji"}
	b := policies.Action{ID: "start/VIP@holly"}
	if planKey(policies.Transition{Actions: []policies.Action{a, b}}) != planKey(policies.Transition{Actions: []policies.Action{b, a}}) {
		t.Error("the same actions in another order make another key")
	}
	if planKey(policies.Transition{Actions: []policies.Action{a}}) == planKey(policies.Transition{Actions: []policies.Action{b}}) {
		t.Error("different actions make the same key")
	}
}

// A plan that keeps failing the same way is published at most once per
// backoff, which doubles up to a minute; a success or another plan resets
// it; and no two transitions are ever closer than the minimum gap.
func TestPacer(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newPacer()
	if w := p.wait("stop/httpd@benji", t0); w != 0 {
		t.Fatalf("first transition held back %s", w)
	}
	// The same failing plan, republished as soon as it is allowed, for
	// ten minutes.
	now, published := t0, 0
	var gaps []time.Duration
	last := time.Time{}
	for now.Before(t0.Add(10 * time.Minute)) {
		if w := p.wait("stop/httpd@benji", now); w > 0 {
			now = now.Add(w)
			continue
		}
		p.published("stop/httpd@benji", now)
		if !last.IsZero() {
			gaps = append(gaps, now.Sub(last))
		}
		last = now
		published++
		now = now.Add(50 * time.Millisecond) // the stop fails at once
		p.finished(true)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i, w := range want {
		if gaps[i] != w*time.Second {
			t.Fatalf("gaps %v, want them to start %v seconds", gaps, want)
		}
	}
	if published > 17 {
		t.Errorf("%d transitions of a plan failing for 10 minutes, want at most 17 (one a minute once backed off)", published)
	}
	// Another plan goes out after the minimum gap only.
	if w := p.wait("start/VIP@holly", last.Add(10*time.Millisecond)); w != MinTransitionGap-10*time.Millisecond {
		t.Errorf("another plan held back %s, want the rest of the minimum gap", w)
	}
	// A success resets the backoff.
	p.published("stop/httpd@benji", now)
	p.finished(false)
	if w := p.wait("stop/httpd@benji", now.Add(MinTransitionGap)); w != 0 {
		t.Errorf("after a success the same plan is held back %s", w)
	}
	// Plans that succeed are only kept the minimum gap apart.
	if w := p.wait("x", now.Add(MinTransitionGap/2)); w != MinTransitionGap/2 {
		t.Errorf("held back %s, want %s", w, MinTransitionGap/2)
	}
}
