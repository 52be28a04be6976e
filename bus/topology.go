package bus

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Topology is who the members of the bus are and how they reach each other:
// what Pacemaker keeps in corosync.conf, apart from the cluster model. It is
// read from each member's own cluster file at start (host/config builds it,
// with every default applied) and never from the live configuration: a
// member cannot reach the bus to read anything before it knows where the
// bus is. Changing it means restarting the members.
type Topology struct {
	Cluster string // cluster name; also the NATS cluster's name
	// ClientPort and ClusterPort are the [bus] ports, which members use
	// unless they set their own (Member has each member's resolved ports).
	ClientPort  int
	ClusterPort int
	DataDir     string // JetStream storage: <DataDir>/<member name>
	Credentials string // file holding the cluster's shared secret (tandem keygen)
	TLS         *TLS   // nil: no TLS
	// Metrics says where this member serves its metrics ([metrics] in
	// the cluster file); a host's own setting, not compared across members.
	Metrics Metrics
	// StatusPage is the host:port where this member serves its read-only
	// status page ([status_page] listen); "" is off. A host's own
	// setting, like Metrics.
	StatusPage string
	// Leases is how leases are kept: "" (LeasesBucket, keys of the lease
	// bucket) or LeasesGrants (granted by a majority of the voters;
	// host/lease/grants.go). One protocol per cluster: every member must
	// run with the same setting.
	Leases string
	// Members are the nodes in configuration order, then the witness, if
	// there is one. Most are voters (Voters); the others are plain bus
	// members that run no JetStream.
	Members []Member
}

// Ways of keeping leases ([bus] leases).
const (
	LeasesBucket = "bucket"
	LeasesGrants = "grants"
)

// Metrics are the member's monitoring endpoints; "" is off.
type Metrics struct {
	Listen  string // host:port of tandem's Prometheus endpoint (/metrics)
	Monitor string // host:port of the embedded NATS server's monitoring endpoints (/varz, /jsz, ...)
}

