package sdk

import (
	"time"

	pb "github.com/tandem-ha/tandem/plugins/sdk/proto"
)

// Translation between the Go contract (agent.go) and the wire (proto/).

func resultToProto(r Result) *pb.Result {
	out := &pb.Result{Code: int32(r.Code), Message: r.Message}
	if r.PromotionScore != nil {
		s := int32(max(min(*r.PromotionScore, 1000000), -1000000))
		out.PromotionScore = &s
	}
	return out
}

func resultFromProto(r *pb.Result) Result {
	if r == nil {
		return Result{Code: ErrGeneric, Message: "plugin sent an empty result"}
	}
	out := Result{Code: Code(r.Code), Message: r.Message}
	if r.PromotionScore != nil {
		s := int(*r.PromotionScore)
		out.PromotionScore = &s
	}
	return out
}

func requestToProto(r Request) *pb.Request {
	out := &pb.Request{
		ResourceId: r.ResourceID,
		AgentType:  r.AgentType,
		Params:     r.Params,
		Instance:   instanceToProto(r.Instance),
		Cluster:    clusterToProto(r.Cluster),
		IntervalNs: int64(r.Interval),
	}
	if n := r.Notification; n != nil {
		out.Notification = &pb.CloneNotification{Type: n.Type, Operation: n.Operation,
			Active: entriesToProto(n.Active), Inactive: entriesToProto(n.Inactive), Promoted: entriesToProto(n.Promoted),
			Unpromoted: entriesToProto(n.Unpromoted), Start: entriesToProto(n.Start), Stop: entriesToProto(n.Stop),
			Promote: entriesToProto(n.Promote), Demote: entriesToProto(n.Demote), Available: n.Available, All: n.All}
	}
	if !r.Deadline.IsZero() {
		out.DeadlineUnixNs = r.Deadline.UnixNano()
	}
	return out
}

func requestFromProto(r *pb.Request) Request {
	out := Request{
		ResourceID: r.GetResourceId(),
		AgentType:  r.GetAgentType(),
		Params:     r.GetParams(),
		Instance:   instanceFromProto(r.GetInstance()),
		Cluster:    clusterFromProto(r.GetCluster()),
		Interval:   time.Duration(r.GetIntervalNs()),
	}
	if n := r.GetNotification(); n != nil {
		out.Notification = &Notification{Type: n.GetType(), Operation: n.GetOperation(),
			Active: entriesFromProto(n.GetActive()), Inactive: entriesFromProto(n.GetInactive()), Promoted: entriesFromProto(n.GetPromoted()),
			Unpromoted: entriesFromProto(n.GetUnpromoted()), Start: entriesFromProto(n.GetStart()), Stop: entriesFromProto(n.GetStop()),
			Promote: entriesFromProto(n.GetPromote()), Demote: entriesFromProto(n.GetDemote()), Available: n.GetAvailable(), All: n.GetAll()}
	}
	if out.Params == nil {
		out.Params = map[string]string{}
	}
	if d := r.GetDeadlineUnixNs(); d != 0 {
		out.Deadline = time.Unix(0, d)
	}
	return out
}

func entriesToProto(es []NotifyEntry) []*pb.NotifyEntry {
	var out []*pb.NotifyEntry
	for _, e := range es {
		out = append(out, &pb.NotifyEntry{Instance: int32(e.Instance), Node: e.Node})
	}
	return out
}

func entriesFromProto(es []*pb.NotifyEntry) []NotifyEntry {
	var out []NotifyEntry
	for _, e := range es {
		out = append(out, NotifyEntry{Instance: int(e.GetInstance()), Node: e.GetNode()})
	}
	return out
}

func instanceToProto(i Instance) *pb.Instance {
	out := &pb.Instance{Node: i.Node, CloneIndex: int32(i.CloneIndex)}
	if c := i.Clone; c.ID != "" {
		out.Clone = &pb.CloneMeta{Id: c.ID, CloneMax: int32(c.Max), CloneNodeMax: int32(c.NodeMax), Promotable: c.Promotable,
			PromotedMax: int32(c.PromotedMax), PromotedNodeMax: int32(c.PromotedNodeMax), Notify: c.Notify, GloballyUnique: c.GloballyUnique}
	}
	return out
}

