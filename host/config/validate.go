package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_-]{0,62})$`)

// validate checks what only the file knows (the bootstrap settings, and
// which names are the witness's), then the model's own rules.
func validate(f *File, ps *problems) {
	top := f.Topology
	if strings.TrimSpace(top.Cluster) == "" {
		ps.atLine(0, "[cluster] name is missing: give the cluster a name")
	}
	if t := top.TLS; t != nil {
		switch {
		case t.Dir != "" && (t.Cert != "" || t.Key != "" || t.CA != ""):
			ps.at("bus.tls", "[bus.tls] gives dir and cert/key/ca: give either the PKI directory of `tandem pki init` (dir) or the three files")
		case t.Dir == "" && (t.Cert == "" || t.Key == "" || t.CA == ""):
			ps.at("bus.tls", "[bus.tls] needs dir (the PKI directory of `tandem pki init`), or cert, key and ca: mutual TLS verifies every peer against the cluster CA")
		}
	}
	validateMembers(f, ps)
	// A location on the witness: say so, rather than "no node".
	if w := top.Witness(); w != nil {
		for i, l := range f.CIB.Locations {
			if l.Node == w.Name {
				ps.at(fmt.Sprintf("location[%d].node", i), "location %s on %s: %q is the witness, which runs no resources", l.Rsc, l.Node, l.Node)
			}
		}
	}
	ps.model(f.CIB.Validate())
}

func validateMembers(f *File, ps *problems) {
	top := f.Topology
	if len(top.Nodes()) == 0 {
		ps.atLine(0, "no [[node]]: a cluster needs at least one node")
	}
	seen := map[string]string{}
	endpoints := map[string]string{}
	node := 0
	for _, m := range top.Members {
		path := "witness"
		if !m.Witness {
			path = fmt.Sprintf("node[%d]", node)
			node++
		}
		kind := memberKind(m.Witness)
		what := fmt.Sprintf("%s %q", kind, m.Name)
		switch {
		case m.Name == "":
			ps.at(path, "%s without a name", kind)
		case !nameRE.MatchString(m.Name):
			ps.at(path+".name", "%s: a name is letters, digits, '-' and '_' (a host name without the domain)", what)
		}
		if prev, dup := seen[m.Name]; dup && m.Name != "" {
			ps.at(path+".name", "%s: duplicate name (also defined at line %d)", what, ps.lines.Line(prev))
		}
		seen[m.Name] = path + ".name"
		if m.Address == "" {
			ps.at(path, "%s: address is missing", what)
		} else if _, err := netip.ParseAddr(m.Address); err != nil {
			ps.at(path+".address", "%s: address %q is not an IP address", what, m.Address)
		}
		for _, ep := range []struct {
			kind string
			port int
		}{{"client", m.ClientPort}, {"cluster", m.ClusterPort}} {
			key := m.Address + ":" + strconv.Itoa(ep.port)
			if other, dup := endpoints[key]; dup && m.Address != "" {
				ps.at(path, "%s: %s port %s is already used by %s; give one of them its own client_port/cluster_port", what, ep.kind, key, other)
			}
			endpoints[key] = what
		}
	}
	if err := top.CheckQuorum(); err != nil {
		ps.atLine(0, "%v", err)
	}
}
