package cli

import (
	"encoding/json"
	"io"
	"maps"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies/cib"
)

// outputFlag adds -o/--output (text or json) to a listing command, as
// tandem status has it; checkOutput reads it before anything is done.
func outputFlag(cmd *cobra.Command, output *string) {
	cmd.Flags().StringVarP(output, "output", "o", "text", "text or json (the fields are listed in the help)")
}

// checkOutput refuses an --output other than text or json: exit 2.
func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return badInput("--output %q: want text or json", output)
	}
	return nil
}

// writeJSON writes v as indented JSON, one document ending in a newline,
// as status --output json does.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// The JSON shapes of the listing commands. Field names are snake_case as in
// status --output json; option names (meta attributes, clone options) are
// the pcs names the text output shows. Durations are written as the text
// writes them ("30s").

// resourceJSON is one primitive in resource config --output json.
type resourceJSON struct {
	ID     string            `json:"id"`
	Agent  string            `json:"agent"`
	Group  string            `json:"group,omitempty"`
	Params map[string]string `json:"params"`
	Meta   map[string]string `json:"meta"`
	Ops    []opJSON          `json:"ops"`
	Clone  *cib.Clone        `json:"clone,omitempty"`
	// Utilization: what it (each clone instance) uses of its node's capacity.
	Utilization map[string]int `json:"utilization,omitempty"`
}

type opJSON struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Timeout  string `json:"timeout,omitempty"`
}

// newOpJSON is an operation as -o json shows it: a zero interval or
// timeout is left out.
func newOpJSON(name string, interval, timeout time.Duration) opJSON {
	op := opJSON{Name: name}
	if interval > 0 {
		op.Interval = durText(interval)
	}
	if timeout > 0 {
		op.Timeout = durText(timeout)
	}
	return op
}

// groupJSON is one group in resource config and resource group list
// --output json.
type groupJSON struct {
	ID        string            `json:"id"`
	Resources []string          `json:"resources"`
	Meta      map[string]string `json:"meta"`
	Clone     *cib.Clone        `json:"clone,omitempty"`
}

type resourceConfigOut struct {
	Resources []resourceJSON `json:"resources"`
	Groups    []groupJSON    `json:"groups"`
}

func metaJSON(m cib.Meta) map[string]string {
	out := map[string]string{}
	for _, p := range metaPairs(m) {
		out[p[0]] = p[1]
	}
	return out
}

func newResourceJSON(c *cib.CIB, r *cib.Resource) resourceJSON {
	j := resourceJSON{ID: r.ID, Agent: r.Agent, Params: map[string]string{}, Meta: metaJSON(r.Meta), Ops: []opJSON{}, Clone: r.Clone, Utilization: r.Utilization}
	if g := c.GroupOf(r.ID); g != nil {
		j.Group = g.ID
	}
	for k, v := range r.Params {
		j.Params[k] = v
	}
	for _, o := range r.Ops {
		j.Ops = append(j.Ops, newOpJSON(o.Name, o.Interval, o.Timeout))
	}
	return j
}

func newGroupJSON(g *cib.Group) groupJSON {
	return groupJSON{ID: g.ID, Resources: append([]string{}, g.Resources...), Meta: metaJSON(g.Meta), Clone: g.Clone}
}

// resourceConfigJSON is resource config's JSON for the given resource and
// group ids (checked by the caller).
func resourceConfigJSON(c *cib.CIB, ids []string) resourceConfigOut {
	out := resourceConfigOut{Resources: []resourceJSON{}, Groups: []groupJSON{}}
	for _, id := range ids {
		if g, _ := c.Group(id); g != nil {
			out.Groups = append(out.Groups, newGroupJSON(g))
			for _, m := range g.Resources {
				if r, _ := c.Resource(m); r != nil {
					out.Resources = append(out.Resources, newResourceJSON(c, r))
				}
			}
			continue
		}
		if r, _ := c.MustResource(id); r != nil {
			out.Resources = append(out.Resources, newResourceJSON(c, r))
		}
	}
	return out
}

// nonNil is s, or an empty slice for nil: a JSON list is [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// configJSON is config show --output json.
type configJSON struct {
	Revision        uint64          `json:"revision"`
	Time            time.Time       `json:"time"`
	By              string          `json:"by"`
	Summary         string          `json:"summary"`
	DiffersFromFile bool            `json:"differs_from_file"`
	InvalidRevision uint64          `json:"invalid_revision,omitempty"`
	Invalid         string          `json:"invalid,omitempty"`
	Cluster         string          `json:"cluster"`
	Nodes           []nodeJSON      `json:"nodes"`
	Witness         string          `json:"witness,omitempty"`
	Resources       []resourceJSON  `json:"resources"`
	Groups          []groupJSON     `json:"groups"`
	Constraints     constraintsJSON `json:"constraints"`
	Alerts          []alertJSON     `json:"alerts"`
	Properties      map[string]any  `json:"properties"`
}

type nodeJSON struct {
	Name        string            `json:"name"`
	Standby     bool              `json:"standby"`
	Maintenance bool              `json:"maintenance"`
	Attributes  map[string]string `json:"attributes"`
	Utilization map[string]int    `json:"utilization,omitempty"` // capacity for the placement strategy
}

func newConfigJSON(s *session, cur liveconfig.Revision) configJSON {
	top, c := s.file.Topology, cur.CIB
	j := configJSON{Revision: cur.Rev, Time: cur.Time, By: cur.By, Summary: cur.Summary,
		DiffersFromFile: !liveconfig.Same(s.file.CIB, c), Cluster: top.Cluster, Nodes: []nodeJSON{},
		Constraints: newConstraintsJSON(c), Alerts: newAlertsJSON(c), Properties: propertiesJSON(top.Cluster, c)}
	if s.bad != nil {
		j.InvalidRevision, j.Invalid = s.bad.Rev, s.bad.Invalid
	}
	if wn := top.Witness(); wn != nil {
		j.Witness = wn.Name
	}
	for _, n := range c.Nodes {
		nj := nodeJSON{Name: n.Name, Standby: n.Standby, Maintenance: n.Maintenance, Attributes: map[string]string{}, Utilization: n.Utilization}
		maps.Copy(nj.Attributes, n.Attributes)
		j.Nodes = append(j.Nodes, nj)
	}
	ids := make([]string, 0, len(c.Resources)+len(c.Groups))
	for _, r := range c.Resources {
		if c.GroupOf(r.ID) == nil {
			ids = append(ids, r.ID)
		}
	}
	for _, g := range c.Groups {
		ids = append(ids, g.ID)
	}
	rc := resourceConfigJSON(c, ids)
	j.Resources, j.Groups = rc.Resources, rc.Groups
	return j
}
