package bus

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// A report's header is read without its resources, and only from a
// NodeResources event this build reads, in the order Encode writes.
func TestPeekNodeResources(t *testing.T) {
	r := NodeResources{Node: "holly", Incarnation: "i-1", Seq: 42, Probed: true,
		Resources: []ResourceState{{Resource: "vip", State: StateStarted, Since: time.Now()}}}
	data, err := Encode(r, "holly", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h, ok := PeekNodeResources(data)
	if want := (ReportHeader{Node: "holly", Incarnation: "i-1", Seq: 42}); !ok || h.ReportHeader != want {
		t.Fatalf("peek %+v %v, want %+v", h, ok, want)
	}
	if want := []ActiveResource{{Resource: "vip", State: StateStarted}}; !h.Brief || !slices.Equal(h.Active, want) {
		t.Fatalf("peek's brief: %v %+v, want %+v", h.Brief, h.Active, want)
	}
	// Only the header is read: a body that does not decode past it is
	// left to Decode.
	cut := data[:len(data)-20]
	if _, ok := PeekNodeResources(cut); !ok {
		t.Fatalf("peek of a report cut after its header failed")
	}
	if _, _, err := Decode[NodeResources](cut); err == nil {
		t.Fatalf("a cut report decoded")
	}
	other, err := Encode(Heartbeat{Node: "holly", Incarnation: "i-1", Seq: 42}, "holly", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name, msg := range map[string]string{
		"empty":            "",
		"not json":         "state request",
		"another kind":     string(other),
		"another version":  `{"kind":"node-resources","v":2,"src":"holly","data":{"node":"holly","incarnation":"i","seq":1}}`,
		"data first":       `{"data":{"node":"holly","incarnation":"i","seq":1},"kind":"node-resources","v":1}`,
		"resources first":  `{"kind":"node-resources","v":1,"data":{"resources":[],"node":"holly","incarnation":"i","seq":1}}`,
		"seq not a number": `{"kind":"node-resources","v":1,"data":{"node":"holly","incarnation":"i","seq":"1"}}`,
		"no seq":           `{"kind":"node-resources","v":1,"data":{"node":"holly","incarnation":"i"}}`,
	} {
		if h, ok := PeekNodeResources([]byte(msg)); ok {
			t.Errorf("%s: peek took %+v", name, h)
		}
	}
}

// Active is made from the resources whenever a report is encoded, whatever
// the caller set, and is written even when empty; a report of an older
// build (no active) is peeked with no brief, and one whose active does not
// decode not at all.
func TestReportBrief(t *testing.T) {
	r := NodeResources{Node: "benji", Incarnation: "i-2", Seq: 7, Probed: true,
		Active: []ActiveResource{{Resource: "stale", State: StateStarted}}, // not what runs: replaced
		Resources: []ResourceState{
			{Resource: "vip", State: StateStopped},
			{Resource: "web", Clone: "web-clone", Instance: 1, State: StateStarted, Message: "pid 12"},
			{Resource: "db", State: StateFailed, Message: "exit 1"},
			{Resource: "fs", State: StateBlocked},
		}}
	data, err := Encode(r, "benji", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, ok := PeekNodeResources(data)
	want := []ActiveResource{{Resource: "web", Clone: "web-clone", Instance: 1, State: StateStarted},
		{Resource: "db", State: StateFailed}, {Resource: "fs", State: StateBlocked}}
	if !ok || !p.Brief || !slices.Equal(p.Active, want) {
		t.Fatalf("peek: %v %+v, want the brief %+v", ok, p, want)
	}
	back, _, err := Decode[NodeResources](data)
	if err != nil || !slices.Equal(back.Active, want) || len(back.Resources) != 4 {
		t.Fatalf("decoded: %+v %v", back, err)
	}

	none, err := Encode(NodeResources{Node: "benji", Incarnation: "i-2", Seq: 8,
		Resources: []ResourceState{{Resource: "vip", State: StateStopped}}}, "benji", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := PeekNodeResources(none); !ok || !p.Brief || len(p.Active) != 0 {
		t.Fatalf("nothing active: peek %v %+v, want an empty brief", ok, p)
	}
	if !strings.Contains(string(none), `"active":[]`) {
		t.Fatalf("an empty brief is not written: %s", none)
	}

	older := `{"kind":"node-resources","v":1,"src":"benji","data":{"node":"benji","incarnation":"i-2","seq":9,"config_rev":3,` +
		`"probed":true,"resources":[{"resource":"web","state":"started"}]}}`
	if p, ok := PeekNodeResources([]byte(older)); !ok || p.Brief || p.Seq != 9 {
		t.Fatalf("an older build's report: peek %v %+v, want its header and no brief", ok, p)
	}
	bad := `{"kind":"node-resources","v":1,"src":"benji","data":{"node":"benji","incarnation":"i-2","seq":9,"active":{"web":1}}}`
	if p, ok := PeekNodeResources([]byte(bad)); ok {
		t.Fatalf("an active that is not a list: peek took %+v", p)
	}
}