// instanceFromProto is i; a missing instance (an empty request) is a
// primitive's.
func instanceFromProto(i *pb.Instance) Instance {
	if i == nil {
		return Instance{CloneIndex: -1}
	}
	out := Instance{Node: i.GetNode(), CloneIndex: int(i.GetCloneIndex())}
	if c := i.GetClone(); c != nil {
		out.Clone = CloneMeta{ID: c.GetId(), Max: int(c.GetCloneMax()), NodeMax: int(c.GetCloneNodeMax()), Promotable: c.GetPromotable(),
			PromotedMax: int(c.GetPromotedMax()), PromotedNodeMax: int(c.GetPromotedNodeMax()), Notify: c.GetNotify(), GloballyUnique: c.GetGloballyUnique()}
	}
	return out
}

func clusterToProto(c *ClusterView) *pb.ClusterView {
	if c == nil {
		return nil
	}
	out := &pb.ClusterView{}
	for _, n := range c.Nodes {
		out.Nodes = append(out.Nodes, &pb.NodeView{Name: n.Name, Address: n.Address, Online: n.Online})
	}
	if len(c.Active) > 0 {
		out.Active = make(map[string]*pb.NodeList, len(c.Active))
		for id, nodes := range c.Active {
			out.Active[id] = &pb.NodeList{Nodes: nodes}
		}
	}
	return out
}

func clusterFromProto(c *pb.ClusterView) *ClusterView {
	if c == nil {
		return nil
	}
	out := &ClusterView{Active: make(map[string][]string, len(c.GetActive()))}
	for _, n := range c.GetNodes() {
		out.Nodes = append(out.Nodes, NodeView{Name: n.GetName(), Address: n.GetAddress(), Online: n.GetOnline()})
	}
	for id, l := range c.GetActive() {
		out.Active[id] = l.GetNodes()
	}
	return out
}

func holdToProto(h HoldRequest) *pb.HoldRequest {
	return &pb.HoldRequest{
		ResourceId:       h.ResourceID,
		AgentType:        h.AgentType,
		Params:           h.Params,
		UntilMonotonicNs: int64(h.Until),
		Role:             h.Role,
		Instance:         instanceToProto(h.Instance),
	}
}

func holdFromProto(h *pb.HoldRequest) HoldRequest {
	out := HoldRequest{
		ResourceID: h.GetResourceId(),
		AgentType:  h.GetAgentType(),
		Params:     h.GetParams(),
		Until:      time.Duration(h.GetUntilMonotonicNs()),
		Role:       h.GetRole(),
		Instance:   instanceFromProto(h.GetInstance()),
	}
	if out.Params == nil {
		out.Params = map[string]string{}
	}
	return out
}

func infoToProto(i Info) *pb.InfoResponse {
	return &pb.InfoResponse{Name: i.Name, Types: i.Types, Version: i.Version, ApiVersions: i.APIVersions}
}

func infoFromProto(i *pb.InfoResponse) Info {
	return Info{Name: i.GetName(), Types: i.GetTypes(), Version: i.GetVersion(), APIVersions: i.GetApiVersions()}
}

func metaDataToProto(m MetaData) *pb.MetaData {
	out := &pb.MetaData{Type: m.Type, Version: m.Version, ShortDesc: m.ShortDesc, LongDesc: m.LongDesc}
	for _, p := range m.Params {
		out.Params = append(out.Params, &pb.ParamSpec{Name: p.Name, Type: p.Type, Required: p.Required, Default: p.Default, Description: p.Description,
			Values: p.Values, Min: p.Min, Max: p.Max, Unit: p.Unit, Unique: p.Unique, Reloadable: p.Reloadable})
	}
	for _, a := range m.Actions {
		out.Actions = append(out.Actions, &pb.ActionSpec{Name: a.Name, TimeoutNs: int64(a.Timeout), IntervalNs: int64(a.Interval)})
	}
	return out
}

func metaDataFromProto(m *pb.MetaData) MetaData {
	out := MetaData{Type: m.GetType(), Version: m.GetVersion(), ShortDesc: m.GetShortDesc(), LongDesc: m.GetLongDesc()}
	for _, p := range m.GetParams() {
		out.Params = append(out.Params, ParamSpec{Name: p.GetName(), Type: p.GetType(), Required: p.GetRequired(), Default: p.GetDefault(), Description: p.GetDescription(),
			Values: p.GetValues(), Min: p.GetMin(), Max: p.GetMax(), Unit: p.GetUnit(), Unique: p.GetUnique(), Reloadable: p.GetReloadable()})
	}
	for _, a := range m.GetActions() {
		out.Actions = append(out.Actions, ActionSpec{Name: a.GetName(), Timeout: time.Duration(a.GetTimeoutNs()), Interval: time.Duration(a.GetIntervalNs())})
	}
	return out
}
