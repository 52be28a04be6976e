package cluster_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/e2e/scenario"
)

// The reference scenario with the seed tutorial's own VIP agent: Debian's
// ocf:heartbeat:IPaddr2, unchanged, run by the ocf bridge (lab tdocf on
// 198.18.0.160/27, shared with tde2e: one lab at a time). It converges,
// and the VIP moves when its holder is hard-killed and when it is cut off,
// with the safety checker throughout: the bridge's lease fencing (the
// agent stopped when the hold lapses, docs/leases.md) keeps the address on
// one node at a time.
func TestIPaddr2VIP(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join("..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	subnet := netip.MustParsePrefix("198.18.0.160/27")
	conf, err := lab.WithIPaddr2(ref, subnet.Bits())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	l := labtest.Start(t, lab.Options{Prefix: "tdocf", Subnet: subnet, Relocate: true, StartTandem: true, Config: path})
	c, err := scenario.New(l)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, l: l, c: c}

	t.Run("ConvergesFromCold", func(t *testing.T) {
		e.t = t
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		e.converged()
		e.poll(30*time.Second, "the VIP answers", func() error {
			_, err := c.Get(e.ctx(5*time.Second), time.Second)
			return err
		})
		holder := e.holder()
		// The address is IPaddr2's: the resource runs on the holder with
		// the ocf agent.
		r, err := c.Status(e.ctx(10*time.Second), holder)
		e.must(err)
		res := scenario.Resource(r, c.VIPResource)
		if res == nil || res.Agent != "ocf:heartbeat:IPaddr2" {
			t.Fatalf("the VIP resource in status: %+v, want agent ocf:heartbeat:IPaddr2", res)
		}
		if on := scenario.StartedOn(r, c.VIPResource); len(on) != 1 || on[0] != holder {
			t.Errorf("%s started on %v, the address on %s", c.VIPResource, on, holder)
		}
	})

	t.Run("HolderHardKilled", func(t *testing.T) {
		e.t = t
		e.failover(func(holder string) error { return l.Kill(holder) }, func(holder string) {
			e.must(l.Restart(e.ctx(60*time.Second), holder))
		})
	})

	t.Run("HolderCutOff", func(t *testing.T) {
		e.t = t
		e.failover(func(holder string) error { return l.Cut(holder) }, func(holder string) {
			e.must(l.Heal(holder))
		})
	})
}
