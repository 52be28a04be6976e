package coordinator

import (
	"testing"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/policies"
)

// A transition waits on a node while one of the node's actions has no
// result: only then does that node's leaving abort it (PokeLeft).
func TestInflightWaitsOn(t *testing.T) {
	var none *inflight
	if none.waitsOn("holly") {
		t.Error("no transition waits on holly")
	}
	f := &inflight{
		actions: map[string]policies.Action{
			"stop/db@benji":    {Node: "benji"},
			"promote/db@holly": {Node: "holly"},
		},
		results: map[string]bus.ActionResult{},
	}
	if !f.waitsOn("benji") || !f.waitsOn("holly") {
		t.Error("both nodes have actions without results")
	}
	f.results["stop/db@benji"] = bus.ActionResult{}
	if f.waitsOn("benji") {
		t.Error("benji's only action has its result: the transition does not wait on it")
	}
	if !f.waitsOn("holly") || f.waitsOn("carol") {
		t.Error("holly's promote has no result; carol has no action")
	}
}
