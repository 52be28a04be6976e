package cli

// config apply: a new cluster file becomes the live configuration, after a
// check that its bootstrap settings are the running members', a diff and the
// transition it would cause.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/tickets"
	"github.com/tandem-ha/tandem/policies"
	"github.com/tandem-ha/tandem/policies/cib"
)

func newConfigApplyCmd() *cobra.Command {
	var cfgPath string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply FILE",
		Short: "Make FILE the live configuration (shows the diff and the transition it causes)",
		Long: `apply validates FILE, prints how its cluster model (resources, constraints,
defaults, properties, node attributes) differs from the live configuration and
the transition the scheduler would plan from what the nodes run now, and
then stores it as a new revision. The store is a compare-and-swap on the
revision the diff was made from: if someone changed the live configuration
meanwhile, nothing is stored and apply says so (run it again to see the new
diff). --dry-run stops after printing.

The bootstrap settings ([cluster] name, [bus], the nodes' and the witness's
names, addresses and ports) are not live: each member reads them from its own
file when it starts. If FILE's differ from what the running members use,
apply says what differs and changes nothing: put the file on every member and
restart the members one at a time, then apply it again.

` + liveExitCodes,
		Example: `  tandem config apply --dry-run new-cluster.toml
  tandem config apply new-cluster.toml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			next, err := config.Load(args[0])
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			s, err := openSession(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			if err := s.checkBootstrap(args[0], next.Topology); err != nil {
				return err
			}
			cur, err := s.current()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			// Over an invalid current revision (s.bad), the diff is from
			// the last valid one, which the cluster runs, and the apply
			// replaces the invalid one.
			base := cur.Rev
			if s.bad != nil {
				base = s.bad.Rev
			}
			if s.bad == nil && liveconfig.Same(cur.CIB, next.CIB) {
				fmt.Fprintf(w, "No change: the live configuration (revision %d) is %s\n", cur.Rev, args[0])
				return nil
			}
			was, err := config.EncodeModel(cur.CIB)
			if err != nil {
				return err
			}
			text, err := config.EncodeModel(next.CIB)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "Changes to the live configuration (revision %d):\n", cur.Rev)
			writeDiff(w, string(was), string(text))
			if err := s.writeTransition(w, next.CIB); err != nil {
				return err
			}
			if dryRun {
				fmt.Fprintln(w, "\nDry run: nothing changed")
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), liveOpTimeout)
			defer cancel()
			rev, err := s.store.Put(ctx, next.CIB, base, cliBy(s.conn), "config apply "+filepath.Base(args[0]))
			if errors.Is(err, bus.ErrConflict) {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("the live configuration changed after revision %d while this diff was made; nothing stored: run config apply again", cur.Rev)}
			}
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			fmt.Fprintf(w, "\nApplied: revision %d\n", rev.Rev)
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the diff and the transition, change nothing")
	return cmd
}

// checkBootstrap refuses a file whose bootstrap settings differ from those
// the running members use (each member says in its answer to a ping),
// listing every difference and who runs the old value.
func (s *session) checkBootstrap(path string, next *bus.Topology) error {
	members, _ := bus.GatherMembers(s.conn, len(s.file.Topology.Members), time.Second)
	type diff struct {
		line string
		who  []string
	}
	var diffs []*diff
	byLine := map[string]*diff{}
	for _, m := range members {
		if m.Topology == nil {
			continue // a member of a Tandem that does not say: nothing to compare
		}
		for _, l := range m.Topology.Diff(next) {
			d := byLine[l]
			if d == nil {
				d = &diff{line: l}
				byLine[l] = d
				diffs = append(diffs, d)
			}
			d.who = append(d.who, m.Name)
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s changes settings the members read only when they start; nothing was changed:", path)
	for _, d := range diffs {
		fmt.Fprintf(&b, "\n  %s (running on %s)", d.line, strings.Join(d.who, ", "))
	}
	b.WriteString("\nPut the file on every member and restart them one at a time (systemctl restart tandem; on the witness: systemctl restart tandem-witness), then run config apply again for the rest")
	return &ExitError{Code: ExitConfig, Err: errors.New(b.String())}
}

// writeTransition prints what the scheduler would do with next from what
// the nodes run now.
func (s *session) writeTransition(w io.Writer, next *cib.CIB) error {
	st, gone := s.liveState(next)
	for _, g := range gone {
		fmt.Fprintf(w, "\n%s is no longer configured: it will be stopped\n", g)
	}
	res, err := policies.Schedule(policies.Input{CIB: next, State: st, Now: time.Now()})
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("the scheduler refused it: %w", err)}
	}
	fmt.Fprintln(w)
	writeSimulation(w, next, policies.NodeStatuses(next, st), res)
	return nil
}

// liveState is the cluster's state as the coordinator plans from it, for
// the model cfg: a node is online when it answers state requests (standby
// when its member says it was stopped with tandem cluster stop), the
// instances the nodes report, and the fail-counts. Instances of resources
// cfg does not configure are left out and listed in gone ("RSC on NODE"):
// the coordinator stops them.
func (s *session) liveState(cfg *cib.CIB) (st policies.State, gone []string) {
	ctx, cancel := context.WithTimeout(context.Background(), liveOpTimeout)
	defer cancel()
	reps := s.reports(cfg.NodeNames(), time.Second)
	stopped := map[string]bool{}
	if members, err := bus.GatherMembers(s.conn, len(s.file.Topology.Members), time.Second); err == nil {
		for _, m := range members {
			stopped[m.Name] = m.Stopped
		}
	}
	byNode := map[string]bus.NodeResources{}
	for _, r := range reps {
		byNode[r.Node] = r
	}
	for _, n := range cfg.Nodes {
		status := policies.Offline
		if _, ok := byNode[n.Name]; ok {
			status = policies.Online
			if stopped[n.Name] {
				status = policies.Standby
			}
		}
		st.Nodes = append(st.Nodes, policies.NodeState{Name: n.Name, Status: status})
	}
	for _, r := range reps {
		for _, rs := range r.Resources {
			in := policies.InstanceState{Resource: rs.Resource, Clone: rs.Clone, Instance: rs.Instance, Node: r.Node}
			// Roles and promotion scores as the coordinator reads them.
			if rs.Role == cib.RolePromoted && cfg.PromotableInstance(rs.Resource) {
				in.Role = cib.RolePromoted
			}
			if rs.PromotionScore != nil && cfg.Node(r.Node) != nil {
				if rc, _ := cfg.Resource(rs.Resource); rc != nil {
					st.Promotion = append(st.Promotion, policies.PromotionScore{Resource: rs.Resource, Node: r.Node, Score: cib.ClampScore(int64(*rs.PromotionScore))})
				}
			}
			switch rs.State {
			case bus.StateStarted, bus.StateStarting:
			case bus.StateFailed, bus.StateBlocked, bus.StateStopping:
				in.Failed = true
			default:
				continue
			}
			// The scheduler only knows configured ids.
			if rc, _ := cfg.Resource(rs.Resource); rc == nil {
				gone = append(gone, rs.Resource+" on "+r.Node)
				continue
			}
			st.Instances = append(st.Instances, in)
		}
	}
	if fs, err := failures.Open(ctx, s.conn); err == nil {
		if recs, err := fs.List(ctx); err == nil {
			for _, f := range recs {
				if rc := policies.FailureResource(cfg, f.Resource); rc != nil && cfg.Node(f.Node) != nil {
					st.Failures = append(st.Failures, policies.Failure{Resource: f.Resource, Node: f.Node, Count: f.Count, Last: f.Last})
				}
			}
		}
	}
	if ts, err := tickets.Open(ctx, s.conn); err == nil {
		if tix, err := ts.States(ctx); err == nil {
			st.Tickets = tix
		}
	}
	return st, gone
}

// writeDiff prints the lines that differ between a and b, with two lines of
// context, "-" for removed and "+" for added (a longest-common-subsequence
// diff; configuration files are small).
func writeDiff(w io.Writer, a, b string) {
	al := strings.Split(strings.TrimSuffix(a, "\n"), "\n")
	bl := strings.Split(strings.TrimSuffix(b, "\n"), "\n")
	n, m := len(al), len(bl)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && al[i] == bl[j]:
			lines = append(lines, line{' ', al[i]})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, line{'+', bl[j]})
			j++
		default:
			lines = append(lines, line{'-', al[i]})
			i++
		}
	}
	const context = 2
	show := make([]bool, len(lines))
	for k, l := range lines {
		if l.op != ' ' {
			for d := max(0, k-context); d <= min(len(lines)-1, k+context); d++ {
				show[d] = true
			}
		}
	}
	gap := false
	for k, l := range lines {
		if !show[k] {
			gap = true
			continue
		}
		if gap && k > 0 {
			fmt.Fprintln(w, "  ...")
		}
		gap = false
		fmt.Fprintf(w, "%c %s\n", l.op, l.text)
	}
}
