// Package status builds the cluster report `tandem status` prints: who is
// online, whether this partition has quorum, what each member's daemons are
// doing. Gathering talks to the bus; rendering is pure, so its layout (that
// of `pcs status`) is golden-tested.
package status

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/tickets"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Report is the cluster as seen from one vantage point.
type Report struct {
	Cluster     string    `json:"cluster"`
	Stack       string    `json:"stack"`
	LastUpdated time.Time `json:"last_updated"`
	Quorum      bool      `json:"quorum"`
	Voters      int       `json:"voters"`
	VotersUp    int       `json:"voters_up"`
	Nodes       []Member  `json:"nodes"`
	Witness     *Member   `json:"witness,omitempty"`
	Resources   int       `json:"resources_configured"`
	Unreachable string    `json:"unreachable,omitempty"` // why no member answered
	// CredentialsRefused: this host could not talk to the bus because the
	// credentials (its own or the members') were refused, and why; the
	// members' state is then unknown, not offline.
	CredentialsRefused string `json:"credentials_refused,omitempty"`
	// MaintenanceMode: the cluster property maintenance-mode is set;
	// nothing is started, stopped or recovered.
	MaintenanceMode bool `json:"maintenance_mode,omitempty"`
	// Coordinator is the node that plans (Pacemaker's DC), if known.
	Coordinator string `json:"coordinator,omitempty"`
	// ResourceList is every configured resource and where it runs, from
	// the nodes' own reports (nil when no node answered).
	ResourceList []Resource `json:"resources,omitempty"`
	// Failures are the fail-counts, as `Failed Resource Actions`.
	Failures []Failure `json:"failures,omitempty"`
	// Tickets are the tickets the ticket constraints name and those ever
	// granted, with their state (as crm_mon's Tickets section).
	Tickets []tickets.Summary `json:"tickets,omitempty"`
	// Live is the live configuration's revision and whether it differs
	// from the local cluster file (nil when it could not be read).
	Live *LiveConfig `json:"live_config,omitempty"`
	// LiveUnreadable says why the live configuration could not be read
	// (its bucket without a quorum of its replicas, say): the resources
	// listed are then the local file's.
	LiveUnreadable string `json:"live_config_unreadable,omitempty"`
	// BusLeaders names the member leading each of the bus's Raft groups
	// ("meta", and the buckets "leases", "config", "state"), as far as
	// the members that answered say.
	BusLeaders map[string]string `json:"bus_leaders,omitempty"`
	// NonVoters are the members that run no JetStream ([bus] voters).
	NonVoters []string `json:"non_voters,omitempty"`
	// ExposedLeaders are the members that lead some of the bus's groups
	// while holding singleton leases: their failure costs a Raft election
	// (4-9 s) before their singletons can move. Normally none; it stays
	// so only while no voter is free of singletons (docs/leases.md).
	ExposedLeaders []ExposedLeader `json:"exposed_leaders,omitempty"`
}

// ExposedLeader is a member leading groups while holding singletons.
type ExposedLeader struct {
	Member     string   `json:"member"`
	Groups     []string `json:"groups"`
	Singletons int      `json:"singletons"`
}

// LiveConfig says which configuration the cluster runs.
type LiveConfig struct {
	Revision uint64 `json:"revision"`
	File     string `json:"file"` // the local cluster file
	// DiffersFromFile: the live configuration is not the local file's (it
	// was edited with tandem commands, or the file was changed since).
	DiffersFromFile bool `json:"differs_from_file"`
	// DriftShown: this host's status already warned about this very
	// difference (the same live revision and the same file): the text
	// says it in one line under the header instead of a WARNINGS block
	// on every call.
	DriftShown bool `json:"-"`
	// InvalidRevision, when not 0, is a newer revision that cannot be
	// used (Invalid says why): the cluster runs Revision, the last valid.
	InvalidRevision uint64 `json:"invalid_revision,omitempty"`
	Invalid         string `json:"invalid,omitempty"`
}

