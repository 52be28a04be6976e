package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/daemon"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/status"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// What the pcs-shaped commands share: a session on the live configuration
// (every change a compare-and-swap through liveconfig.Store.Update), pcs's
// free-form arguments, and waiting for the nodes' reports.

// Exit codes of the configuration commands: 0 done, ExitConfig (2) bad
// input (nothing was changed), ExitFailure (1) the cluster could not be
// reached or did not do what was asked in time.
const liveExitCodes = `Exit codes: 0 done; 2 bad input (unknown id, node or agent, malformed
clause, refused change; nothing was changed); 1 the cluster could not be
reached or did not get there in time.`

// liveOpTimeout bounds one read or compare-and-swap of the live configuration.
const liveOpTimeout = 15 * time.Second

// session is a command's connection to the cluster.
type session struct {
	file  *config.File // the local cluster file: where the members are, the credentials
	conn  *bus.Conn
	store *liveconfig.Store
	bad   *liveconfig.Revision // an invalid current revision current() passed over
}

func openSession(cfgPath string) (*session, error) {
	file, err := config.Load(cfgPath)
	if err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: err}
	}
	conn, err := cliConnect(file.Topology)
	if err != nil {
		if credentialsRefused(err) {
			return nil, &ExitError{Code: ExitCredentials, Err: err}
		}
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("cannot reach the cluster: %w", err)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveOpTimeout)
	defer cancel()
	store, err := liveconfig.OpenClient(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("opening the live configuration: %w", err)}
	}
	return &session{file: file, conn: conn, store: store}, nil
}

func (s *session) close() { s.conn.Close() }

// openCurrent opens a session and reads the revision the cluster runs, as
// most commands do first; the caller closes the session.
func openCurrent(cfgPath string) (*session, liveconfig.Revision, error) {
	s, err := openSession(cfgPath)
	if err != nil {
		return nil, liveconfig.Revision{}, err
	}
	cur, err := s.current()
	if err != nil {
		s.close()
		return nil, liveconfig.Revision{}, err
	}
	return s, cur, nil
}

func (s *session) current() (liveconfig.Revision, error) {
	ctx, cancel := context.WithTimeout(context.Background(), liveOpTimeout)
	defer cancel()
	// Commands read what the cluster runs: the last valid revision when
	// the current one is invalid (edits replace it).
	rev, bad, err := s.store.Usable(ctx)
	s.bad = bad
	if err == nil && bad != nil && bad.WrittenByNewer() {
		err = errors.New(bad.Invalid)
	}
	if err != nil {
		return rev, &ExitError{Code: ExitFailure, Err: fmt.Errorf("reading the live configuration: %w", err)}
	}
	return rev, nil
}

// editError marks an error of the edit itself (bad input), as opposed to
// one of the store.
type editError struct{ err error }

func (e editError) Error() string { return e.err.Error() }
func (e editError) Unwrap() error { return e.err }

// edit applies change to the live configuration (retrying on a concurrent
// change) and returns the new revision. A refused change (bad input, or a
// result that does not validate) is an ExitConfig error and stores nothing.
func (s *session) edit(summary string, change func(*cib.CIB) error) (liveconfig.Revision, error) {
	ctx, cancel := context.WithTimeout(context.Background(), liveOpTimeout)
	defer cancel()
	rev, err := s.store.Update(ctx, cliBy(s.conn), func(c *cib.CIB) (string, error) {
		if err := change(c); err != nil {
			return "", editError{err}
		}
		return summary, nil
	})
	var ee editError
	var ps cib.Problems
	switch {
	case err == nil:
		return rev, nil
	case errors.As(err, &ee):
		return rev, &ExitError{Code: ExitConfig, Err: ee.err}
	case errors.As(err, &ps):
		return rev, &ExitError{Code: ExitConfig, Err: fmt.Errorf("refused, nothing changed: %s", problemText(ps))}
	}
	return rev, &ExitError{Code: ExitFailure, Err: fmt.Errorf("changing the live configuration: %w", err)}
}

// problemText is the model's problems as one line, without their paths
// (an admin who edits with the CLI never saw them).
func problemText(ps cib.Problems) string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Text(func(path string) string { return path })
	}
	return strings.Join(msgs, "; ")
}

// checkNode says why name cannot run resources in c: it is the witness of
// this cluster, or no node of the model.
func (s *session) checkNode(c *cib.CIB, name string) error {
	return checkNode(c, s.file.Topology, name)
}

// freeArgs lets a command take pcs's free-form arguments: flags before the
// first argument are parsed as usual; after it, only "--name[=value]"
// tokens are flags, so that "-INFINITY" stays an argument.
func freeArgs(cmd *cobra.Command) {
	cmd.Flags().SetInterspersed(false)
}

// trailingFlags parses the "--flag" tokens among args and returns the rest.
func trailingFlags(cmd *cobra.Command, args []string) ([]string, error) {
	var pos, flags []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "--") {
			pos = append(pos, a)
			continue
		}
		name, _, hasValue := strings.Cut(a[2:], "=")
		f := cmd.Flags().Lookup(name)
		if f == nil {
			return nil, badInput("unknown flag --%s (see %s --help)", name, cmd.CommandPath())
		}
		flags = append(flags, a)
		if !hasValue && f.NoOptDefVal == "" && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	if len(flags) > 0 {
		if err := cmd.Flags().Parse(flags); err != nil {
			return nil, badInput("%v", err)
		}
	}
	return pos, nil
}

