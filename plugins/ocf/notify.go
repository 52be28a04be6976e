package ocf

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Notify runs the agent's notify action for a clone notification
// (req.Notification set: the clone has notify = true), as Pacemaker does:
// whether the agent advertises notify or not, it is run, and an agent
// without it answers OCF_ERR_UNIMPLEMENTED. The host's cluster-view
// Notify (no req.Notification) has no OCF counterpart: unimplemented, and
// nothing runs.
func (a *Agent) Notify(ctx context.Context, req sdk.Request) sdk.Result {
	if req.Notification == nil {
		return sdk.Resultf(sdk.ErrUnimplemented, "OCF agents are told about clone notifications only")
	}
	return a.action(ctx, "notify", req)
}

// postKeyOperation is Pacemaker's notify_key_operation of a post
// notification: the clone's pseudo-action that completes the operation.
var postKeyOperation = map[string]string{"start": "running", "stop": "stopped", "promote": "promoted", "demote": "demoted"}

// notifyMeta adds the OCF_RESKEY_CRM_meta_notify_* of notification n to
// meta, as Pacemaker 2.1.5 writes them (lib/pengine/pe_notif.c): instance
// names "rsc:N" and node names, space-separated, sorted by instance name,
// " " for an empty list; the unpromoted and promoted lists also under their
// pre-2.1 names slave and master.
//
// A start, stop, promote or demote of a notify clone's instance gets the
// lists alone (n.Type empty), as Pacemaker gives them.
func notifyMeta(meta map[string]string, rsc string, n *sdk.Notification) {
	if n.Type != "" {
		meta["notify_type"] = n.Type
		meta["notify_operation"] = n.Operation
		meta["notify_key_type"] = n.Type
		meta["notify_key_operation"] = n.Operation
		if n.Type == sdk.NotifyPost {
			if k, ok := postKeyOperation[n.Operation]; ok {
				meta["notify_key_operation"] = k
			}
		}
	}
	lists := func(name string, es []sdk.NotifyEntry, unames bool) {
		type named struct{ rsc, node string }
		var ns []named
		for _, e := range es {
			ns = append(ns, named{rsc + ":" + strconv.Itoa(e.Instance), e.Node})
		}
		sort.SliceStable(ns, func(i, j int) bool { return ns[i].rsc < ns[j].rsc })
		var rs, us []string
		for i, x := range ns {
			if i > 0 && ns[i-1].rsc == x.rsc {
				continue // one instance once, as Pacemaker lists it
			}
			rs = append(rs, x.rsc)
			if x.node != "" {
				us = append(us, x.node)
			}
		}
		meta["notify_"+name+"_resource"] = words(rs)
		if unames {
			meta["notify_"+name+"_uname"] = words(us)
		}
	}
	lists("start", n.Start, true)
	lists("stop", n.Stop, true)
	lists("promote", n.Promote, true)
	lists("demote", n.Demote, true)
	lists("active", n.Active, true)
	lists("inactive", n.Inactive, false)
	lists("promoted", n.Promoted, true)
	lists("unpromoted", n.Unpromoted, true)
	lists("master", n.Promoted, true)
	lists("slave", n.Unpromoted, true)
	meta["notify_available_uname"] = words(n.Available)
	meta["notify_all_uname"] = words(n.All)
}

// words is a list as Pacemaker passes it: space-separated, " " when empty.
func words(ws []string) string {
	if len(ws) == 0 {
		return " "
	}
	return strings.Join(ws, " ")
}
