package cli

// What an agent declares (its meta-data, asked of the nodes over the bus)
// as the resource commands use it: `resource describe`, the default
// operations `resource create` adds, required and unique parameters, and
// whether `resource update` reloads or restarts.

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/daemon"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// metaDataWait bounds how long a command waits for the nodes' meta-data.
const metaDataWait = 4 * time.Second

// metaData asks the nodes for agent's meta-data: the first node's (by
// name) that has it. An agent no node has is bad input.
func (s *session) metaData(cfg *cib.CIB, agent string) (sdk.MetaData, error) {
	answers, err := daemon.AskMetaData(s.conn, agent, len(cfg.Nodes), metaDataWait)
	if err != nil {
		return sdk.MetaData{}, &ExitError{Code: ExitFailure, Err: err}
	}
	if len(answers) == 0 {
		return sdk.MetaData{}, &ExitError{Code: ExitFailure, Err: fmt.Errorf("no node answered within %s with the meta-data of %s", metaDataWait, agent)}
	}
	sort.Slice(answers, func(i, j int) bool { return answers[i].Node < answers[j].Node })
	var why []string
	for _, a := range answers {
		if a.MetaData != nil {
			return *a.MetaData, nil
		}
		why = append(why, a.Node+": "+a.Error)
	}
	if !answers[0].Known {
		return sdk.MetaData{}, badInput("unknown agent %q: no node has a plugin for it (%s)", agent, strings.Join(why, "; "))
	}
	return sdk.MetaData{}, &ExitError{Code: ExitFailure, Err: fmt.Errorf("no meta-data for %s: %s", agent, strings.Join(why, "; "))}
}

// defaultOps are the operations the agent advertises that spec does not
// set, as pcs adds them at create: the monitor, with its interval and
// timeout. Other operations take the agent's timeouts when they run.
func defaultOps(md sdk.MetaData, spec cib.ResourceSpec) []cib.Op {
	for _, o := range spec.Ops {
		if o.Name == "monitor" {
			return nil
		}
	}
	a, ok := md.Action("monitor")
	if !ok || a.Interval <= 0 {
		return nil
	}
	return []cib.Op{{Name: "monitor", Interval: a.Interval, Timeout: a.Timeout}}
}

// opText is an operation as resource config prints it.
func opText(o cib.Op) string {
	s := o.Name
	if o.Interval > 0 {
		s += " interval=" + durText(o.Interval)
	}
	if o.Timeout > 0 {
		s += " timeout=" + durText(o.Timeout)
	}
	return s
}

// checkDeclared refuses parameters of resource id (agent's, final values
// params) that the meta-data forbids: a required one missing (with no
// default), or a unique one whose value another resource of the agent
// has in c.
func checkDeclared(c *cib.CIB, id, agent string, md sdk.MetaData, params map[string]string) error {
	var problems []string
	// A typo first: "stat=" for a required "state" is one mistake, best
	// named as the unknown parameter with its did-you-mean.
	names := make([]string, len(md.Params))
	declared := map[string]bool{}
	for i, p := range md.Params {
		names[i] = p.Name
		declared[p.Name] = true
	}
	var unknown []string
	for k := range params {
		if !declared[k] && len(md.Params) > 0 {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		msg := fmt.Sprintf("unknown parameter %q", k)
		if s := sdk.Suggest(k, names); s != "" {
			msg += fmt.Sprintf(": did you mean %s?", s)
		}
		problems = append(problems, msg+" ("+agent+" takes "+strings.Join(names, ", ")+")")
	}
	for _, p := range md.Params {
		v, set := params[p.Name]
		if p.Required && (!set || v == "") && p.Default == "" {
			desc := ""
			if p.Description != "" {
				desc = " (" + p.Description + ")"
			}
			problems = append(problems, fmt.Sprintf("parameter %s is required by %s%s: add %s=VALUE", p.Name, agent, desc, p.Name))
		}
		if !p.Unique || !set || v == "" {
			continue
		}
		for _, other := range c.Resources {
			if other.ID != id && other.Agent == agent && other.Params[p.Name] == v {
				problems = append(problems, fmt.Sprintf("parameter %s=%s is unique for %s, and resource %s already has it", p.Name, v, agent, other.ID))
			}
		}
	}
	if len(problems) > 0 {
		return badInput("resource %s: %s", id, strings.Join(problems, "; "))
	}
	return nil
}

func newResourceDescribeCmd() *cobra.Command {
	var cfgPath, output string
	cmd := &cobra.Command{
		Use:   "describe AGENT",
		Short: "Show an agent's parameters and default operations (pcs resource describe)",
		Long: `describe prints what AGENT declares in its meta-data: its parameters (type,
required, default, unique, reloadable) and its actions with their default
timeouts and monitor interval. The meta-data comes from the plugin on the
cluster's nodes (asked over the bus), so it is what the nodes run. Without
the cluster, run the plugin itself: tandem-plugin-NAME meta-data [TYPE]
prints the same as JSON.

--output json prints {"agent", "shortdesc", "longdesc", "version",
"parameters": [{"name", "type", "required", "default", "description",
"values", "min", "max", "unit", "unique", "reloadable"}], "actions":
[{"name", "interval", "timeout"}]}, durations written as "10s".`,
		Example: `  tandem resource describe example:process
  tandem resource describe vip`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			s, cur, err := openCurrent(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			md, err := s.metaData(cur.CIB, args[0])
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), describeJSON(args[0], md))
			}
			writeDescription(cmd.OutOrStdout(), args[0], md)
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	return cmd
}

