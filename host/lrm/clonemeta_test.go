package lrm

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// recordRunner records the requests it is given.
type recordRunner struct {
	mu    sync.Mutex
	reqs  []sdk.Request
	holds []sdk.HoldRequest
}

func (r *recordRunner) Run(_ context.Context, _, _ string, req sdk.Request, _ time.Duration) supervisor.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return supervisor.Outcome{Result: sdk.Result{Code: sdk.OK}}
}

func (r *recordRunner) Hold(_ context.Context, _ string, req sdk.HoldRequest, _ time.Duration) supervisor.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holds = append(r.holds, req)
	return supervisor.Outcome{Result: sdk.Result{Code: sdk.OK}}
}

const cloneMetaConfig = twoNodes + `
[[node]]
name = "cat"
address = "127.0.0.4"
[[resource]]
id = "vip"
agent = "fake"
[[resource]]
id = "web"
agent = "fake"
[resource.clone]
[[resource]]
id = "db"
agent = "fake"
[resource.clone]
clone-max = 2
promotable = true
[[resource]]
id = "ip"
agent = "fake"
[resource.clone]
globally-unique = true
[[resource]]
id = "fs"
agent = "fake"
[[resource]]
id = "nfs"
agent = "fake"
[[group]]
id = "share"
resources = ["fs", "nfs"]
[group.clone]
clone-node-max = 1
`

// Every request of a clone's instance carries the clone's meta with the
// scheduler's defaults (clone-max: one per node), a primitive's none, and
// a clone gone from the configuration (its instances being stopped) the
// meta it was last seen with.
func TestCloneMetaReachesTheAgent(t *testing.T) {
	cfg, err := config.Parse("test.toml", []byte(cloneMetaConfig))
	if err != nil {
		t.Fatal(err)
	}
	var live struct {
		sync.Mutex
		c *cib.CIB
	}
	live.c = cfg.CIB
	rec := &recordRunner{}
	m := newMetaRunner(rec, func() *cib.CIB { live.Lock(); defer live.Unlock(); return live.c })
	run := func(id string, idx int) sdk.Instance {
		rec.mu.Lock()
		rec.reqs = nil
		rec.mu.Unlock()
		m.Run(context.Background(), "fake", "start", sdk.Request{ResourceID: id, Instance: sdk.Instance{Node: "holly", CloneIndex: idx}}, time.Second)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.reqs[0].Instance
	}
	cases := []struct {
		id   string
		idx  int
		want sdk.CloneMeta
	}{
		{"vip", -1, sdk.CloneMeta{}},
		{"web", 2, sdk.CloneMeta{ID: "web-clone", Max: 3, NodeMax: 1}},
		{"db", 1, sdk.CloneMeta{ID: "db-clone", Max: 2, NodeMax: 1, Promotable: true, PromotedMax: 1, PromotedNodeMax: 1}},
		{"nfs", 0, sdk.CloneMeta{ID: "share-clone", Max: 3, NodeMax: 1}},
		{"ip", 2, sdk.CloneMeta{ID: "ip-clone", Max: 3, NodeMax: 1, GloballyUnique: true}},
	}
	for _, c := range cases {
		if got := run(c.id, c.idx); got.Clone != c.want || got.CloneIndex != c.idx || got.Node != "holly" {
			t.Errorf("%s instance %d: the agent is given %+v, want clone meta %+v", c.id, c.idx, got, c.want)
		}
	}
	m.Hold(context.Background(), "fake", sdk.HoldRequest{ResourceID: "db", Role: sdk.HoldPromoted, Instance: sdk.Instance{Node: "holly", CloneIndex: 1}}, time.Second)
	if got := rec.holds[0].Instance.Clone; got.ID != "db-clone" || !got.Promotable {
		t.Errorf("a promoted role's hold carries clone meta %+v, want db-clone's", got)
	}

	// db removed from the configuration: its stop still says what it was.
	without, err := config.Parse("test.toml", []byte(strings.Replace(cloneMetaConfig, `id = "db"`, `id = "db2"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	live.Lock()
	live.c = without.CIB
	live.Unlock()
	if got := run("db", 1); got.Clone.ID != "db-clone" || got.Clone.Max != 2 {
		t.Errorf("db, gone from the configuration: the agent is given %+v, want db-clone's last meta", got.Clone)
	}
}