// Resource is one configured primitive or clone and its state.
type Resource struct {
	ID    string `json:"id"`
	Agent string `json:"agent"`
	Clone string `json:"clone,omitempty"` // the clone id (its group's, for a member of a cloned group); ID is then the primitive
	// Group is the group the primitive belongs to. The members of a group
	// are listed together, in start order.
	Group   string `json:"group,omitempty"`
	Stopped bool   `json:"disabled,omitempty"`
	// Promotable: a promotable clone, whose started instances are
	// "Promoted" or "Unpromoted".
	Promotable bool `json:"promotable,omitempty"`
	// Unique: a globally-unique clone, whose instances are listed one
	// by one (Instances) as pcs lists them.
	Unique bool `json:"unique,omitempty"`
	// Instances of a globally-unique clone: each of its clone-max
	// instances (and any active one beyond), by number, with where it is
	// active ("" and "Stopped" for one active nowhere).
	Instances []Instance `json:"instances,omitempty"`
	// State per node: "Started" (for a promotable clone "Promoted" or
	// "Unpromoted"), "FAILED", "Starting", "Stopping", "blocked".
	Nodes map[string]string `json:"nodes"`
	// Warnings per node: what a degraded monitor said (running, but worth
	// a look: an address conflict the lease holder survived).
	Warnings map[string]string `json:"warnings,omitempty"`
}

// Instance is one instance of a globally-unique clone and its state.
type Instance struct {
	Number int    `json:"number"`
	Node   string `json:"node,omitempty"`
	State  string `json:"state"` // as in Resource.Nodes, or "Stopped"
}

// Failure is a fail-count of a resource on a node.
type Failure struct {
	Resource string    `json:"resource"`
	Node     string    `json:"node"`
	Count    int       `json:"count"`
	Op       string    `json:"op"`
	Message  string    `json:"message,omitempty"`
	Last     time.Time `json:"last"`
	// Blocked: the resource is blocked on the node (its stop failed):
	// nothing is done to it there until a cleanup.
	Blocked bool `json:"blocked,omitempty"`
}

// MarkBlocked flags the failures of resources that the nodes' reports show
// blocked (deleted resources too: a blocked one stays on its node).
func MarkBlocked(r *Report, reports []bus.NodeResources) {
	online := map[string]bool{}
	for _, n := range r.Nodes {
		online[n.Name] = n.Online
	}
	blocked := map[[2]string]bool{}
	for _, rep := range reports {
		for _, rs := range rep.Resources {
			if online[rep.Node] && rs.State == bus.StateBlocked {
				blocked[[2]string{rs.Resource, rep.Node}] = true
			}
		}
	}
	for i := range r.Failures {
		r.Failures[i].Blocked = blocked[[2]string{r.Failures[i].Resource, r.Failures[i].Node}]
	}
}

