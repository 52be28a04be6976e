package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies"
	"github.com/tandem-ha/tandem/policies/cib"
)

func init() { register(newSimulateCmd) }

// simulateState is the --state file: the scheduler's State (docs/scheduler.md)
// plus the time to schedule at. Without "nodes", every node is online.
type simulateState struct {
	Now *time.Time `json:"now,omitempty"`
	policies.State
}

type simulateOptions struct {
	cfgPath, statePath, output, now string
	settled, showScores, live       bool
	nodesDown, fails                []string
}

func newSimulateCmd() *cobra.Command {
	var o simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Show where resources would run and the transition that gets there",
		Long: `simulate runs the scheduler on the cluster file and a state, without a cluster,
like Pacemaker's crm_simulate. It prints the placement (where every resource
and clone instance should run), the transition (the start and stop actions, on
which node, and which actions each waits for) and notes on what cannot run and
why; --show-scores adds every resource's score on every node and what it is
made of.

The state is empty (nothing running, every node online) unless --state names a
JSON file (format in docs/scheduler.md):

  {"now": "2025-01-01T00:00:00Z",
   "nodes": [{"name": "holly", "status": "online"}, {"name": "benji", "status": "online"}],
   "instances": [{"resource": "VIP-10.10.10.23", "node": "benji"},
                 {"resource": "haproxy", "instance": 1, "node": "holly", "failed": true}],
   "failures": [{"resource": "haproxy", "node": "holly", "count": 1, "last": "2025-01-01T00:00:00Z"}]}

--live reads the running cluster instead: its live configuration (with what
tandem commands changed, not the cluster file's resources) and its state (the
nodes that answer, what they report running or failed, the fail-counts), as
the coordinator plans from them. --config then only says how to reach the
cluster.

--settled first runs the cluster's own transition from that state, so that
what-if flags apply to a running cluster. Then --node-down takes nodes away and
--fail records failures, and the scheduler runs once more: that is what is
printed.`,
		Example: `  tandem simulate --config cluster.toml
  tandem simulate --live --node-down benji
  tandem simulate --config cluster.toml --settled --node-down benji
  tandem simulate --config cluster.toml --settled --fail haproxy-clone@benji=3 --show-scores
  tandem simulate --config cluster.toml --state state.json --output dot | dot -Tsvg > transition.svg`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd.OutOrStdout(), o)
		},
	}
	configFlag(cmd, &o.cfgPath)
	f := cmd.Flags()
	f.StringVar(&o.statePath, "state", "", "JSON file with node statuses, running instances and failures (default: nothing running, all nodes online)")
	f.BoolVar(&o.live, "live", false, "simulate on the running cluster: its live configuration and state")
	f.BoolVar(&o.settled, "settled", false, "run the cluster's own transition from the state first")
	f.StringArrayVar(&o.nodesDown, "node-down", nil, "take node N offline (repeatable)")
	f.StringArrayVar(&o.fails, "fail", nil, "record a failure: RESOURCE@NODE or RESOURCE@NODE=COUNT (COUNT a number or INFINITY; RESOURCE:N an instance of a globally-unique clone); repeatable")
	f.BoolVar(&o.showScores, "show-scores", false, "print the score of every resource on every node")
	f.StringVarP(&o.output, "output", "o", "text", "text, json or dot (Graphviz digraph of the transition)")
	f.StringVar(&o.now, "now", "", "time to schedule at, RFC 3339 (default: the state file's \"now\", else the current time)")
	return cmd
}

func badInput(format string, args ...any) error {
	return &ExitError{Code: ExitConfig, Err: fmt.Errorf(format, args...)}
}

