package lrm

// Several instances of one resource on this node: a globally-unique
// clone with clone-node-max > 1 runs up to clone-node-max of its
// instances here, each distinct (the agent gets its number, and keys its
// state on it: the example agent's pid file). Each is an entry of its own,
// keyed "rsc:N"; every other resource (a primitive, an anonymous clone's
// instance, a unique clone's with clone-node-max 1) is one entry keyed by
// its id, whose instance label may change (anonymous instances are
// interchangeable), as before.

import (
	"sort"
	"strconv"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/policies/cib"
)

// instKey is the entry key of instance idx of the globally-unique clone
// whose primitive is id.
func instKey(id string, idx int) string { return id + ":" + strconv.Itoa(idx) }

// perInstance says whether def's instances are entries of their own here:
// a globally-unique clone that may run more than one instance on a node.
func perInstance(def cib.Resource) bool {
	return def.Clone != nil && def.Clone.GloballyUnique && def.Clone.NodeMax > 1
}

// keyLocked is the key of the entry of resource id's instance idx (-1: a
// primitive, or the resource's one entry) (l.mu held): the instance's own
// entry if it has one, else the resource's entry if that is the instance
// (it ran before its clone allowed several per node), else its own key
// when its live definition runs instances apart, else id.
func (l *LRM) keyLocked(id string, idx int) string {
	if idx < 0 {
		return id
	}
	k := instKey(id, idx)
	if _, ok := l.entries[k]; ok {
		return k
	}
	if e, ok := l.entries[id]; ok && e.instance == idx && !e.idle() {
		return id
	}
	if live := l.cfg.Live(); live.CIB != nil {
		if r, isClone := live.CIB.Resource(id); r != nil && !isClone && perInstance(live.CIB.RunAs(r)) {
			return k
		}
	}
	return id
}

// idle says whether e runs nothing here: stopped, or not probed yet.
func (e *entry) idle() bool { return e.state == bus.StateStopped || e.state == bus.StateUnknown }

// entryLocked is the entry of resource id's instance idx, if any (l.mu
// held).
func (l *LRM) entryLocked(id string, idx int) (*entry, bool) {
	e, ok := l.entries[l.keyLocked(id, idx)]
	return e, ok
}

// entriesOf are the entries of resource id, by key (l.mu held).
func (l *LRM) entriesOf(id string) []*entry {
	var out []*entry
	keys := make([]string, 0, 1)
	for k, e := range l.entries {
		if e.id == id {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, l.entries[k])
	}
	return out
}

// cloneIndex is the clone index of a result's instance (-1: a primitive's).
func cloneIndex(clone string, instance int) int {
	if clone == "" {
		return -1
	}
	return instance
}