// AddResources fills the resource list from the nodes' reports (reports of
// members not online in r are ignored: what an offline node ran is not
// running for the cluster).
func AddResources(r *Report, cfg *cib.CIB, reports []bus.NodeResources) {
	online := map[string]bool{}
	for i, n := range r.Nodes {
		online[n.Name] = n.Online
		if cn := cfg.Node(n.Name); cn != nil {
			r.Nodes[i].Standby, r.Nodes[i].Maintenance = cn.Standby, cn.Maintenance
		}
	}
	r.MaintenanceMode = cfg.Properties.MaintenanceMode
	byRsc := map[string]map[string]string{}
	type active struct {
		node, word string
	}
	byInstance := map[string]map[int][]active{} // instances of clones, for the unique ones
	warnings := map[string]map[string]string{}
	for _, rep := range reports {
		if !online[rep.Node] {
			continue
		}
		for _, rs := range rep.Resources {
			if rs.Warning != "" {
				if warnings[rs.Resource] == nil {
					warnings[rs.Resource] = map[string]string{}
				}
				warnings[rs.Resource][rep.Node] = rs.Warning
			}
			word := ""
			switch rs.State {
			case bus.StateStarted:
				word = "Started"
				if rs.Role == cib.RolePromoted {
					word = "Promoted"
				}
			case bus.StateFailed:
				word = "FAILED"
			case bus.StateBlocked:
				word = "FAILED (blocked)"
			case bus.StateStarting:
				word = "Starting"
			case bus.StateStopping:
				word = "Stopping"
			default:
				continue
			}
			if byRsc[rs.Resource] == nil {
				byRsc[rs.Resource] = map[string]string{}
			}
			// Several instances of a unique clone on one node: one that
			// is not simply running (failed, starting, stopping) is what
			// the node shows.
			if prev, ok := byRsc[rs.Resource][rep.Node]; !ok || prev == "Started" || prev == "Promoted" {
				byRsc[rs.Resource][rep.Node] = word
			}
			if byInstance[rs.Resource] == nil {
				byInstance[rs.Resource] = map[int][]active{}
			}
			byInstance[rs.Resource][rs.Instance] = append(byInstance[rs.Resource][rs.Instance], active{rep.Node, word})
		}
	}
	r.ResourceList = []Resource{}
	listed := map[string]bool{}
	add := func(rc *cib.Resource, g *cib.Group) {
		res := Resource{ID: rc.ID, Agent: rc.Agent, Nodes: byRsc[rc.ID], Warnings: warnings[rc.ID]}
		if res.Nodes == nil {
			res.Nodes = map[string]string{}
		}
		if cl := cfg.CloneOf(rc); cl != nil {
			res.Clone = cl.ID
			res.Promotable = cl.Promotable
			res.Unique = cl.GloballyUnique
		}
		if res.Unique {
			most, _ := cfg.CloneOf(rc).Limits(len(cfg.Nodes))
			for n := range byInstance[rc.ID] {
				most = max(most, n+1)
			}
			for n := 0; n < most; n++ {
				at := byInstance[rc.ID][n]
				if len(at) == 0 {
					res.Instances = append(res.Instances, Instance{Number: n, State: "Stopped"})
				}
				sort.Slice(at, func(i, j int) bool { return at[i].node < at[j].node })
				for _, a := range at {
					res.Instances = append(res.Instances, Instance{Number: n, Node: a.node, State: a.word})
				}
			}
		}
		if res.Promotable {
			nodes := map[string]string{}
			for n, w := range res.Nodes {
				if w == "Started" {
					w = "Unpromoted"
				}
				nodes[n] = w
			}
			res.Nodes = nodes
		}
		if g != nil {
			res.Group = g.ID
		}
		res.Stopped = cfg.EffectiveIn(rc, g).TargetRole == cib.RoleStopped
		r.ResourceList = append(r.ResourceList, res)
		listed[rc.ID] = true
	}
	groups := cfg.GroupIndex()
	for i := range cfg.Resources {
		rc := &cfg.Resources[i]
		if listed[rc.ID] {
			continue
		}
		g := groups[rc.ID]
		if g == nil {
			add(rc, nil)
			continue
		}
		// A group is listed where its first member is configured.
		for _, m := range g.Resources {
			if mr, _ := cfg.Resource(m); mr != nil {
				add(mr, g)
			}
		}
	}
	r.Resources = len(cfg.Resources)
}

// nodesIn lists the nodes where res is in state word, sorted.
func nodesIn(res Resource, word string) []string {
	var ns []string
	for n, w := range res.Nodes {
		if w == word {
			ns = append(ns, n)
		}
	}
	sort.Strings(ns)
	return ns
}

// Member is one node or the witness.
type Member struct {
	Name   string `json:"name"`
	Online bool   `json:"online"` // its daemon answers
	// Stopped: a node whose resources are stopped (`tandem cluster stop`);
	// its bus member is up (it votes) but it runs nothing, so it is listed
	// OFFLINE as pcs lists a node whose Pacemaker is stopped.
	Stopped bool `json:"stopped,omitempty"`
	// Standby and Maintenance are the node's marks in the live
	// configuration (tandem node standby|maintenance).
	Standby     bool               `json:"standby,omitempty"`
	Maintenance bool               `json:"maintenance,omitempty"`
	Build       string             `json:"build,omitempty"`
	Since       time.Time          `json:"since,omitempty"`
	Daemons     []bus.DaemonStatus `json:"daemons,omitempty"`
}

