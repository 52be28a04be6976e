// Package status builds the cluster report `tandem status` prints: who is
// online, whether this partition has quorum, what each member's daemons are
// doing. Gathering talks to the bus; rendering is pure, so its layout (that
// of `pcs status`) is golden-tested.
package status

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
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
}

// Member is one node or the witness.
type Member struct {
	Name    string             `json:"name"`
	Online  bool               `json:"online"`
	Build   string             `json:"build,omitempty"`
	Since   time.Time          `json:"since,omitempty"`
	Daemons []bus.DaemonStatus `json:"daemons,omitempty"`
}

// Stack names what Tandem runs on, as pcs names corosync.
const Stack = "tandem (embedded NATS, JetStream KV)"

// Build turns the members' answers into a report.
func Build(cfg *config.Config, answers []bus.MemberStatus, now time.Time) Report {
	r := Report{Cluster: cfg.Cluster.Name, Stack: Stack, LastUpdated: now, Voters: len(cfg.Members()),
		Resources: len(cfg.Resources)}
	byName := map[string]bus.MemberStatus{}
	for _, a := range answers {
		byName[a.Name] = a
	}
	member := func(name string) Member {
		a, ok := byName[name]
		m := Member{Name: name, Online: ok}
		if ok {
			m.Build, m.Since, m.Daemons = a.Build, a.Started, a.Daemons
			r.VotersUp++
		}
		return m
	}
	for _, n := range cfg.Nodes {
		r.Nodes = append(r.Nodes, member(n.Name))
	}
	if cfg.Witness != nil {
		w := member(cfg.Witness.Name)
		r.Witness = &w
	}
	// A partition has quorum when it holds a strict majority of voters:
	// the same rule the bus's Raft groups follow.
	r.Quorum = 2*r.VotersUp > r.Voters
	return r
}

// WriteText prints the report in the layout of `pcs status`.
func WriteText(w io.Writer, r Report) {
	fmt.Fprintf(w, "Cluster name: %s\n", r.Cluster)
	fmt.Fprintf(w, "Stack: %s\n", r.Stack)
	q := "partition WITHOUT quorum"
	if r.Quorum {
		q = "partition with quorum"
	}
	fmt.Fprintf(w, "Quorum: %s (%d of %d voters online)\n", q, r.VotersUp, r.Voters)
	fmt.Fprintf(w, "Last updated: %s\n", r.LastUpdated.Format("Mon Jan 2 15:04:05 2006"))
	witness := ""
	if r.Witness != nil {
		witness = " and a witness"
	}
	fmt.Fprintf(w, "%d nodes%s and %d resources configured\n", len(r.Nodes), witness, r.Resources)
	if r.Unreachable != "" {
		fmt.Fprintf(w, "\nNo member answered: %s\n", r.Unreachable)
	}
	var online, offline []string
	for _, n := range r.Nodes {
		if n.Online {
			online = append(online, n.Name)
		} else {
			offline = append(offline, n.Name)
		}
	}
	sort.Strings(online)
	sort.Strings(offline)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Online: [ %s ]\n", strings.Join(online, " "))
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
		var parts []string
		for _, d := range m.Daemons {
			parts = append(parts, d.Name+": "+d.State)
		}
		fmt.Fprintf(w, "  %s: %s\n", m.Name, strings.Join(parts, ", "))
	}
}

// WriteJSON prints the report as JSON.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
