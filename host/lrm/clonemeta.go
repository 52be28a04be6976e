package lrm

import (
	"context"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// metaRunner is the Runner every operation of the LRM goes through: it
// gives each request of a clone's instance the clone's meta (clone-max
// and its kin, defaults applied), as Pacemaker gives OCF agents
// OCF_RESKEY_CRM_meta_clone_max. The meta comes from the live
// configuration; a clone no longer in it (its instances being stopped)
// keeps the meta it was last seen with.
type metaRunner struct {
	Runner
	live func() *cib.CIB

	mu   sync.Mutex
	last map[string]sdk.CloneMeta // by primitive id
}

func newMetaRunner(r Runner, live func() *cib.CIB) *metaRunner {
	return &metaRunner{Runner: r, live: live, last: map[string]sdk.CloneMeta{}}
}

func (m *metaRunner) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	req.Instance = m.instance(req.ResourceID, req.Instance)
	return m.Runner.Run(ctx, agent, op, req, timeout)
}

func (m *metaRunner) Hold(ctx context.Context, agent string, req sdk.HoldRequest, timeout time.Duration) supervisor.Outcome {
	req.Instance = m.instance(req.ResourceID, req.Instance)
	return m.Runner.Hold(ctx, agent, req, timeout)
}

// instance is in with its clone's meta, for an instance of a clone.
func (m *metaRunner) instance(id string, in sdk.Instance) sdk.Instance {
	if in.CloneIndex < 0 || in.Clone.ID != "" {
		return in
	}
	if c := m.live(); c != nil {
		if r, isClone := c.Resource(id); r != nil && !isClone {
			if cl := c.CloneOf(r); cl != nil {
				cm := cloneMeta(cl, len(c.Nodes))
				m.mu.Lock()
				m.last[id] = cm
				m.mu.Unlock()
				in.Clone = cm
				return in
			}
		}
	}
	m.mu.Lock()
	in.Clone = m.last[id]
	m.mu.Unlock()
	return in
}

// cloneMeta is c's meta with the defaults applied as the scheduler
// applies them (cib.Clone.Limits) in a configuration of nodes nodes.
func cloneMeta(c *cib.Clone, nodes int) sdk.CloneMeta {
	cm := sdk.CloneMeta{ID: c.ID, Promotable: c.Promotable, Notify: c.Notify, GloballyUnique: c.GloballyUnique}
	cm.Max, cm.NodeMax = c.Limits(nodes)
	if c.Promotable {
		cm.PromotedMax, cm.PromotedNodeMax = c.PromotedLimits()
	}
	return cm
}
