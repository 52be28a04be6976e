package liveconfig

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Revisions written straight to the KV, past the validation, locked the
// cluster: members looped on them and rollback, apply and history failed.
func TestInvalidRevisionsDoNotBrickTheStore(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	first, _, _, err := s.Seed(ctx, model, "holly", false)
	if err != nil {
		t.Fatal(err)
	}
	applied := make(chan Revision, 10)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.Follow(fctx, first.Rev, func(r Revision) { applied <- r }, bustest.Logger())

	injected := model.Resources[0]
	injected.Params = map[string]string{"chroot": "/x\nlua-load /tmp/evil.lua"}
	bad, _ := json.Marshal(record{Format: FormatCIB, By: "mallory", Summary: "injected", CIB: &cib.CIB{Nodes: model.Nodes, Resources: []cib.Resource{injected}}})
	bomb, _ := json.Marshal(record{Format: FormatTOML, By: "mallory", TOML: "x = " + strings.Repeat("{a=", 5000) + "1" + strings.Repeat("}", 5000)})
	rev := first.Rev
	for _, v := range [][]byte{[]byte("{not json"), bad, bomb} {
		if rev, err = s.kv.Update(ctx, Key, v, rev); err != nil {
			t.Fatal(err)
		}
	}
	good, worse, err := s.Usable(ctx)
	if err != nil || good.Rev != first.Rev || worse == nil || worse.Rev != rev || !strings.Contains(worse.Invalid, "MaxNesting") {
		t.Fatalf("Usable: %+v, %+v, %v; want revision %d, and %d invalid for its nesting", good, worse, err, first.Rev, rev)
	}
	hist, err := s.History(ctx)
	if err != nil || len(hist) != 4 {
		t.Fatalf("History: %d revisions, %v; want 4", len(hist), err)
	}
	for i, want := range []string{"", "invalid character", `param "chroot"`, "MaxNesting"} {
		if (want == "") != (hist[i].Invalid == "") || !strings.Contains(hist[i].Invalid, want) {
			t.Errorf("history[%d].Invalid = %q, want %q", i, hist[i].Invalid, want)
		}
	}
	if hist[2].By != "mallory" {
		t.Errorf("history[2].By = %q, want the claimed writer mallory", hist[2].By)
	}
	if _, err := s.Rollback(ctx, hist[2].Rev, "admin"); err == nil || !strings.Contains(err.Error(), "is invalid") {
		t.Errorf("rollback to an invalid revision: %v, want refused", err)
	}
	rb, err := s.Rollback(ctx, first.Rev, "admin")
	if err != nil || rb.Rev <= rev || !Same(rb.CIB, first.CIB) {
		t.Fatalf("rollback over an invalid current revision: %+v, %v", rb, err)
	}
	// The follower skipped the invalid revisions and applies the rollback.
	select {
	case r := <-applied:
		if r.Rev != rb.Rev {
			t.Errorf("applied revision %d, want the rollback %d", r.Rev, rb.Rev)
		}
	case <-time.After(3 * PollInterval):
		t.Fatal("the rollback was not applied")
	}
	// An edit over an invalid revision applies to the last valid one.
	if _, err := s.kv.Update(ctx, Key, []byte("{}"), rb.Rev); err != nil {
		t.Fatal(err)
	}
	ed, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		c.Properties.MaintenanceMode = true
		return "property set maintenance-mode=true", nil
	})
	if err != nil || !ed.CIB.Properties.MaintenanceMode || len(ed.CIB.Resources) != len(model.Resources) {
		t.Fatalf("edit over an invalid revision: %+v, %v", ed, err)
	}
	if cur, err := s.Current(ctx); err != nil || cur.Rev != ed.Rev {
		t.Errorf("current after the edit: %+v, %v; want %d", cur, err, ed.Rev)
	}
}

// A configuration that existed is never re-seeded from a cluster file
// behind the admin's back: not when its key is deleted (the bucket's
// marker says it existed), not when the whole stream is gone (the member
// remembers it).
func TestMissingConfigurationIsNotReseeded(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	if _, _, _, err := s.Seed(ctx, model, "holly", false); err != nil {
		t.Fatal(err)
	}
	if err := s.kv.Delete(ctx, Key); err != nil {
		t.Fatal(err)
	}
	other := *model
	other.Resources, other.Orders, other.Colocations, other.Locations = nil, nil, nil, nil
	_, _, seeded, err := s.Seed(ctx, &other, "benji", false)
	if !errors.Is(err, ErrGone) || seeded || !strings.Contains(err.Error(), "tandem config reseed --from") {
		t.Fatalf("seed after the key was deleted: seeded %v, %v; want ErrGone naming `tandem config reseed`", seeded, err)
	}
	if _, err := s.Current(ctx); !errors.Is(err, ErrNotSeeded) {
		t.Fatalf("the refused seed stored something: %v", err)
	}
	// The stream lost, marker and all: the member's memory refuses.
	if err := s.kv.Delete(ctx, MarkerKey); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.Seed(ctx, &other, "benji", true); !errors.Is(err, ErrGone) {
		t.Fatalf("seed by a member that ran a configuration: %v, want ErrGone", err)
	}
	r, err := s.Reseed(ctx, &other, "cli@test", "cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	got, _, seeded, err := s.Seed(ctx, model, "holly", true)
	if err != nil || seeded || got.Rev != r.Rev || len(got.CIB.Resources) != 0 {
		t.Fatalf("seed after reseed: %+v, seeded %v, %v; want the re-seeded revision %d", got, seeded, err, r.Rev)
	}
}
