package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/liveconfig"
)

// A revision written straight to the KV made config history, apply and
// rollback fail; a deleted configuration had no command to bring it back.
func TestLiveCommandsOverInvalidRevisions(t *testing.T) {
	lc := newLiveCluster(t)
	good := lc.live()
	s, err := openSession(lc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ctx := context.Background()
	// Only a member can write the bucket itself (the admin's writes go
	// through the members' write service): holly's own connection.
	kv, err := lc.ConnectMember("holly").KV(ctx, bus.BucketConfig)
	if err != nil {
		t.Fatal(err)
	}
	spoil := func() uint64 {
		t.Helper()
		e, err := kv.Get(ctx, liveconfig.Key)
		if err != nil {
			t.Fatal(err)
		}
		rev, err := kv.Update(ctx, liveconfig.Key, []byte(`{"format":2,"by":"mallory\u001b[2J","summary":"x","cib":{"nodes":[{"name":"holly\nbenji"}]}}`), e.Revision())
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	bad := spoil()
	out := lc.must("config", "history")
	if !strings.Contains(out, fmt.Sprintf("%d (current)", bad)) || !strings.Contains(out, "invalid: ") || !strings.Contains(out, `mallory\x1b[2J`) {
		t.Errorf("config history does not list revision %d as invalid, escaped:\n%s", bad, out)
	}
	if out := lc.must("status"); !strings.Contains(out, fmt.Sprintf("Live configuration revision %d is invalid; the cluster runs revision %d", bad, good.Rev)) {
		t.Errorf("status does not report the invalid revision:\n%s", out)
	}
	if out := lc.must("config", "apply", lc.Conf); !strings.Contains(out, "Applied: revision") {
		t.Errorf("config apply over an invalid revision:\n%s", out)
	}
	spoil()
	if out := lc.must("config", "rollback", fmt.Sprint(good.Rev)); !strings.Contains(out, "Rolled back") {
		t.Errorf("config rollback over an invalid revision:\n%s", out)
	}
	if err := kv.Delete(ctx, liveconfig.Key); err != nil {
		t.Fatal(err)
	}
	if out := lc.must("config", "reseed", "--from", lc.Conf); !strings.Contains(out, "Re-seeded the live configuration from") {
		t.Errorf("config reseed:\n%s", out)
	}
	if cur := lc.live(); !liveconfig.Same(cur.CIB, good.CIB) {
		t.Errorf("after reseed: %+v, want the file's model", cur.CIB)
	}

	// Every revision the commands made names the admin identity, stamped
	// by the member that wrote it; one whose request claims another `by`
	// too.
	cur := lc.live()
	if _, err := s.store.Put(ctx, cur.CIB, cur.Rev, "holly@forged", "claims to be holly"); err != nil {
		t.Fatal(err)
	}
	out = lc.must("config", "history")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "admin@forged") || !strings.Contains(last, "claims to be holly") {
		t.Errorf("config history's last revision is not stamped admin@forged:\n%s", out)
	}
	for _, l := range lines[len(lines)-3:] { // rollback, reseed, the claim
		if !strings.Contains(l, "admin@") {
			t.Errorf("a revision the commands made is not stamped with the admin identity: %s", l)
		}
	}
}
