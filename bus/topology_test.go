package bus_test

import (
	"errors"
	"strings"
	"testing"

	. "github.com/tandem-ha/tandem/bus"
)

func referenceTopology() *Topology {
	return &Topology{Cluster: "mycluster", ClientPort: 4222, ClusterPort: 6222, DataDir: "/var/lib/tandem", Credentials: "/etc/tandem/cluster.key",
		Members: []Member{
			{Name: "holly", Address: "198.18.0.22", ClientPort: 4222, ClusterPort: 6222},
			{Name: "benji", Address: "198.18.0.24", ClientPort: 4222, ClusterPort: 6222},
			{Name: "director", Address: "198.18.0.30", ClientPort: 4222, ClusterPort: 6222, Witness: true},
		}}
}

func TestTopologyMembers(t *testing.T) {
	top := referenceTopology()
	if got := strings.Join(top.NodeNames(), " "); got != "holly benji" {
		t.Errorf("nodes: got %q, want \"holly benji\"", got)
	}
	if w := top.Witness(); w == nil || w.Name != "director" || !top.IsWitness("director") || top.IsWitness("holly") {
		t.Errorf("witness: got %+v (IsWitness director %v, holly %v), want director only", w, top.IsWitness("director"), top.IsWitness("holly"))
	}
	if got := strings.Join(top.ClientURLs(), " "); got != "nats://198.18.0.22:4222 nats://198.18.0.24:4222 nats://198.18.0.30:4222" {
		t.Errorf("client URLs: got %q, want %q", got, "nats://198.18.0.22:4222 nats://198.18.0.24:4222 nats://198.18.0.30:4222")
	}
	if err := top.CheckQuorum(); err != nil {
		t.Errorf("two nodes and a witness: %v", err)
	}
	top.Members = top.Members[:2]
	if err := top.CheckQuorum(); !errors.Is(err, ErrTwoNodesNoWitness) {
		t.Errorf("two nodes without a witness: got %v, want ErrTwoNodesNoWitness", err)
	}
	top.Members = top.Members[:1]
	if err := top.CheckQuorum(); err != nil {
		t.Errorf("a single node (development): %v", err)
	}
}

// Diff names every setting the members share that differs, and nothing
// else: a member's own paths and the members' order do not count.
func TestTopologyDiff(t *testing.T) {
	a := referenceTopology()
	b := referenceTopology()
	b.DataDir, b.Credentials = "/srv/tandem", "/root/cluster.key"
	b.Members[0], b.Members[1] = b.Members[1], b.Members[0]
	if d := a.Diff(b); d != nil {
		t.Errorf("paths and order only: got %q, want no difference", d)
	}
	b.ClientPort = 4300
	b.Members[0].Address = "198.18.0.25" // benji
	b.Members[2] = Member{Name: "carol", Address: "198.18.0.26", ClientPort: 4222, ClusterPort: 6222, Witness: true}
	b.TLS = &TLS{Dir: "/srv/pki"} // a multi-member bus has mutual TLS either way
	want := []string{
		"[bus] client_port: 4300, not 4222",
		`node "benji" address: 198.18.0.25, not 198.18.0.24`,
		`witness "director": removed`,
		`witness "carol": added (address 198.18.0.26)`,
	}
	if got := a.Diff(b); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff:\n got %q\nwant %q", got, want)
	}
}
