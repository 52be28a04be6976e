package config

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Validate checks a configuration that did not come straight from a file (a
// CLI edit, the live configuration) with the same rules Load applies.
func Validate(c *Config) error {
	ps := &problems{file: "config"}
	ps.list = validate(c, "")
	return ps.err()
}

// ErrTwoNodesNoWitness is why a two-node cluster without a witness is refused.
var ErrTwoNodesNoWitness = errors.New("a two-node cluster needs a witness: two voters cannot keep a majority " +
	"when one of them fails, so the bus would stop accepting writes and no lease could move; " +
	"add a [witness] table (name and address of a small third host that runs `tandem witness`)")

// QuorumCheck says whether the members of c can form a bus that survives the
// loss of one member, or is a deliberate single-node development cluster.
func QuorumCheck(c *Config) error {
	if len(c.Nodes) == 2 && c.Witness == nil {
		return ErrTwoNodesNoWitness
	}
	return nil
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_-]{0,62})$`)
	idRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$`)
	agentRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(:[A-Za-z0-9@._-]+)?$`)
)

// ValidID reports whether s can name a resource or constraint.
func ValidID(s string) bool { return idRE.MatchString(s) }

// Op names an operation may have.
var opNames = map[string]bool{"start": true, "stop": true, "monitor": true, "reload": true, "promote": true, "demote": true}

func validate(c *Config, file string) Problems {
	ps := &problems{file: file}
	if strings.TrimSpace(c.Cluster.Name) == "" {
		ps.at(0, "[cluster] name is missing: give the cluster a name")
	}
	validateBus(c, ps)
	validateMembers(c, ps)
	validateResources(c, ps)
	validateConstraints(c, ps)
	return ps.list
}

func validatePort(ps *problems, line int, what string, port int) {
	if port < 0 || port > 65535 {
		ps.at(line, "%s %d is not a TCP port (1-65535)", what, port)
	}
}

func validateBus(c *Config, ps *problems) {
	validatePort(ps, 0, "[bus] client_port", c.Bus.ClientPort)
	validatePort(ps, 0, "[bus] cluster_port", c.Bus.ClusterPort)
	if t := c.Bus.TLS; t != nil && (t.Cert == "" || t.Key == "") {
		ps.at(0, "[bus.tls] needs cert and key (and ca to verify peers)")
	}
}

func validateMembers(c *Config, ps *problems) {
	if len(c.Nodes) == 0 {
		ps.at(0, "no [[node]]: a cluster needs at least one node")
	}
	seen := map[string]int{}
	endpoints := map[string]string{}
	check := func(kind, name, address string, clientPort, clusterPort int, p Pos) {
		what := fmt.Sprintf("%s %q", kind, name)
		switch {
		case name == "":
			ps.at(p.Line, "%s without a name", kind)
		case !nameRE.MatchString(name):
			ps.at(p.KeyLine("name"), "%s: a name is letters, digits, '-' and '_' (a host name without the domain)", what)
		}
		if prev, dup := seen[name]; dup && name != "" {
			ps.at(p.KeyLine("name"), "%s: duplicate name (also defined at line %d)", what, prev)
		}
		seen[name] = p.KeyLine("name")
		if address == "" {
			ps.at(p.Line, "%s: address is missing", what)
		} else if _, err := netip.ParseAddr(address); err != nil {
			ps.at(p.KeyLine("address"), "%s: address %q is not an IP address", what, address)
		}
		validatePort(ps, p.KeyLine("client_port"), what+" client_port", clientPort)
		validatePort(ps, p.KeyLine("cluster_port"), what+" cluster_port", clusterPort)
		for _, ep := range []struct {
			kind string
			port int
		}{{"client", pick(clientPort, pick(c.Bus.ClientPort, DefaultClientPort))}, {"cluster", pick(clusterPort, pick(c.Bus.ClusterPort, DefaultClusterPort))}} {
			key := address + ":" + strconv.Itoa(ep.port)
			if other, dup := endpoints[key]; dup && address != "" {
				ps.at(p.Line, "%s: %s port %s is already used by %s; give one of them its own client_port/cluster_port", what, ep.kind, key, other)
			}
			endpoints[key] = what
		}
	}
	for _, n := range c.Nodes {
		check("node", n.Name, n.Address, n.ClientPort, n.ClusterPort, n.Pos)
	}
	if w := c.Witness; w != nil {
		check("witness", w.Name, w.Address, w.ClientPort, w.ClusterPort, w.Pos)
	}
	if err := QuorumCheck(c); err != nil {
		ps.at(0, "%v", err)
	}
}

func validateResources(c *Config, ps *problems) {
	ids := map[string]int{}
	claim := func(id string, line int, what string) {
		if prev, dup := ids[id]; dup {
			ps.at(line, "%s: duplicate id %q (also defined at line %d); ids of resources, clones and constraints must be unique", what, id, prev)
			return
		}
		ids[id] = line
	}
	for i := range c.Resources {
		r := &c.Resources[i]
		what := fmt.Sprintf("resource %q", r.ID)
		switch {
		case r.ID == "":
			ps.at(r.Pos.Line, "[[resource]] without an id")
		case !ValidID(r.ID):
			ps.at(r.Pos.KeyLine("id"), "%s: an id starts with a letter, digit or '_' and holds letters, digits, '_', '.', ':' and '-'", what)
		default:
			claim(r.ID, r.Pos.KeyLine("id"), what)
		}
		switch {
		case r.Agent == "":
			ps.at(r.Pos.Line, "%s: agent is missing (vip, systemd:<unit>, haproxy, health:http, or <plugin>:<type>)", what)
		case !agentRE.MatchString(r.Agent):
			ps.at(r.Pos.KeyLine("agent"), "%s: agent %q is not PLUGIN or PLUGIN:TYPE (e.g. vip, systemd:apache2, health:http)", what, r.Agent)
		case r.Plugin() == "systemd" && !strings.Contains(r.Agent, ":"):
			ps.at(r.Pos.KeyLine("agent"), "%s: agent systemd needs a unit: systemd:<unit>, e.g. systemd:apache2", what)
		}
		if r.Plugin() == "vip" {
			validateVIPParams(r, ps)
		}
		monitors := map[int64]bool{}
		for _, o := range r.Ops {
			switch {
			case !opNames[o.Name]:
				ps.at(o.Pos.Line, "%s: op %q is not one of start, stop, monitor, reload, promote, demote", what, o.Name)
			case o.Name == "monitor":
				if o.Interval <= 0 {
					ps.at(o.Pos.Line, "%s: op monitor needs an interval > 0 (e.g. interval = \"30s\")", what)
				}
				if monitors[int64(o.Interval)] {
					ps.at(o.Pos.Line, "%s: two monitor ops with interval %s; each monitor needs its own interval", what, o.Interval)
				}
				monitors[int64(o.Interval)] = true
			case o.Interval != 0:
				ps.at(o.Pos.Line, "%s: op %s: only monitor takes an interval", what, o.Name)
			}
		}
		if cl := r.Clone; cl != nil {
			if !ValidID(cl.ID) {
				ps.at(r.Pos.Line, "%s: clone id %q is not a valid id", what, cl.ID)
			} else {
				claim(cl.ID, r.Pos.Line, what+" clone")
			}
			if cl.Max < 0 {
				ps.at(r.Pos.Line, "%s: clone-max %d must be >= 0 (0: one per node)", what, cl.Max)
			}
			if cl.NodeMax < 0 {
				ps.at(r.Pos.Line, "%s: clone-node-max %d must be >= 0 (0: 1)", what, cl.NodeMax)
			}
		}
	}
	for _, o := range c.Orders {
		claim(o.ID, o.Pos.Line, "order")
	}
	for _, co := range c.Colocations {
		claim(co.ID, co.Pos.Line, "colocation")
	}
	for _, l := range c.Locations {
		claim(l.ID, l.Pos.Line, "location")
	}
}

func validateVIPParams(r *Resource, ps *problems) {
	what := fmt.Sprintf("resource %q", r.ID)
	ip, ok := r.Params["ip"]
	if !ok {
		ps.at(r.Pos.Line, "%s: agent vip needs params.ip (the floating address)", what)
		return
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		ps.at(r.Pos.Line, "%s: params.ip %q is not an IP address", what, ip)
		return
	}
	if m, ok := r.Params["cidr_netmask"]; ok {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > addr.BitLen() {
			ps.at(r.Pos.Line, "%s: params.cidr_netmask %q must be a prefix length 1-%d", what, m, addr.BitLen())
		}
	}
}

// ref checks that a constraint names something that exists, and a clone by
// its clone id.
func ref(c *Config, ps *problems, line int, what, id string) bool {
	if id == "" {
		ps.at(line, "%s: a resource id is missing", what)
		return false
	}
	r, isClone := c.Resource(id)
	if r == nil {
		ps.at(line, "%s: no resource or clone %q (defined: %s)", what, id, strings.Join(c.ResourceIDs(), ", "))
		return false
	}
	if r.Clone != nil && !isClone {
		ps.at(line, "%s: %q is cloned; constraints name the clone: use %q", what, id, r.Clone.ID)
		return false
	}
	return true
}

func validateConstraints(c *Config, ps *problems) {
	actions := map[Action]bool{ActionStart: true, ActionStop: true, ActionPromote: true, ActionDemote: true}
	for _, o := range c.Orders {
		what := fmt.Sprintf("order %s then %s", o.First, o.Then)
		okF := ref(c, ps, o.Pos.KeyLine("first"), what, o.First)
		okT := ref(c, ps, o.Pos.KeyLine("then"), what, o.Then)
		if okF && okT && o.First == o.Then {
			ps.at(o.Pos.Line, "%s: a resource cannot be ordered after itself", what)
		}
		if !actions[o.FirstAction] {
			ps.at(o.Pos.KeyLine("first-action"), "%s: first-action %q is not start, stop, promote or demote", what, o.FirstAction)
		}
		if !actions[o.ThenAction] {
			ps.at(o.Pos.KeyLine("then-action"), "%s: then-action %q is not start, stop, promote or demote", what, o.ThenAction)
		}
		switch o.Kind {
		case Mandatory, Optional, Serialize:
		default:
			ps.at(o.Pos.KeyLine("kind"), "%s: kind %q is not Mandatory, Optional or Serialize", what, o.Kind)
		}
	}
	for _, cycle := range OrderCycles(c) {
		line := 0
		for _, o := range c.Orders {
			if o.ID == cycle.Orders[0] {
				line = o.Pos.Line
			}
		}
		ps.at(line, "ordering cycle: %s; remove or reverse one of these orders (%s)",
			strings.Join(cycle.Steps, " then "), strings.Join(cycle.Orders, ", "))
	}
	for _, co := range c.Colocations {
		what := fmt.Sprintf("colocation %s with %s", co.Rsc, co.With)
		okR := ref(c, ps, co.Pos.KeyLine("rsc"), what, co.Rsc)
		okW := ref(c, ps, co.Pos.KeyLine("with"), what, co.With)
		if okR && okW && co.Rsc == co.With {
			ps.at(co.Pos.Line, "%s: a resource cannot be colocated with itself", what)
		}
	}
	for _, l := range c.Locations {
		what := fmt.Sprintf("location %s on %s", l.Rsc, l.Node)
		ref(c, ps, l.Pos.KeyLine("rsc"), what, l.Rsc)
		switch {
		case l.Node == "":
			ps.at(l.Pos.Line, "%s: node is missing", what)
		case c.Node(l.Node) == nil && c.Witness != nil && c.Witness.Name == l.Node:
			ps.at(l.Pos.KeyLine("node"), "%s: %q is the witness, which runs no resources", what, l.Node)
		case c.Node(l.Node) == nil:
			var names []string
			for _, n := range c.Nodes {
				names = append(names, n.Name)
			}
			ps.at(l.Pos.KeyLine("node"), "%s: no node %q (nodes: %s)", what, l.Node, strings.Join(names, ", "))
		}
	}
}

// Cycle is a loop of ordering constraints: Steps like "start A", "start B",
// "start A"; Orders the constraint ids along it.
type Cycle struct {
	Steps  []string
	Orders []string
}

// OrderCycles finds loops among Mandatory and Optional orders (Serialize
// orders have no direction). A symmetrical order also orders the reverse
// actions in reverse, so those edges are part of the graph too. Each loop is
// reported once, starting from its smallest step.
func OrderCycles(c *Config) []Cycle {
	type edge struct{ to, order string }
	graph := map[string][]edge{}
	inverse := map[Action]Action{ActionStart: ActionStop, ActionStop: ActionStart, ActionPromote: ActionDemote, ActionDemote: ActionPromote}
	for _, o := range c.Orders {
		if o.Kind == Serialize || o.First == "" || o.Then == "" || o.First == o.Then {
			continue
		}
		a := string(o.FirstAction) + " " + o.First
		b := string(o.ThenAction) + " " + o.Then
		graph[a] = append(graph[a], edge{b, o.ID})
		if o.Symmetrical {
			ia, ib := inverse[o.FirstAction], inverse[o.ThenAction]
			if ia != "" && ib != "" {
				from := string(ib) + " " + o.Then
				graph[from] = append(graph[from], edge{string(ia) + " " + o.First, o.ID})
			}
		}
	}
	var starts []string
	for k := range graph {
		starts = append(starts, k)
	}
	sort.Strings(starts)
	seen := map[string]bool{}
	var cycles []Cycle
	const white, grey, black = 0, 1, 2
	color := map[string]int{}
	var stack []string
	var via []string
	var dfs func(n string)
	dfs = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, e := range graph[n] {
			switch color[e.to] {
			case white:
				via = append(via, e.order)
				dfs(e.to)
				via = via[:len(via)-1]
			case grey:
				i := len(stack) - 1
				for stack[i] != e.to {
					i--
				}
				steps := append(append([]string{}, stack[i:]...), e.to)
				orders := append(append([]string{}, via[i:]...), e.order)
				cyc := canonicalCycle(steps, orders)
				key := strings.Join(cyc.Steps, "|")
				if !seen[key] {
					seen[key] = true
					cycles = append(cycles, cyc)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, s := range starts {
		if color[s] == white {
			dfs(s)
		}
	}
	return cycles
}

// canonicalCycle rotates a cycle so it starts at its smallest step.
func canonicalCycle(steps, orders []string) Cycle {
	n := len(steps) - 1 // last step repeats the first
	best := 0
	for i := 1; i < n; i++ {
		if steps[i] < steps[best] {
			best = i
		}
	}
	var cyc Cycle
	for i := 0; i < n; i++ {
		cyc.Steps = append(cyc.Steps, steps[(best+i)%n])
		cyc.Orders = append(cyc.Orders, orders[(best+i)%n])
	}
	cyc.Steps = append(cyc.Steps, cyc.Steps[0])
	return cyc
}