// Stack names what Tandem runs on, as pcs names corosync.
const Stack = "tandem (embedded NATS, JetStream KV)"

// Build turns the members' answers into a report on the members of top;
// resources is how many resources are configured (AddResources lists them).
func Build(top *bus.Topology, resources int, answers []bus.MemberStatus, now time.Time) Report {
	r := Report{Cluster: top.Cluster, Stack: Stack, LastUpdated: now, Voters: len(top.Voters()), Resources: resources}
	nonVoter := map[string]bool{}
	for _, m := range top.Members {
		nonVoter[m.Name] = m.NonVoter
		if m.NonVoter {
			r.NonVoters = append(r.NonVoters, m.Name)
		}
	}
	byName := map[string]bus.MemberStatus{}
	for _, a := range answers {
		byName[a.Name] = a
	}
	member := func(name string) Member {
		a, ok := byName[name]
		m := Member{Name: name, Online: ok}
		if ok {
			m.Build, m.Since, m.Daemons, m.Stopped = a.Build, a.Started, a.Daemons, a.Stopped
			if !nonVoter[name] {
				r.VotersUp++
			}
		}
		return m
	}
	for _, n := range top.Nodes() {
		r.Nodes = append(r.Nodes, member(n.Name))
	}
	if w := top.Witness(); w != nil {
		wm := member(w.Name)
		r.Witness = &wm
	}
	for _, a := range answers {
		for _, g := range a.Leads {
			if r.BusLeaders == nil {
				r.BusLeaders = map[string]string{}
			}
			r.BusLeaders[g] = a.Name
		}
		if len(a.Leads) > 0 && a.Singletons > 0 {
			r.ExposedLeaders = append(r.ExposedLeaders, ExposedLeader{Member: a.Name, Groups: a.Leads, Singletons: a.Singletons})
		}
	}
	sort.Slice(r.ExposedLeaders, func(i, j int) bool { return r.ExposedLeaders[i].Member < r.ExposedLeaders[j].Member })
	// A partition has quorum when it holds a strict majority of voters:
	// the same rule the bus's Raft groups follow.
	r.Quorum = 2*r.VotersUp > r.Voters
	return r
}

// memberOnline says whether the node called name answered.
func (r Report) memberOnline(name string) bool {
	for _, n := range r.Nodes {
		if n.Name == name {
			return n.Online
		}
	}
	return false
}

