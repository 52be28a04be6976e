package lab

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tandem-ha/tandem/bus"
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

// WithIPaddr2 is a cluster file whose VIP resource (agent "vip") is run by
// Debian's ocf:heartbeat:IPaddr2 through the ocf bridge instead, with the
// same parameters (ip, cidr_netmask): the seed tutorial's own agent.
// cidr_netmask becomes bits, the prefix of the lab's subnet: IPaddr2 looks
// for the interface whose network holds the address with that netmask
// (findif), and fails on a node whose interface is in a /27 when asked for
// a /24; the vip agent takes the netmask as given.
func WithIPaddr2(conf []byte, bits int) ([]byte, error) {
	const vip = "\nagent = \"vip\"\nparams = { ip = \""
	if n := bytes.Count(conf, []byte(vip)); n != 1 {
		return nil, fmt.Errorf("the cluster file has %d resources with agent = \"vip\" followed by their params, want one", n)
	}
	i := bytes.Index(conf, []byte(vip))
	end := bytes.IndexByte(conf[i+len(vip):], '\n')
	if end < 0 {
		return nil, fmt.Errorf("the vip resource's params do not end")
	}
	end += i + len(vip)
	line := conf[i+len("\nagent = \"vip\"\n") : end]
	ip, _, ok := bytes.Cut(line[len("params = { ip = \""):], []byte("\""))
	if !ok {
		return nil, fmt.Errorf("the vip resource's ip is not quoted")
	}
	out := append([]byte(nil), conf[:i]...)
	out = append(out, fmt.Sprintf("\nagent = \"ocf:heartbeat:IPaddr2\"\nparams = { ip = %q, cidr_netmask = \"%d\" }", ip, bits)...)
	return append(out, conf[end:]...), nil
}

// ApacheConfigFile is the Apache configuration of the lab's nodes (Debian's):
// ocf:heartbeat:apache's configfile in WithApacheOCF.
const ApacheConfigFile = "/etc/apache2/apache2.conf"

// ApacheStatusURL is ocf:heartbeat:apache's statusurl in WithApacheOCF.
const ApacheStatusURL = "http://localhost/server-status"

// WithApacheOCF is a cluster file whose httpd clone (agent
// "systemd:apache2") is run by Debian's ocf:heartbeat:apache through the ocf
// bridge instead, as a Pacemaker cluster on Debian runs it: the agent starts
// /usr/sbin/apache2 itself with configfile ApacheConfigFile and monitors it
// through mod_status's /server-status, which Debian enables for local
// clients. statusurl is ApacheStatusURL: the agent's curl asks from the
// loopback (--interface lo), and the URL it would derive from apache2.conf
// is http://localhost: with no path (it does not follow Include, so it
// misses ports.conf's Listen and status.conf's Location);
// vagrant/provision/node.sh has Apache listen on 127.0.0.1:80 too.
func WithApacheOCF(conf []byte) ([]byte, error) {
	const unit = "\nagent = \"systemd:apache2\"\n"
	if n := bytes.Count(conf, []byte(unit)); n != 1 {
		return nil, fmt.Errorf("the cluster file has %d resources with agent = \"systemd:apache2\", want one", n)
	}
	return bytes.Replace(conf, []byte(unit), []byte(fmt.Sprintf("\nagent = \"ocf:heartbeat:apache\"\nparams = { configfile = %q, statusurl = %q }\n", ApacheConfigFile, ApacheStatusURL)), 1), nil
}

// WithLeases sets the cluster file's [bus] leases (bus.LeasesGrants:
// leases granted by a majority of the voters); "" or bus.LeasesBucket leave
// the file as it is.
func WithLeases(conf []byte, mode string) ([]byte, error) {
	switch mode {
	case "", bus.LeasesBucket:
		return conf, nil
	case bus.LeasesGrants:
	default:
		return nil, fmt.Errorf("unknown lease mode %q (%s or %s)", mode, bus.LeasesBucket, bus.LeasesGrants)
	}
	if bytes.Contains(conf, []byte("\nleases =")) {
		return nil, fmt.Errorf("the cluster file sets [bus] leases already")
	}
	i := bytes.Index(conf, []byte("\n[bus]\n"))
	if i < 0 {
		return nil, fmt.Errorf("the cluster file has no [bus] table to set leases in")
	}
	i += len("\n[bus]\n")
	out := append([]byte(nil), conf[:i]...)
	out = append(out, fmt.Sprintf("leases = %q\n", mode)...)
	return append(out, conf[i:]...), nil
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
