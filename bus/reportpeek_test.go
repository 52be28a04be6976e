package bus

import (
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
	if want := (ReportHeader{Node: "holly", Incarnation: "i-1", Seq: 42}); !ok || h != want {
		t.Fatalf("peek %+v %v, want %+v", h, ok, want)
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