// WriteText prints the report in the layout of `pcs status`.
func WriteText(w io.Writer, r Report) {
	fmt.Fprintf(w, "Cluster name: %s\n", r.Cluster)
	// pcs puts its warnings right under the cluster name.
	if warnings := warningLines(r); len(warnings) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "WARNINGS:")
		for _, l := range warnings {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Stack: %s\n", r.Stack)
	q := "partition WITHOUT quorum"
	if r.Quorum {
		q = "partition with quorum"
	}
	if r.CredentialsRefused != "" {
		// Nothing is known of the members: say so rather than list them
		// OFFLINE, which would read as an outage.
		fmt.Fprintf(w, "Quorum: unknown (this host's credentials were refused)\n")
		fmt.Fprintf(w, "Last updated: %s\n", r.LastUpdated.Format("Mon Jan 2 15:04:05 2006"))
		var names []string
		for _, n := range r.Nodes {
			names = append(names, n.Name)
		}
		if r.Witness != nil {
			names = append(names, r.Witness.Name+" (witness)")
		}
		fmt.Fprintf(w, "\nMembers (state unknown): %s\n", strings.Join(names, " "))
		return
	}
	fmt.Fprintf(w, "Quorum: %s (%d of %d voters online)\n", q, r.VotersUp, r.Voters)
	if r.Coordinator != "" {
		if r.memberOnline(r.Coordinator) {
			fmt.Fprintf(w, "Current coordinator: %s - partition %s\n", r.Coordinator, map[bool]string{true: "with quorum", false: "WITHOUT quorum"}[r.Quorum])
		} else {
			// A frozen or cut-off node's lease outlives it for a moment.
			fmt.Fprintf(w, "Current coordinator: NONE (%s holds the coordinator lease but does not answer; another node takes over when the lease expires)\n", r.Coordinator)
		}
	}
	fmt.Fprintf(w, "Last updated: %s\n", r.LastUpdated.Format("Mon Jan 2 15:04:05 2006"))
	if r.Live != nil && r.Live.DiffersFromFile && r.Live.DriftShown {
		fmt.Fprintf(w, "Live configuration: revision %d, differs from %s (tandem config pull %s)\n", r.Live.Revision, r.Live.File, r.Live.File)
	}
	witness := ""
	if r.Witness != nil {
		witness = " and a witness"
	}
	fmt.Fprintf(w, "%d nodes%s and %d resources configured\n", len(r.Nodes), witness, r.Resources)
	if len(r.NonVoters) > 0 {
		fmt.Fprintf(w, "%d voters; members that do not vote: %s\n", r.Voters, strings.Join(r.NonVoters, " "))
	}
	if r.MaintenanceMode {
		// crm_mon's banner for maintenance-mode=true.
		fmt.Fprintln(w)
		fmt.Fprintln(w, "              *** Resource management is DISABLED ***")
		fmt.Fprintln(w, "  The cluster will not attempt to start, stop or recover services")
	}
	if r.Unreachable != "" {
		fmt.Fprintf(w, "\nNo member answered: %s\n", r.Unreachable)
	}
	// As crm_mon: an online node in standby or maintenance gets a line of
	// its own ("Node benji: standby") and is not in the Online list.
	var online, offline, marked []string
	for _, n := range r.Nodes {
		switch {
		case !n.Online || n.Stopped:
			offline = append(offline, n.Name)
		case n.Standby && n.Maintenance:
			marked = append(marked, fmt.Sprintf("Node %s: standby (maintenance)", n.Name))
		case n.Standby:
			marked = append(marked, fmt.Sprintf("Node %s: standby", n.Name))
		case n.Maintenance:
			marked = append(marked, fmt.Sprintf("Node %s: maintenance", n.Name))
		default:
			online = append(online, n.Name)
		}
	}
	sort.Strings(online)
	sort.Strings(offline)
	sort.Strings(marked)
	fmt.Fprintln(w)
	for _, l := range marked {
		fmt.Fprintln(w, l)
	}
	if len(online) > 0 || len(offline) == 0 && len(marked) == 0 {
		fmt.Fprintf(w, "Online: [ %s ]\n", strings.Join(online, " "))
	}
	if len(offline) > 0 {
		fmt.Fprintf(w, "OFFLINE: [ %s ]\n", strings.Join(offline, " "))
	}
	if r.Witness != nil {
		state := "OFFLINE"
		if r.Witness.Online {
			state = "Online"
		}
		fmt.Fprintf(w, "Witness: %s %s\n", r.Witness.Name, state)
	}
	if r.ResourceList != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Full List of Resources:")
		for i := 0; i < len(r.ResourceList); {
			res := r.ResourceList[i]
			if res.Group == "" {
				writeResource(w, res, r.Nodes, "  ")
				i++
				continue
			}
			end := i + 1
			for end < len(r.ResourceList) && r.ResourceList[end].Group == res.Group {
				end++
			}
			writeGroup(w, r.ResourceList[i:end], r.Nodes)
			i = end
		}
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Failed Resource Actions:")
		for _, f := range r.Failures {
			count := fmt.Sprint(f.Count)
			if f.Count >= int(cib.Infinity) {
				count = "INFINITY"
			}
			blocked := ""
			if f.Blocked {
				blocked = fmt.Sprintf(" (blocked: left alone on %s until tandem resource cleanup %s)", f.Node, f.Resource)
			}
			fmt.Fprintf(w, "  * %s %s on %s: fail-count=%s, last-failure='%s': %s%s\n", f.Resource, f.Op, f.Node, count,
				f.Last.In(r.LastUpdated.Location()).Format("Mon Jan 2 15:04:05 2006"), f.Message, blocked)
		}
	}
	if len(r.Tickets) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Tickets:")
		for _, t := range r.Tickets {
			line := fmt.Sprintf("  * %s: %s", t.Ticket, t.Words())
			if t.Changed != nil {
				line += fmt.Sprintf(" (since '%s'", t.Changed.In(r.LastUpdated.Location()).Format("Mon Jan 2 15:04:05 2006"))
				if t.By != "" {
					line += " by " + t.By
				}
				line += ")"
			}
			if len(t.Constraints) == 0 {
				line += "; no ticket constraint names it"
			}
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Daemon Status:")
	all := append([]Member{}, r.Nodes...)
	if r.Witness != nil {
		all = append(all, *r.Witness)
	}
	for _, m := range all {
		if !m.Online {
			fmt.Fprintf(w, "  %s: OFFLINE\n", m.Name)
			continue
		}
		fmt.Fprintf(w, "  %s: %s\n", m.Name, daemonLine(m.Daemons))
	}
}