// TLS says where the certificate material for routes and clients is: a
// PKI directory (`tandem pki init`), where each identity finds NAME.crt,
// NAME.key and ca.crt, or explicit paths of one identity's files.
type TLS struct {
	Dir  string `json:"dir,omitempty"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
	CA   string `json:"ca,omitempty"`
}

// Member is anything that runs a bus server: a node or the witness.
type Member struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	ClientPort  int    `json:"client_port"`
	ClusterPort int    `json:"cluster_port"`
	Witness     bool   `json:"witness,omitempty"`
	// NonVoter: a plain bus member, not a JetStream voter. It routes to
	// every member, holds leases and runs resources, but keeps no copy of
	// the buckets and takes no part in their elections: a cluster of
	// dozens of nodes runs JetStream on 3 or 5 voters only ([bus] voters).
	NonVoter bool `json:"non_voter,omitempty"`
}

// ErrTwoNodesNoWitness is why a two-node cluster without a witness is refused.
var ErrTwoNodesNoWitness = errors.New("a two-node cluster needs a witness: two voters cannot keep a majority " +
	"when one of them fails, so the bus would stop accepting writes and no lease could move; " +
	"add a [witness] table (name and address of a small third host that runs `tandem witness`)")

// CheckQuorum says whether the voters can form a bus that survives the loss
// of one of them, or are a deliberate single-node development cluster.
func (t *Topology) CheckQuorum() error {
	voters := t.Voters()
	switch {
	case len(t.Nodes()) == 2 && t.Witness() == nil && len(t.Members) == 2:
		return ErrTwoNodesNoWitness
	case len(voters) == 0:
		return errors.New("no member is a voter: JetStream needs 1 voter (a single-node development cluster) or 3 or more")
	case len(voters)%2 == 0:
		return fmt.Errorf("%d voters: a majority of an even number tolerates no more failures than one voter fewer; make it %d or %d", len(voters), len(voters)-1, len(voters)+1)
	case len(voters) == 1 && len(t.Members) > 1:
		return fmt.Errorf("1 voter (%s) among %d members: its failure would stop the whole bus; use 3 or more voters", voters[0].Name, len(t.Members))
	}
	if w := t.Witness(); w != nil && w.NonVoter {
		return fmt.Errorf("the witness %s must be a voter: voting is all it does", w.Name)
	}
	return nil
}

// Voters lists the members that run JetStream and vote in its elections,
// in configuration order.
func (t *Topology) Voters() []Member {
	var vs []Member
	for _, m := range t.Members {
		if !m.NonVoter {
			vs = append(vs, m)
		}
	}
	return vs
}

// Member returns the member called name.
func (t *Topology) Member(name string) (Member, bool) {
	for _, m := range t.Members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// Nodes lists the members that run resources, in configuration order.
func (t *Topology) Nodes() []Member {
	var ns []Member
	for _, m := range t.Members {
		if !m.Witness {
			ns = append(ns, m)
		}
	}
	return ns
}

// NodeNames lists the nodes' names in configuration order.
func (t *Topology) NodeNames() []string {
	var names []string
	for _, m := range t.Nodes() {
		names = append(names, m.Name)
	}
	return names
}

// Witness is the witness, or nil when there is none.
func (t *Topology) Witness() *Member {
	for i := range t.Members {
		if t.Members[i].Witness {
			return &t.Members[i]
		}
	}
	return nil
}

// IsWitness says whether name is the witness.
func (t *Topology) IsWitness(name string) bool {
	w := t.Witness()
	return w != nil && w.Name == name
}

// ClientURL is where clients reach m.
func (m Member) ClientURL() string {
	return "nats://" + net.JoinHostPort(m.Address, strconv.Itoa(m.ClientPort))
}

// ClientURLs lists the client URL of every member.
func (t *Topology) ClientURLs() []string {
	urls := make([]string, len(t.Members))
	for i, m := range t.Members {
		urls[i] = m.ClientURL()
	}
	return urls
}

// Diff says, one line each, how o differs from t in what every member of
// one cluster must share: its name, the ports, the members (names, roles,
// addresses, ports) and whether TLS is on. These take effect only when the
// members restart with them. Nil when they are the same. Paths on a
// member's own host (data_dir, credentials, the TLS files) are its own
// business and are not compared, nor is the order of the members.
func (t *Topology) Diff(o *Topology) []string {
	var out []string
	diff := func(what string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			out = append(out, fmt.Sprintf("%s: %v, not %v", what, b, a))
		}
	}
	diff("[cluster] name", quote(t.Cluster), quote(o.Cluster))
	diff("[bus] client_port", t.ClientPort, o.ClientPort)
	diff("[bus] cluster_port", t.ClusterPort, o.ClusterPort)
	diff("[bus.tls]", tlsText(t), tlsText(o))
	for _, m := range t.Members {
		n, ok := o.Member(m.Name)
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s %q: removed", m.kind(), m.Name))
		case n.Witness != m.Witness:
			out = append(out, fmt.Sprintf("%q: now a %s, not a %s", m.Name, n.kind(), m.kind()))
		case n.NonVoter != m.NonVoter:
			out = append(out, fmt.Sprintf("%s %q: now %s", m.kind(), m.Name, map[bool]string{true: "a member that does not vote", false: "a voter"}[n.NonVoter]))
		default:
			what := fmt.Sprintf("%s %q", m.kind(), m.Name)
			diff(what+" address", m.Address, n.Address)
			diff(what+" client_port", m.ClientPort, n.ClientPort)
			diff(what+" cluster_port", m.ClusterPort, n.ClusterPort)
		}
	}
	for _, n := range o.Members {
		if _, ok := t.Member(n.Name); !ok {
			out = append(out, fmt.Sprintf("%s %q: added (address %s)", n.kind(), n.Name, n.Address))
		}
	}
	return out
}

func (m Member) kind() string {
	if m.Witness {
		return "witness"
	}
	return "node"
}

func quote(s string) string { return strconv.Quote(s) }

func tlsText(t *Topology) string {
	if t.UsesTLS() {
		return "mutual TLS"
	}
	return "off"
}