// describeOut is resource describe --output json.
type describeOut struct {
	Agent      string          `json:"agent"`
	ShortDesc  string          `json:"shortdesc,omitempty"`
	LongDesc   string          `json:"longdesc,omitempty"`
	Version    string          `json:"version,omitempty"`
	Parameters []sdk.ParamSpec `json:"parameters"`
	Actions    []opJSON        `json:"actions"`
}

func describeJSON(agent string, md sdk.MetaData) describeOut {
	out := describeOut{Agent: agent, ShortDesc: md.ShortDesc, LongDesc: md.LongDesc, Version: md.Version,
		Parameters: md.Params, Actions: []opJSON{}}
	if out.Parameters == nil {
		out.Parameters = []sdk.ParamSpec{}
	}
	for _, a := range md.Actions {
		out.Actions = append(out.Actions, newOpJSON(a.Name, a.Interval, a.Timeout))
	}
	return out
}

// writeDescription prints meta-data as pcs resource describe does.
func writeDescription(w io.Writer, agent string, md sdk.MetaData) {
	head := agent
	if md.ShortDesc != "" {
		head += " - " + md.ShortDesc
	}
	fmt.Fprintln(w, head)
	if md.LongDesc != "" {
		fmt.Fprintf(w, "\n%s\n", md.LongDesc)
	}
	fmt.Fprintln(w, "\nResource options:")
	if len(md.Params) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, p := range md.Params {
		var flags []string
		if p.Required {
			flags = append(flags, "required")
		}
		if p.Unique {
			flags = append(flags, "unique")
		}
		if p.Reloadable {
			flags = append(flags, "reloadable")
		}
		name := p.Name
		if len(flags) > 0 {
			name += " (" + strings.Join(flags, ", ") + ")"
		}
		fmt.Fprintf(w, "  %s: %s\n", name, p.Description)
		var facts []string
		if p.Type != "" {
			facts = append(facts, "type: "+p.Type)
		}
		if len(p.Values) > 0 {
			facts = append(facts, "values: "+strings.Join(p.Values, ", "))
		}
		if p.Min != "" {
			facts = append(facts, "min: "+p.Min)
		}
		if p.Max != "" {
			facts = append(facts, "max: "+p.Max)
		}
		if p.Default != "" {
			facts = append(facts, "default: "+p.Default)
		}
		if len(facts) > 0 {
			fmt.Fprintf(w, "    %s\n", strings.Join(facts, "; "))
		}
	}
	fmt.Fprintln(w, "\nDefault operations:")
	if len(md.Actions) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, a := range md.Actions {
		line := "  " + a.Name + ":"
		if a.Interval > 0 {
			line += " interval=" + durText(a.Interval)
		}
		if a.Timeout > 0 {
			line += " timeout=" + durText(a.Timeout)
		}
		fmt.Fprintln(w, line)
	}
}
