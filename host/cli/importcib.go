package cli

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/cibimport"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/liveconfig"
)

type importCIBOptions struct {
	addresses []string
	witness   string
	name      string
	out       string
	strict    bool
}

func newConfigImportCIBCmd() *cobra.Command {
	var o importCIBOptions
	cmd := &cobra.Command{
		Use:   "import-cib FILE|-",
		Short: "Turn a Pacemaker CIB (pcs cluster cib, cibadmin --query) into a cluster file",
		Long: `import-cib reads a Pacemaker CIB (the XML that pcs cluster cib or cibadmin
--query prints; "-" reads it from stdin) and writes the same cluster as a
cluster.toml: nodes and their attributes, ocf, systemd and lsb primitives with
their parameters, ops and meta attributes, groups, clones and promotable clones,
order, colocation, location and ticket constraints (with resource sets and
rules on node attributes), rsc_defaults, op_defaults (written into each op), the
properties Tandem has, and alerts with their options, meta attributes and
recipients (Tandem has no alert filters: an alert's <select> is listed).

Whatever Tandem cannot express is listed on stderr with the CIB element's id,
its line and why (fencing devices: Tandem fences with leases; date rules;
tags; templates; bundles; ...), and left out; --strict makes any such item an
error and writes nothing. Notes (imported, with a difference) are listed too.

A CIB does not say where the nodes are (Pacemaker keeps that in
corosync.conf): give every node's address with --addresses, and for a
two-node cluster the witness with --witness (a small third host that runs
"tandem witness"). The cluster's name is the CIB's cluster-name, or --name.

The result is checked to read back as a valid cluster file before anything is
written; --out writes it whole or not at all (a temporary file renamed over
it; an existing file is kept as FILE.bak). Without --out it goes to stdout.
Bad input (XML that is not well formed, a DOCTYPE or entities, elements nested
too deep, an attribute over 64 KiB, a file over 32 MiB, a schema older than
pacemaker-3.0) is refused naming the line, and nothing is written.

Exit codes: 0 written; 2 bad input, a missing address, or (--strict) something
not imported; 1 the output could not be written.`,
		Example: `  pcs cluster cib > cib.xml
  tandem config import-cib cib.xml --addresses holly=198.18.0.22,benji=198.18.0.24 \
      --witness director=198.18.0.30 --out /etc/tandem/cluster.toml
  cibadmin --query | tandem config import-cib - --addresses a=198.18.0.1,b=198.18.0.2,c=198.18.0.3 --strict`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImportCIB(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.addresses, "addresses", nil, "every node's address, NODE=IP,... (the CIB does not hold them)")
	f.StringVar(&o.witness, "witness", "", "the witness, NAME=IP (required for a two-node cluster)")
	f.StringVar(&o.name, "name", "", "the cluster's name (default: the CIB's cluster-name property)")
	f.StringVar(&o.out, "out", "", "the cluster file to write (default: stdout)")
	f.BoolVar(&o.strict, "strict", false, "fail, writing nothing, when anything of the CIB cannot be imported")
	return cmd
}

func runImportCIB(stdin io.Reader, stdout, stderr io.Writer, src string, o importCIBOptions) error {
	usage := func(format string, args ...any) error {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf(format, args...)}
	}
	in, name := stdin, "stdin"
	if src != "-" {
		fh, err := os.Open(src)
		if err != nil {
			return usage("reading the CIB: %w", err)
		}
		defer fh.Close()
		in, name = fh, src
	}
	res, err := cibimport.Parse(name, in)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: err}
	}
	for _, it := range res.Notes {
		fmt.Fprintf(stderr, "note: %s\n", it)
	}
	for _, it := range res.Skipped {
		fmt.Fprintf(stderr, "not imported: %s\n", it)
	}
	if o.strict && len(res.Skipped) > 0 {
		return usage("%s: %d item(s) of the CIB cannot be imported (listed above); nothing written (--strict)", name, len(res.Skipped))
	}
	top, err := importTopology(res, o)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("%s: %w; nothing written", name, err)}
	}
	body, err := config.EncodeFile(top, "", res.CIB, nil)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	text := []byte(importHeader(name, res) + string(body))
	target := o.out
	if target == "" {
		target = "<stdout>"
	}
	// Never write a file that does not read back as what was imported.
	back, err := config.Parse(target, text)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("%s: the cluster file it would make is not valid, nothing written (lines are those of the file it would write):\n%w", name, err)}
	}
	if !liveconfig.Same(back.CIB, res.CIB) {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s: the imported configuration did not read back the same, nothing written; please report this", name)}
	}
	if o.out == "" {
		_, err := stdout.Write(text)
		return err
	}
	_, statErr := os.Stat(o.out)
	backup, err := writeReplacing(o.out, text, statErr == nil)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	fmt.Fprintf(stderr, "Wrote %s: %d node(s), %d resource(s), %d group(s), %d constraint(s), %d alert(s); %d item(s) not imported\n",
		o.out, len(res.CIB.Nodes), len(res.CIB.Resources), len(res.CIB.Groups), len(res.CIB.ConstraintIDs()), len(res.CIB.Alerts), len(res.Skipped))
	if backup != "" {
		fmt.Fprintf(stderr, "The previous file is %s\n", backup)
	}
	return nil
}