func runSimulate(w io.Writer, o simulateOptions) error {
	switch o.output {
	case "text", "json", "dot":
	default:
		return badInput("--output %q: want text, json or dot", o.output)
	}
	var cfg *cib.CIB
	var st policies.State
	var gone []string
	now := time.Now().UTC()
	if o.live {
		if o.statePath != "" {
			return badInput("--live and --state: the live cluster has its own state; give one of them")
		}
		var err error
		if cfg, st, gone, err = readLive(o.cfgPath); err != nil {
			return err
		}
	} else {
		file, err := config.Load(o.cfgPath)
		if err != nil {
			return &ExitError{Code: ExitConfig, Err: err}
		}
		cfg = file.CIB
		st = policies.State{Nodes: policies.AllOnline(cfg)}
	}
	if o.statePath != "" {
		sf, err := readSimulateState(o.statePath)
		if err != nil {
			return badInput("--state: %w", err)
		}
		st = sf.State
		if sf.State.Nodes == nil {
			st.Nodes = policies.AllOnline(cfg)
		}
		if sf.Now != nil {
			now = *sf.Now
		}
	}
	if o.now != "" {
		t, err := time.Parse(time.RFC3339, o.now)
		if err != nil {
			return badInput("--now %q: want an RFC 3339 time such as 2025-01-01T00:00:00Z", o.now)
		}
		now = t
	}
	if o.settled {
		res, err := policies.Schedule(policies.Input{CIB: cfg, State: st, Now: now})
		if err != nil {
			return badInput("--state %s: %w", o.statePath, err)
		}
		st = policies.Apply(cfg, st, &res.Transition)
	}
	for _, n := range o.nodesDown {
		if cfg.Node(n) == nil {
			return badInput("--node-down %q: no such node (nodes: %s)", n, strings.Join(cfg.NodeNames(), ", "))
		}
		st = withNodeStatus(st, n, policies.Offline)
	}
	for _, spec := range o.fails {
		var err error
		if st, err = withFailure(cfg, st, spec, now); err != nil {
			return badInput("--fail %q: %w", spec, err)
		}
	}
	res, err := policies.Schedule(policies.Input{CIB: cfg, State: st, Now: now, Explain: o.showScores})
	if err != nil {
		if errors.Is(err, policies.ErrInvalidInput) {
			return badInput("--state %s: %w", o.statePath, err)
		}
		return err
	}
	for _, g := range gone {
		res.Notes = append(res.Notes, policies.Note{Resource: g, Text: "is no longer configured: the coordinator stops it"})
	}
	nodes := policies.NodeStatuses(cfg, st)
	switch o.output {
	case "json":
		out := struct {
			Now   time.Time            `json:"now"`
			Nodes []policies.NodeState `json:"nodes"`
			*policies.Result
		}{now, nodes, res}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "dot":
		_, err := io.WriteString(w, res.Transition.DOT())
		return err
	}
	writeSimulation(w, cfg, nodes, res)
	return nil
}

// readLive reads the running cluster's live configuration and state
// (session.liveState), reaching it with the cluster file at cfgPath.
func readLive(cfgPath string) (cfg *cib.CIB, st policies.State, gone []string, err error) {
	err = withCurrent(cfgPath, func(s *session, cur liveconfig.Revision) error {
		cfg = cur.CIB
		st, gone = s.liveState(cur.CIB)
		return nil
	})
	return cfg, st, gone, err
}

// readSimulateState reads a --state file; JSON errors name the line.
func readSimulateState(path string) (*simulateState, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var sf simulateState
	if err := dec.Decode(&sf); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("%s:%d: %v", path, lineOf(data, syn.Offset), err)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("%s:%d: %s has the wrong type (%s, want %s)", path, lineOf(data, typ.Offset), typ.Field, typ.Value, typ.Type)
		}
		return nil, fmt.Errorf("%s: %w (keys: now, nodes, instances, failures; see docs/scheduler.md)", path, err)
	}
	return &sf, nil
}

