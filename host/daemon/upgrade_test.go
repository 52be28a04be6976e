package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies/cib"
)

// A cluster whose live configuration the previous Tandem wrote (format 1:
// a whole cluster.toml per revision) comes up on this build as it was: the
// members read the old revisions instead of seeding their file, the
// resources run where the old live configuration put them, the history is
// kept, and the first edit, which writes the new format, restarts nothing.
func TestUpgradeFromTheTOMLRecordFormat(t *testing.T) {
	tc := daemontest.New(t, scenario)
	file, err := os.ReadFile(tc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	// The old cluster's history: seeded from the file, then the singleton
	// moved to benji (what the file does not say).
	moved := string(file) + "\n[[location]]\nid = \"cli-prefer-sleeper\"\nrsc = \"sleeper\"\nnode = \"benji\"\nscore = \"INFINITY\"\n"
	revs := writeOldRecords(t, tc.Conf, []oldRecord{{string(file), "seeded from cluster.toml"}, {moved, "resource move sleeper benji"}})

	tc.StartAll()
	c := tc.Connect()
	poll.Until(t, 60*time.Second, 50*time.Millisecond, func() error {
		if w, s := tc.Where("worker"), tc.Where("sleeper"); len(w) != 2 || len(s) != 1 || s[0] != "benji" {
			return fmt.Errorf("worker on %v, sleeper on %v; want worker on both nodes and sleeper on benji (the old revision %d)", w, s, revs[1])
		}
		return daemontest.Reported(c, map[string]string{"benji/sleeper": bus.StateStarted, "holly/worker": bus.StateStarted, "benji/worker": bus.StateStarted})
	})
	running := tc.Pids("")

	ctx := context.Background()
	store, err := liveconfig.OpenClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := store.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Rev != revs[0] || hist[1].Rev != revs[1] || hist[1].Format != liveconfig.FormatTOML || hist[1].Summary != "resource move sleeper benji" {
		t.Fatalf("history after the upgrade: %+v; want the two old revisions %v, not re-seeded", hist, revs)
	}

	// The first edit writes the new format; it changes nothing that runs.
	next, err := store.Update(ctx, "cli@test", func(m *cib.CIB) (string, error) {
		hundred := 100
		m.Defaults.Stickiness = &hundred
		return "resource defaults resource-stickiness=100", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next.Format != liveconfig.FormatCIB {
		t.Fatalf("the edit wrote format %d, want %d", next.Format, liveconfig.FormatCIB)
	}
	applied(t, c, next.Rev)
	if now := tc.Pids(""); !maps.Equal(now, running) {
		t.Errorf("processes after the first edit: %v, want them untouched: %v", now, running)
	}

	// Rolling back to the old-format revision restarts nothing either.
	rb, err := store.Rollback(ctx, revs[1], "cli@test")
	if err != nil {
		t.Fatal(err)
	}
	applied(t, c, rb.Rev)
	if now := tc.Pids(""); !maps.Equal(now, running) {
		t.Errorf("processes after rolling back to revision %d: %v, want them untouched: %v", revs[1], now, running)
	}
	if hist, err := store.History(ctx); err != nil || len(hist) != 4 {
		t.Errorf("history: %d revisions (%v), want 4: two old, the edit, the rollback", len(hist), err)
	}
}

type oldRecord struct{ toml, summary string }

// writeOldRecords stores records as the previous Tandem did, on the
// cluster's own bus (its members' data directories), before any member of
// this build runs: the KV state an upgrade finds on disk. It returns their
// revisions.
func writeOldRecords(t *testing.T, conf string, recs []oldRecord) []uint64 {
	t.Helper()
	f, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := bus.LoadSecret(f.Topology.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	old := &bustest.Cluster{T: t, Topology: f.Topology, Secret: secret, Servers: map[string]*bus.Server{}}
	for _, m := range f.Topology.Members {
		old.StartMember(m.Name)
	}
	defer func() {
		for _, m := range f.Topology.Members {
			old.StopMember(m.Name)
		}
	}()
	conn := old.Ready("holly")
	ctx := context.Background()
	kv, err := conn.KV(ctx, bus.BucketConfig)
	if err != nil {
		t.Fatal(err)
	}
	var revs []uint64
	for i, r := range recs {
		data, err := json.Marshal(map[string]any{"time": time.Now().UTC(), "by": "holly", "summary": r.summary, "toml": r.toml})
		if err != nil {
			t.Fatal(err)
		}
		var rev uint64
		if i == 0 {
			rev, err = kv.Create(ctx, liveconfig.Key, data, 0)
		} else {
			rev, err = kv.Update(ctx, liveconfig.Key, data, revs[i-1])
		}
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	return revs
}

// applied waits until both nodes run revision rev and are idle.
func applied(t *testing.T, c *bus.Conn, rev uint64) {
	t.Helper()
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		var behind []string
		n := 0
		err := bus.Gather(c, bus.SubjectStateRequest, nil, 2, 2*time.Second, func(data []byte) bool {
			r, _, err := bus.Decode[bus.NodeResources](data)
			if err != nil {
				return false
			}
			n++
			if r.ConfigRev < rev || len(r.Busy) > 0 {
				behind = append(behind, fmt.Sprintf("%s at revision %d, busy %v", r.Node, r.ConfigRev, r.Busy))
			}
			return true
		})
		switch {
		case err != nil:
			return err
		case n != 2:
			return fmt.Errorf("%d nodes answered", n)
		case len(behind) > 0:
			return fmt.Errorf("want revision %d applied: %s", rev, strings.Join(behind, "; "))
		}
		return nil
	})
}
