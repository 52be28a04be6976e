package sdk

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	pb "github.com/tandem-ha/tandem/plugins/sdk/proto"
)

// wire is r as the plugin decodes it from the host's bytes.
func wire(t *testing.T, r Request) Request {
	t.Helper()
	b, err := proto.Marshal(requestToProto(r))
	if err != nil {
		t.Fatal(err)
	}
	var m pb.Request
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return requestFromProto(&m)
}

// TestRequestWire: the interval and the clone meta cross the wire intact,
// a request of an older host (without them) decodes as a primitive's or
// as an instance without meta, and an older plugin (a schema without the
// new fields) still reads the fields it knows from a new host's bytes.
func TestRequestWire(t *testing.T) {
	deadline := time.Unix(1700000000, 5)
	clone := Request{ResourceID: "db", AgentType: "heartbeat:Stateful", Params: map[string]string{"state": "/tmp/x"},
		Instance: Instance{Node: "n2", CloneIndex: 1, Clone: CloneMeta{ID: "db-clone", Max: 3, NodeMax: 1, Promotable: true, PromotedMax: 1, PromotedNodeMax: 1}},
		Deadline: deadline, Interval: 10 * time.Second}
	if got := wire(t, clone); !reflect.DeepEqual(got, clone) {
		t.Errorf("clone request: got %+v, want %+v", got, clone)
	}
	prim := Request{ResourceID: "vip", AgentType: "IPaddr2", Params: map[string]string{}, Instance: Instance{Node: "n1", CloneIndex: -1}, Deadline: deadline}
	if got := wire(t, prim); !reflect.DeepEqual(got, prim) {
		t.Errorf("primitive request: got %+v, want %+v", got, prim)
	}

	// An older host's request: fields 1, 2, 4 (node, clone_index) and 5.
	var inst []byte
	inst = protowire.AppendTag(inst, 1, protowire.BytesType)
	inst = protowire.AppendString(inst, "n3")
	inst = protowire.AppendTag(inst, 2, protowire.VarintType)
	inst = protowire.AppendVarint(inst, 2)
	var old []byte
	old = protowire.AppendTag(old, 1, protowire.BytesType)
	old = protowire.AppendString(old, "web")
	old = protowire.AppendTag(old, 2, protowire.BytesType)
	old = protowire.AppendString(old, "heartbeat:apache")
	old = protowire.AppendTag(old, 4, protowire.BytesType)
	old = protowire.AppendBytes(old, inst)
	old = protowire.AppendTag(old, 5, protowire.VarintType)
	old = protowire.AppendVarint(old, uint64(deadline.UnixNano()))
	var m pb.Request
	if err := proto.Unmarshal(old, &m); err != nil {
		t.Fatal(err)
	}
	want := Request{ResourceID: "web", AgentType: "heartbeat:apache", Params: map[string]string{}, Instance: Instance{Node: "n3", CloneIndex: 2}, Deadline: deadline}
	if got := requestFromProto(&m); !reflect.DeepEqual(got, want) {
		t.Errorf("older host's request: got %+v, want %+v", got, want)
	}

	// An older plugin: the schema as it was before interval_ns and
	// Instance.clone, built from today's by removing them.
	fdp := protodesc.ToFileDescriptorProto(pb.File_agent_proto)
	for _, msg := range fdp.MessageType {
		switch msg.GetName() {
		case "Request":
			msg.Field = dropField(t, msg.Field, "interval_ns")
		case "Instance":
			msg.Field = dropField(t, msg.Field, "clone")
		}
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(requestToProto(clone))
	if err != nil {
		t.Fatal(err)
	}
	oldReq := dynamicpb.NewMessage(fd.Messages().ByName("Request"))
	if err := proto.Unmarshal(b, oldReq); err != nil {
		t.Fatalf("an older plugin cannot decode a new host's request: %v", err)
	}
	fields := oldReq.Descriptor().Fields()
	instMsg := oldReq.Get(fields.ByName("instance")).Message()
	instFields := instMsg.Descriptor().Fields()
	if got := oldReq.Get(fields.ByName("resource_id")).String(); got != "db" {
		t.Errorf("older plugin reads resource_id %q, want db", got)
	}
	if got := instMsg.Get(instFields.ByName("clone_index")).Int(); got != 1 {
		t.Errorf("older plugin reads clone_index %d, want 1", got)
	}
	if got := oldReq.Get(fields.ByName("deadline_unix_ns")).Int(); got != deadline.UnixNano() {
		t.Errorf("older plugin reads deadline %d, want %d", got, deadline.UnixNano())
	}
	if len(oldReq.GetUnknown()) == 0 || len(instMsg.GetUnknown()) == 0 {
		t.Errorf("the new fields should reach an older plugin as unknown fields (request %d bytes, instance %d bytes)",
			len(oldReq.GetUnknown()), len(instMsg.GetUnknown()))
	}
}

func dropField(t *testing.T, fs []*descriptorpb.FieldDescriptorProto, name protoreflect.Name) []*descriptorpb.FieldDescriptorProto {
	t.Helper()
	for i, f := range fs {
		if f.GetName() == string(name) {
			return append(fs[:i:i], fs[i+1:]...)
		}
	}
	t.Fatalf("no field %s in the schema", name)
	return nil
}