// importTopology is the bootstrap part of the imported file: the CIB's
// nodes at the addresses given, the witness, the cluster's name.
func importTopology(res *cibimport.Result, o importCIBOptions) (*bus.Topology, error) {
	nodes := res.CIB.NodeNames()
	if len(nodes) == 0 {
		return nil, errors.New("the CIB lists no nodes (<nodes> is empty): Tandem needs them to place resources")
	}
	addrs := map[string]string{}
	for _, kv := range o.addresses {
		n, a, ok := strings.Cut(kv, "=")
		if !ok || n == "" || a == "" {
			return nil, fmt.Errorf("--addresses %q: want NODE=IP", kv)
		}
		if !slices.Contains(nodes, n) {
			return nil, fmt.Errorf("--addresses: %q is not a node of the CIB (its nodes: %s)", n, strings.Join(nodes, ", "))
		}
		if _, err := netip.ParseAddr(a); err != nil {
			return nil, fmt.Errorf("--addresses %s=%s: not an IP address", n, a)
		}
		addrs[n] = a
	}
	var missing []string
	for _, n := range nodes {
		if addrs[n] == "" {
			missing = append(missing, n+"=IP")
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the CIB does not hold the nodes' addresses (Pacemaker keeps them in corosync.conf): give them with --addresses %s", strings.Join(missing, ","))
	}
	name := o.name
	if name == "" {
		name = res.ClusterName
	}
	if name == "" {
		return nil, errors.New("the CIB has no cluster-name property: give the cluster a name with --name")
	}
	top := &bus.Topology{Cluster: name, ClientPort: config.DefaultClientPort, ClusterPort: config.DefaultClusterPort,
		DataDir: config.DefaultDataDir, Credentials: config.DefaultCredentials}
	for _, n := range nodes {
		top.Members = append(top.Members, bus.Member{Name: n, Address: addrs[n], ClientPort: top.ClientPort, ClusterPort: top.ClusterPort})
	}
	if o.witness != "" {
		n, a, ok := strings.Cut(o.witness, "=")
		if !ok || n == "" {
			return nil, fmt.Errorf("--witness %q: want NAME=IP", o.witness)
		}
		if _, err := netip.ParseAddr(a); err != nil {
			return nil, fmt.Errorf("--witness %s: %q is not an IP address", o.witness, a)
		}
		top.Members = append(top.Members, bus.Member{Name: n, Address: a, ClientPort: top.ClientPort, ClusterPort: top.ClusterPort, Witness: true})
	}
	if err := top.CheckQuorum(); errors.Is(err, bus.ErrTwoNodesNoWitness) {
		return nil, errors.New("a two-node cluster needs a witness (Pacemaker's two_node quorum has no Tandem equivalent): give a small third host with --witness NAME=IP; it runs `tandem witness`")
	} else if err != nil {
		return nil, err
	}
	return top, nil
}

// importHeader is the comment at the top of an imported file: where it came
// from, and what was left out.
func importHeader(name string, res *cibimport.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Imported from the Pacemaker CIB %s (%s) by `tandem config import-cib`.\n", name, res.Schema)
	if len(res.Skipped) > 0 {
		fmt.Fprintf(&b, "# Not imported (%d):\n", len(res.Skipped))
		for _, it := range res.Skipped {
			fmt.Fprintf(&b, "#   %s\n", strings.ReplaceAll(it.String(), "\n", " "))
		}
	}
	b.WriteString("\n")
	return b.String()
}