// warningLines are the lines of the WARNINGS block: the live
// configuration's difference from the file, and every resource a monitor
// said is degraded.
func warningLines(r Report) []string {
	var out []string
	if r.CredentialsRefused != "" {
		out = append(out,
			"This host's credentials were refused: "+r.CredentialsRefused,
			"  The members' state is unknown (they may well be up): fix this host's certificate and CA",
			"  ([bus.tls] in the cluster file; tandem pki list shows them) or its cluster key.")
	}
	if r.LiveUnreadable != "" {
		out = append(out,
			"The live configuration could not be read: "+r.LiveUnreadable,
			"  The resources below are this host's cluster file's, as the nodes report them; the cluster runs the live",
			"  configuration. Its bucket may have lost the quorum of its replicas (a voter that holds one is down: tandem status",
			"  again once it is back, or remove it for good: docs/topology.md).")
	}
	if r.Live != nil && r.Live.InvalidRevision != 0 {
		out = append(out,
			fmt.Sprintf("Live configuration revision %d is invalid; the cluster runs revision %d, the last valid one: %s",
				r.Live.InvalidRevision, r.Live.Revision, strconv.Quote(r.Live.Invalid)),
			fmt.Sprintf("  Replace it: tandem config rollback %d (or tandem config apply FILE)", r.Live.Revision))
	}
	if r.Live != nil && r.Live.DiffersFromFile && !r.Live.DriftShown {
		out = append(out,
			fmt.Sprintf("Live configuration (revision %d) differs from %s; the cluster runs the live one.", r.Live.Revision, r.Live.File),
			fmt.Sprintf("  See the difference: tandem config apply --dry-run %s", r.Live.File),
			fmt.Sprintf("  Update the file: tandem config pull %s", r.Live.File))
	}
	for _, e := range r.ExposedLeaders {
		out = append(out,
			fmt.Sprintf("The bus's leaders of %s are on %s, which holds %d singleton lease(s): if %s fails, they move only after a Raft election (4-9 s).",
				strings.Join(e.Groups, ", "), e.Member, e.Singletons, e.Member),
			"  The leaders move to a voter that holds none within a second; this stays only while every voter holds singletons",
			"  (add a witness, or a voter that runs no singleton: docs/leases.md).")
	}
	for _, res := range r.ResourceList {
		nodes := make([]string, 0, len(res.Warnings))
		for n := range res.Warnings {
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		for _, n := range nodes {
			out = append(out, fmt.Sprintf("Resource %s on %s is degraded (running; no failure counted): %s", res.ID, n, res.Warnings[n]))
		}
	}
	return out
}

// daemonLine is a member's daemons on one line: the daemon and the bus,
// then the plugins that run as they should by name and version
// (vip@1.4.0: an upgrade shows node by node), then the idle ones (no
// resource has needed them yet); a plugin that is not running, or has
// restarted, gets its own entry with its state.
func daemonLine(ds []bus.DaemonStatus) string {
	var parts, fine, idle, odd []string
	for _, d := range ds {
		name, isPlugin := strings.CutPrefix(d.Name, "plugin ")
		if !isPlugin {
			parts = append(parts, d.Name+": "+d.State)
			continue
		}
		// The state reads "NAME: running, pid 44, restarts 0, version 1.0.0".
		state, version := pluginVersion(strings.TrimPrefix(d.State, name+": "))
		label := name
		if version != "" {
			label = name + "@" + version
		}
		if strings.HasPrefix(state, "running") && strings.HasSuffix(state, "restarts 0") {
			fine = append(fine, label)
			continue
		}
		if strings.HasPrefix(state, "idle") {
			idle = append(idle, label)
			continue
		}
		// "running, pid 71, restarts 2" -> "running (pid 71, restarts 2)"
		if word, rest, ok := strings.Cut(state, ", "); ok {
			state = word + " (" + rest + ")"
		}
		odd = append(odd, "plugin "+label+": "+state)
	}
	if len(fine) > 0 {
		sort.Strings(fine)
		parts = append(parts, "plugins: "+strings.Join(fine, " ")+" running")
	}
	if len(idle) > 0 {
		sort.Strings(idle)
		what := "plugins: "
		if len(fine) > 0 {
			what = ""
		}
		parts = append(parts, what+strings.Join(idle, " ")+" idle")
	}
	return strings.Join(append(parts, odd...), ", ")
}

// pluginVersion splits the version off a plugin's state ("running, pid
// 44, restarts 0, version 1.0.0"): the supervisor appends it last, and
// only to states without an error message (whose text, after a colon,
// could say anything).
func pluginVersion(state string) (rest, version string) {
	i := strings.LastIndex(state, ", version ")
	if i < 0 || strings.Contains(state[:i], ":") {
		return state, ""
	}
	v := state[i+len(", version "):]
	if v == "" || strings.ContainsAny(v, " ,:") {
		return state, ""
	}
	return state[:i], v
}

var stateWords = []string{"Promoted", "Unpromoted", "Started", "Starting", "Stopping", "FAILED", "FAILED (blocked)"}

func disabledText(res Resource) string {
	if res.Stopped {
		return " (disabled)"
	}
	return ""
}

// writeResource prints a primitive on one line, or a clone as a set of
// nodes per state, at indent.
func writeResource(w io.Writer, res Resource, nodes []Member, indent string) {
	if res.Clone == "" {
		writePrimitive(w, res, indent, func(string) bool { return true })
		return
	}
	kind := ""
	switch {
	case res.Unique && res.Promotable:
		kind = " (promotable, unique)"
	case res.Unique:
		kind = " (unique)"
	case res.Promotable:
		kind = " (promotable)"
	}
	fmt.Fprintf(w, "%s* Clone Set: %s [%s]%s%s:\n", indent, res.Clone, res.ID, kind, disabledText(res))
	if res.Unique {
		// pcs lists a unique clone's instances one by one.
		for _, in := range res.Instances {
			writeInstance(w, res, in, indent+"  ")
		}
		return
	}
	writeNodeSets(w, res.Nodes, nodes, indent+"  ")
}

// writeInstance prints one instance of a globally-unique clone (or of a
// member of a unique cloned group) on a line of its own, as pcs does: a
// running instance of a promotable clone is Promoted or Unpromoted.
func writeInstance(w io.Writer, res Resource, in Instance, indent string) {
	state := in.State
	if res.Promotable && state == "Started" {
		state = "Unpromoted"
	}
	if in.Node != "" {
		state += " " + in.Node
	}
	fmt.Fprintf(w, "%s* %s:%d\t(%s):\t %s\n", indent, res.ID, in.Number, res.Agent, state)
}

// writePrimitive prints one primitive's states on the nodes keep accepts.
func writePrimitive(w io.Writer, res Resource, indent string, keep func(node string) bool) {
	var parts []string
	for _, word := range stateWords {
		for _, n := range nodesIn(res, word) {
			if keep(n) {
				parts = append(parts, word+" "+n)
			}
		}
	}
	if len(parts) == 0 {
		parts = []string{"Stopped"}
	}
	fmt.Fprintf(w, "%s* %s\t(%s):\t %s%s\n", indent, res.ID, res.Agent, strings.Join(parts, ", "), disabledText(res))
}

// writeNodeSets prints "* Started: [ holly benji ]" lines for the states
// in byNode, and the other nodes as Stopped.
func writeNodeSets(w io.Writer, byNode map[string]string, nodes []Member, indent string) {
	for _, word := range stateWords {
		var ns []string
		for n, st := range byNode {
			if st == word {
				ns = append(ns, n)
			}
		}
		if len(ns) > 0 {
			sort.Strings(ns)
			fmt.Fprintf(w, "%s* %s: [ %s ]\n", indent, word, strings.Join(ns, " "))
		}
	}
	var stopped []string
	for _, n := range nodes {
		if _, ok := byNode[n.Name]; !ok {
			stopped = append(stopped, n.Name)
		}
	}
	sort.Strings(stopped)
	if len(stopped) > 0 {
		fmt.Fprintf(w, "%s* Stopped: [ %s ]\n", indent, strings.Join(stopped, " "))
	}
}

// writeGroup prints a group as pcs does: "* Resource Group: G:" with its
// members indented. A cloned group is a clone set of the group (a
// promotable one "(promotable)", as crm_mon prints it): a node where
// every member has the same state (Promoted, Unpromoted) is listed by that
// state; on a
// node where they differ, the group's copy there is shown member by
// member.
func writeGroup(w io.Writer, members []Resource, nodes []Member) {
	g := members[0]
	if g.Clone == "" {
		fmt.Fprintf(w, "  * Resource Group: %s:\n", g.Group)
		for _, m := range members {
			writePrimitive(w, m, "    ", func(string) bool { return true })
		}
		return
	}
	kind := ""
	if g.Promotable {
		kind = " (promotable)" // its members' states are Promoted and Unpromoted
	}
	if g.Unique {
		// As crm_mon: each copy N as a group of its own, "G:N", with
		// its members' instance N.
		kind = strings.TrimSuffix(kind, ")") + ", unique)"
		if !g.Promotable {
			kind = " (unique)"
		}
		fmt.Fprintf(w, "  * Clone Set: %s [%s]%s:\n", g.Clone, g.Group, kind)
		copies := map[int]bool{}
		for _, m := range members {
			for _, in := range m.Instances {
				copies[in.Number] = true
			}
		}
		for _, n := range slices.Sorted(maps.Keys(copies)) {
			fmt.Fprintf(w, "    * Resource Group: %s:%d:\n", g.Group, n)
			for _, m := range members {
				for _, in := range m.Instances {
					if in.Number == n {
						writeInstance(w, m, in, "      ")
					}
				}
			}
		}
		return
	}
	fmt.Fprintf(w, "  * Clone Set: %s [%s]%s:\n", g.Clone, g.Group, kind)
	whole := map[string]string{} // node -> the state all members share there
	var mixed []string
	for _, n := range nodes {
		st, same := g.Nodes[n.Name], true
		for _, m := range members[1:] {
			same = same && m.Nodes[n.Name] == st
		}
		switch {
		case !same:
			mixed = append(mixed, n.Name)
		case st != "":
			whole[n.Name] = st
		}
	}
	sort.Strings(mixed)
	for _, n := range mixed {
		fmt.Fprintf(w, "    * Resource Group: %s on %s:\n", g.Group, n)
		for _, m := range members {
			writePrimitive(w, m, "      ", func(node string) bool { return node == n })
		}
		whole[n] = "" // listed above, not "Stopped"
	}
	writeNodeSets(w, whole, nodes, "    ")
}

// WriteJSON prints the report as JSON.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
