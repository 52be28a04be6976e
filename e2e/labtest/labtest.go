// Package labtest brings nspawn labs (package e2e/lab) up for Go tests: one
// call boots the lab, and the test's cleanup dumps every host's journal into
// the test log when the test failed, then tears the lab down.
package labtest

import (
	"context"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/priv"
)

// Tools a lab needs on the host (Debian: systemd-container debootstrap
// iproute2 util-linux systemd).
var Tools = []string{"systemd-nspawn", "debootstrap", "ip", "bridge", "nsenter", "chroot", "journalctl"}

// RootBuildTimeout bounds building the cached node root when it is missing
// (about 1.5 minutes on a 2-core machine with a nearby mirror).
const RootBuildTimeout = 10 * time.Minute

// Start brings the lab of opts up for t (skipping or failing per
// priv.Require without root) and registers its teardown. opts.Logf defaults
// to t.Logf; give every concurrently running test its own Prefix and Subnet.
func Start(t testing.TB, opts lab.Options) *lab.Lab {
	t.Helper()
	priv.Require(t, Tools...)
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	boot := opts.Timeout
	if boot <= 0 {
		boot = lab.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), RootBuildTimeout+boot)
	defer cancel()
	start := time.Now()
	l, err := lab.Up(ctx, opts)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Logf("lab %s up in %s", l.Prefix(), time.Since(start).Round(10*time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range l.Names() {
				t.Logf("journal of %s (lab %s):\n%s", name, l.Prefix(), l.Journal(name))
			}
		}
		if err := l.Down(); err != nil {
			t.Errorf("lab %s down: %v", l.Prefix(), err)
		}
	})
	return l
}
