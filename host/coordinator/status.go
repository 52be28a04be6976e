package coordinator

import (
	"context"
	"encoding/json"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/lease"
)

// ReadStatus reads what the current coordinator last planned (the zero
// Status when nothing was saved yet). Each coordinator saves its status on
// a key of its own (bus.StateStatusKey), which only its identity may write:
// the status read is the one of the node that holds the coordinator lease,
// and when the lease cannot be read (no holder, leases granted by the
// voters), the newest of those whose coordinator is the node of their key.
// A status saved by a coordinator of an older version (one key for all) is
// read when no other is found.
func ReadStatus(ctx context.Context, conn *bus.Conn) (Status, error) {
	kv, err := conn.KV(ctx, bus.BucketState)
	if err != nil {
		return Status{}, err
	}
	entries, err := kv.ValuesWithPrefix(ctx, bus.StateStatusPrefix)
	if err != nil {
		return Status{}, err
	}
	var legacy Status
	if e, err := kv.Get(ctx, legacyStatusKey); err == nil {
		_ = json.Unmarshal(e.Value(), &legacy)
	}
	holder := ""
	if leases, err := conn.KV(ctx, bus.BucketLeases); err == nil {
		if t, err := lease.ReadTenure(ctx, leases.Raw(), LeaseKey); err == nil {
			holder = t.Node
		}
	}
	var best Status
	found := false
	for _, e := range entries {
		var st Status
		if json.Unmarshal(e.Value(), &st) != nil {
			continue
		}
		if bus.StateStatusKey(st.Coordinator) != e.Key() {
			continue // a status claiming to be another node's
		}
		if holder != "" && st.Coordinator == holder {
			return st, nil
		}
		if !found || st.Time.After(best.Time) {
			best, found = st, true
		}
	}
	if found && (holder == "" || legacy.Coordinator != holder) {
		return best, nil
	}
	return legacy, nil
}