// reports asks nodes what they run; nodes that do not answer within wait
// are left out.
func (s *session) reports(nodes []string, wait time.Duration) []bus.NodeResources {
	var out []bus.NodeResources
	_ = bus.Gather(s.conn, bus.SubjectStateRequest, nil, len(nodes), wait, func(data []byte) bool {
		r, _, err := bus.Decode[bus.NodeResources](data)
		if err != nil || !contains(nodes, r.Node) {
			return false
		}
		out = append(out, r)
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

// errBlocked: the resource's stop failed on a node; it stays there until
// a cleanup.
var errBlocked = errors.New("its stop failed")

// waitStopped waits until every node that answers has applied revision
// rev, is idle, and runs no instance of the primitives. A node where the
// stop of one failed with its definition in cfg (the edited one) ends the
// wait at once (errBlocked).
func (s *session) waitStopped(cfg *cib.CIB, rev uint64, timeout time.Duration, primitives ...string) error {
	deadline := time.Now().Add(timeout)
	for {
		reps := s.reports(cfg.NodeNames(), time.Second)
		var problems []string
		if len(reps) == 0 {
			problems = append(problems, "no node answered")
		}
		for _, r := range reps {
			switch {
			case r.ConfigRev < rev:
				problems = append(problems, fmt.Sprintf("%s has not applied revision %d yet", r.Node, rev))
			case len(r.Busy) > 0:
				problems = append(problems, fmt.Sprintf("%s is busy (%s)", r.Node, strings.Join(r.Busy, " ")))
			}
			for _, rs := range r.Resources {
				primitive := rs.Resource
				if !contains(primitives, primitive) || rs.State == bus.StateStopped {
					continue
				}
				if def, _ := cfg.Resource(primitive); rs.State == bus.StateBlocked && rs.BlockedDef == cib.Fingerprint(def) {
					// Its stop failed again with the edited definition:
					// waiting cannot help.
					return fmt.Errorf("%w: %s is blocked on %s: %s; fix the cause, then run tandem resource cleanup %s",
						errBlocked, primitive, r.Node, rs.Message, primitive)
				}
				problems = append(problems, fmt.Sprintf("%s is %s on %s", primitive, rs.State, r.Node))
			}
		}
		if len(problems) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %s", timeout, strings.Join(problems, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// validateAgent asks the nodes' plugins whether agent accepts params. It
// refuses an agent no node has and parameters an agent rejects; it returns
// notes for the admin (nodes that cannot run it, or that validation was
// skipped because no node answered).
func (s *session) validateAgent(cfg *cib.CIB, agent string, params map[string]string) ([]string, error) {
	wait := daemon.ValidateTimeout + time.Second
	answers, err := daemon.AskValidate(s.conn, agent, params, len(cfg.Nodes), wait)
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	if len(answers) == 0 {
		return []string{fmt.Sprintf("Warning: no node answered within %s; the parameters of %s were not validated", wait, agent)}, nil
	}
	return judgeValidation(agent, answers)
}

// judgeValidation turns the nodes' answers into notes for the admin, or the
// refusal of the first node that rejected the parameters.
func judgeValidation(agent string, answers []daemon.ValidateAnswer) ([]string, error) {
	sort.Slice(answers, func(i, j int) bool { return answers[i].Node < answers[j].Node })
	var notes []string
	known, installed, late := 0, 0, 0
	for _, a := range answers {
		switch {
		case a.TimedOut:
			// Neither accepted nor refused: a busy node, or an agent whose
			// validate hangs (its start will show which).
			late++
			notes = append(notes, fmt.Sprintf("Warning: %s did not finish validating within %s; the parameters were not validated there (%s)", a.Node, daemon.ValidateTimeout, a.Message))
		case !a.Known:
			notes = append(notes, fmt.Sprintf("Warning: %s cannot run it: %s", a.Node, a.Message))
		case a.Code == sdk.OK:
			known++
			installed++
		case a.Code == sdk.ErrNotInstalled:
			known++
			notes = append(notes, fmt.Sprintf("Warning: %s cannot run it: %s", a.Node, a.Message))
		default:
			return nil, badInput("agent %s refused the parameters (validated on %s): %s (%s)", agent, a.Node, a.Message, a.Code)
		}
	}
	if installed == 0 && late > 0 {
		return notes, nil
	}
	if known == 0 {
		return nil, badInput("unknown agent %q: no node has a plugin for it (%s: %s)", agent, answers[0].Node, answers[0].Message)
	}
	if installed == 0 {
		return nil, badInput("agent %s cannot run on any node: %s", agent, strings.TrimPrefix(notes[0], "Warning: "))
	}
	return notes, nil
}

// resourceList prints the "Full List of Resources" of the live
// configuration as `tandem status` does (the same renderer: its section of
// the status report).
func resourceList(cfg *cib.CIB, reps []bus.NodeResources) string {
	r := resourceReport(cfg, reps)
	var buf bytes.Buffer
	status.WriteText(&buf, r)
	text := buf.String()
	_, section, ok := strings.Cut(text, "Full List of Resources:\n")
	if !ok {
		return ""
	}
	// The section ends at the next blank line; it may be empty.
	section, _, _ = strings.Cut("\n"+section, "\n\n")
	section = strings.TrimPrefix(section, "\n")
	if section == "" {
		return "NO resources configured\n"
	}
	return section + "\n"
}

// resourceReport is the part of a status report resource list shows: the
// nodes (online when they answered) and the resources.
func resourceReport(cfg *cib.CIB, reps []bus.NodeResources) status.Report {
	r := status.Report{}
	answered := map[string]bool{}
	for _, rep := range reps {
		answered[rep.Node] = true
	}
	for _, n := range cfg.Nodes {
		r.Nodes = append(r.Nodes, status.Member{Name: n.Name, Online: answered[n.Name]})
	}
	status.AddResources(&r, cfg, reps)
	return r
}
