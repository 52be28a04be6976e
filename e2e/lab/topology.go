package lab

import (
	"bytes"
	"fmt"
	"strings"
)

// Topologies are the lab's cluster shapes: the reference (holly, benji and
// the witness director) and others with the same resources (the VIP,
// httpd-clone and haproxy-clone on every node, HAProxy balancing over every
// started httpd), in ReferenceSubnet like e2e/cluster.toml.
var Topologies = map[string]string{
	"reference": "",
	// Three nodes, no witness: every node votes.
	"three": member("holly", 22) + member("benji", 24) + member("carol", 26),
	// Five nodes: the first three vote ([bus] voter_count defaults to 3),
	// dave and erin are plain members.
	"five": member("holly", 22) + member("benji", 24) + member("carol", 26) + member("dave", 27) + member("erin", 28),
}

func member(name string, host int) string {
	return fmt.Sprintf("[[node]]\nname = %q\naddress = \"198.18.0.%d\"\n\n", name, host)
}

// TopologyConfig is the reference cluster file (e2e/cluster.toml) with its
// members replaced by those of the named topology.
func TopologyConfig(reference []byte, name string) ([]byte, error) {
	members, ok := Topologies[name]
	if !ok {
		var names []string
		for n := range Topologies {
			names = append(names, n)
		}
		return nil, fmt.Errorf("unknown lab topology %q (known: %s)", name, strings.Join(names, ", "))
	}
	if members == "" {
		return reference, nil
	}
	// The members are the tables from the first [[node]] up to the first
	// table after the [witness] one.
	start := bytes.Index(reference, []byte("\n[[node]]\n"))
	w := bytes.Index(reference, []byte("\n[witness]\n"))
	if start < 0 || w < start {
		return nil, fmt.Errorf("the reference cluster file has no [[node]] tables followed by [witness]")
	}
	end := bytes.Index(reference[w+1:], []byte("\n["))
	if end < 0 {
		return nil, fmt.Errorf("the reference cluster file has nothing after [witness]")
	}
	end += w + 2
	out := append([]byte(nil), reference[:start+1]...)
	out = append(out, members...)
	return append(out, reference[end:]...), nil
}
