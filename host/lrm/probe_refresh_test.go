package lrm

import (
	"testing"

	"github.com/tandem-ha/tandem/policies/cib"
)

// A cleanup's Refresh names a primitive, or one instance of a unique
// clone (RSC:N): that instance is probed again whether the node keeps it
// apart (key RSC:N) or as the one instance it runs (key RSC), and no
// other instance or resource is.
func TestRefreshNamesAnInstance(t *testing.T) {
	unique := cib.Resource{ID: "w", Agent: "example:process", Clone: &cib.Clone{GloballyUnique: true, Max: 4, NodeMax: 2}}
	anon := cib.Resource{ID: "a", Agent: "example:process", Clone: &cib.Clone{}}
	apart := &entry{id: "w", key: "w:2", instance: 2, def: unique}
	single := &entry{id: "w", key: "w", instance: 3, def: cib.Resource{ID: "w", Clone: &cib.Clone{GloballyUnique: true}}}
	anonymous := &entry{id: "a", key: "a", instance: 1, def: anon}
	for _, c := range []struct {
		resource string
		e        *entry
		want     bool
	}{
		{"", apart, true}, {"w", apart, true}, {"w:2", apart, true}, {"w:1", apart, false},
		{"w:3", single, true}, {"w:2", single, false}, {"w", single, true},
		{"a", anonymous, true}, {"a:1", anonymous, false}, {"w", anonymous, false},
	} {
		if got := refreshNames(c.resource, c.e.key, c.e); got != c.want {
			t.Errorf("refresh for %q, entry %s (instance %d): %v, want %v", c.resource, c.e.key, c.e.instance, got, c.want)
		}
	}
}