func lineOf(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

func withNodeStatus(st policies.State, node string, status policies.NodeStatus) policies.State {
	out := st
	out.Nodes = nil
	found := false
	for _, n := range st.Nodes {
		if n.Name == node {
			n.Status, found = status, true
		}
		out.Nodes = append(out.Nodes, n)
	}
	if !found {
		out.Nodes = append(out.Nodes, policies.NodeState{Name: node, Status: status})
	}
	return out
}

// withFailure records --fail RESOURCE@NODE[=COUNT]: the failure count
// grows, the last failure is now, and an instance running there is failed.
func withFailure(cfg *cib.CIB, st policies.State, spec string, now time.Time) (policies.State, error) {
	rsc, rest, ok := strings.Cut(spec, "@")
	node, countStr, hasCount := strings.Cut(rest, "=")
	if !ok || rsc == "" || node == "" {
		return st, errors.New("want RESOURCE@NODE or RESOURCE@NODE=COUNT, e.g. haproxy-clone@holly=3")
	}
	r, _ := cfg.Resource(rsc)
	inst := -1 // an instance of a globally-unique clone: RSC:N
	if id, n, ok := policies.SplitInstance(rsc); r == nil && ok {
		if r, _ = cfg.Resource(id); r != nil {
			if cl := cfg.CloneOf(r); cl == nil || !cl.GloballyUnique {
				return st, fmt.Errorf("%q: %s is not a globally-unique clone, whose instances fail apart", rsc, id)
			}
			inst = n
		}
	}
	if r == nil {
		return st, fmt.Errorf("no resource or clone %q (defined: %s)", rsc, strings.Join(cfg.ResourceIDs(), ", "))
	}
	if err := cfg.CheckNode(node); err != nil {
		return st, err
	}
	count := 1
	if hasCount {
		if strings.EqualFold(countStr, "INFINITY") {
			count = int(cib.Infinity)
		} else if n, err := strconv.Atoi(countStr); err == nil && n > 0 {
			count = n
		} else {
			return st, fmt.Errorf("count %q is not a positive number or INFINITY", countStr)
		}
	}
	out := st
	out.Failures = append([]policies.Failure(nil), st.Failures...)
	name := r.ID
	if inst >= 0 {
		name = fmt.Sprintf("%s:%d", r.ID, inst)
	}
	out.Failures = append(out.Failures, policies.Failure{Resource: name, Node: node, Count: count, Last: now})
	out.Instances = append([]policies.InstanceState(nil), st.Instances...)
	for i := range out.Instances {
		if out.Instances[i].Resource == r.ID && out.Instances[i].Node == node && (inst < 0 || out.Instances[i].Instance == inst) {
			out.Instances[i].Failed = true
		}
	}
	return out, nil
}

// writeSimulation prints the result for people.
func writeSimulation(w io.Writer, cfg *cib.CIB, nodes []policies.NodeState, res *policies.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Nodes:\n")
	for _, n := range nodes {
		fmt.Fprintf(tw, "  %s\t%s\n", n.Name, n.Status)
	}
	fmt.Fprintf(tw, "\nPlacement:\n")
	for _, r := range cfg.Resources {
		id := r.ID
		if r.Clone != nil {
			id = r.Clone.ID
		}
		if g := cfg.GroupOf(r.ID); g != nil {
			id += " (group " + cib.GroupConstraintName(g) + ")"
		}
		cloned := cfg.CloneOf(&r) != nil // its own clone, or its group's
		var where []string
		for _, a := range res.Placement {
			if a.Resource != r.ID {
				continue
			}
			switch {
			case cloned && a.Role != "":
				where = append(where, fmt.Sprintf("%s (#%d, %s)", a.Node, a.Instance, a.Role))
			case cloned:
				where = append(where, fmt.Sprintf("%s (#%d)", a.Node, a.Instance))
			default:
				where = append(where, a.Node)
			}
		}
		if len(where) == 0 {
			where = []string{"stopped"}
		}
		fmt.Fprintf(tw, "  %s\t%s\n", id, strings.Join(where, ", "))
	}
	tw.Flush()
	switch n := len(res.Transition.Actions); n {
	case 0:
		fmt.Fprintf(w, "\nTransition: nothing to do\n")
	default:
		fmt.Fprintf(w, "\nTransition: %d action(s), in an order that respects every edge\n", n)
	}
	num := map[string]int{}
	for i, a := range res.Transition.Actions {
		num[a.ID] = i + 1
		fmt.Fprintf(w, "  %2d. %-5s %s on %s", i+1, a.Op, a.Name(), a.Node)
		if a.Reason != "" && a.Reason != "start" {
			fmt.Fprintf(w, "  (%s)", a.Reason)
		}
		fmt.Fprintln(w)
		if len(a.After) > 0 {
			var after []string
			for _, id := range a.After {
				after = append(after, strconv.Itoa(num[id]))
			}
			fmt.Fprintf(w, "      after %s\n", strings.Join(after, ", "))
		}
	}
	if len(res.Notes) > 0 {
		fmt.Fprintf(w, "\nNotes:\n")
		for _, n := range res.Notes {
			if n.Resource != "" {
				fmt.Fprintf(w, "  %s: %s\n", n.Resource, n.Text)
			} else {
				fmt.Fprintf(w, "  %s\n", n.Text)
			}
		}
	}
	if !res.RecheckAt.IsZero() {
		fmt.Fprintf(w, "\nRecheck at %s (a failure expires)\n", res.RecheckAt.UTC().Format(time.RFC3339))
	}
	if len(res.Scores) > 0 {
		fmt.Fprintf(w, "\nScores:\n")
		for _, rs := range res.Scores {
			fmt.Fprintf(w, "  %s\n", rs.Resource)
			for _, ns := range rs.Nodes {
				var parts []string
				for _, p := range ns.Parts {
					parts = append(parts, fmt.Sprintf("%s %s", p.Score, p.Reason))
				}
				line := fmt.Sprintf("    %-10s %9s", ns.Node, ns.Score)
				if len(parts) > 0 {
					line += "  = " + strings.Join(parts, "; ")
				}
				fmt.Fprintln(w, line)
			}
		}
	}
}
