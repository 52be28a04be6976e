package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/daemon"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies/cib"
)

func init() { register(newAlertCmd) }

func newAlertCmd() *cobra.Command {
	var cfgPath, output string
	cmd := &cobra.Command{
		Use:   "alert",
		Short: "Configure alert agents and webhooks (pcs alert)",
		Long: `alert lists and changes the alerts of the live configuration, as pcs alert
does: executables each node calls with the event in CRM_alert_* environment
variables (so Pacemaker's alert scripts work unchanged), once per recipient;
or webhooks that receive the event as a JSON POST. Without a subcommand it
lists them (like alert config). See docs/alerts.md.

` + alertJSONDoc + `

` + liveExitCodes,
		Example: `  tandem alert create id=log path=/usr/share/pacemaker/alerts/alert_file.sh meta timestamp-format="%H:%M:%S.%06N"
  tandem alert recipient add log value=/var/log/cluster-alerts.log
  tandem alert create id=hook webhook=https://alerts.example.com/tandem meta timeout=10s
  tandem alert`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return listAlerts(cmd, cfgPath, output) },
	}
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	var listPath, listOutput string
	list := &cobra.Command{
		Use:     "config",
		Aliases: []string{"show", "list"},
		Short:   "List the alerts and their recipients",
		Long:    "config prints the alerts in pcs alert config's layout.\n\n" + alertJSONDoc,
		Example: "  tandem alert config\n  tandem alert config --output json",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return listAlerts(cmd, listPath, listOutput) },
	}
	configFlag(list, &listPath)
	outputFlag(list, &listOutput)
	cmd.AddCommand(list, newAlertCreateCmd(), newAlertUpdateCmd(), newAlertRemoveCmd(), newAlertRecipientCmd())
	return cmd
}

func newAlertCreateCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "create path=PATH | webhook=URL [id=ID] [description=TEXT] [select=nodes,resources] [options NAME=VALUE ...] [meta timeout=DURATION timestamp-format=FORMAT enabled=BOOL ...]",
		Short: "Create an alert (pcs alert create)",
		Long: `create adds an alert. path is the agent's absolute path, the same on every
node; each node is asked whether it can run it, and a node that cannot is
named (the alert is still created: install the agent there). webhook is an
http(s) URL instead. id defaults to "alert" ("alert-1", ... when taken).
options are passed to the agent as environment variables; meta timeout
(default 30s) bounds each call, timestamp-format (default %H:%M:%S.%06N) is
CRM_alert_timestamp's format. select (Pacemaker's <select>) limits the
alert to node events (members joining and leaving) or resource events
(operations): select=nodes, select=resources; by default both.

` + liveExitCodes,
		Example: `  tandem alert create id=snmp path=/usr/share/pacemaker/alerts/alert_snmp.sh options trap_node_states=all meta timestamp-format="%Y-%m-%d,%H:%M:%S.%01N"
  tandem alert create id=hook webhook=https://alerts.example.com/tandem`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			top, spec, err := parseAlertArgs(args, []string{"id", "path", "webhook", "description", "select"})
			if err != nil {
				return err
			}
			return withAlertEdit(cmd, cfgPath, "alert create "+strings.Join(args, " "), func(s *session, c *cib.CIB) (string, error) {
				id, err := c.AddAlert(top["id"], spec)
				if err != nil {
					return "", err
				}
				return id, nil
			})
		},
	}
	freeArgs(cmd)
	configFlag(cmd, &cfgPath)
	return cmd
}

func newAlertUpdateCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "update ALERT [path=PATH | webhook=URL] [description=TEXT] [select=KINDS] [options NAME=VALUE ...] [meta NAME=VALUE ...]",
		Short: "Change an alert (an empty value removes an option or meta attribute)",
		Long: `update changes an alert's path, webhook or description, sets its options and
meta attributes (NAME= removes one).

` + liveExitCodes,
		Example: `  tandem alert update log meta timeout=15s
  tandem alert update log options debug_exec_order=`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			if len(args) < 2 {
				return badInput("alert update ALERT NAME=VALUE ...: give the alert and what to change")
			}
			_, spec, err := parseAlertArgs(args[1:], []string{"path", "webhook", "description", "select"})
			if err != nil {
				return err
			}
			return withAlertEdit(cmd, cfgPath, "alert update "+strings.Join(args, " "), func(s *session, c *cib.CIB) (string, error) {
				return args[0], c.UpdateAlert(args[0], spec)
			})
		},
	}
	freeArgs(cmd)
	configFlag(cmd, &cfgPath)
	return cmd
}

func newAlertRemoveCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:     "remove ALERT ...",
		Aliases: []string{"delete"},
		Short:   "Remove alerts with their recipients",
		Long:    "remove deletes alerts (all or none).\n\n" + liveExitCodes,
		Example: "  tandem alert remove log",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withEdit(cfgPath, "alert remove "+strings.Join(args, " "), func(_ *session, c *cib.CIB) error {
				return c.RemoveAlert(args...)
			})
		},
	}
	configFlag(cmd, &cfgPath)
	return cmd
}

func newAlertRecipientCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recipient",
		Short: "Add and remove an alert's recipients",
		Example: `  tandem alert recipient add log value=/var/log/cluster-alerts.log
  tandem alert recipient remove log-recipient`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var addPath string
	add := &cobra.Command{
		Use:   "add ALERT value=VALUE [id=ID] [meta NAME=VALUE ...]",
		Short: "Add a recipient: the agent is called once per recipient, with CRM_alert_recipient=VALUE",
		Long: `add gives alert ALERT a recipient: a file, an address, whatever the agent takes.
id defaults to ALERT-recipient. Its meta attributes (timeout, timestamp-format,
enabled) override the alert's for this recipient.

` + liveExitCodes,
		Example: "  tandem alert recipient add log value=/var/log/cluster-alerts.log meta timestamp-format=%c",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			if len(args) < 2 {
				return badInput("alert recipient add ALERT value=VALUE: give the alert and the recipient's value")
			}
			top, spec, err := parseAlertArgs(args[1:], []string{"id", "value"})
			if err != nil {
				return err
			}
			if len(spec.Options) > 0 {
				return badInput("a recipient takes no options (they are the alert's: tandem alert update %s options ...)", args[0])
			}
			return withEdit(addPath, "alert recipient add "+strings.Join(args, " "), func(_ *session, c *cib.CIB) error {
				_, err := c.AddRecipient(args[0], top["id"], top["value"], spec.Meta)
				return err
			})
		},
	}
	freeArgs(add)
	configFlag(add, &addPath)
	var removePath string
	remove := &cobra.Command{
		Use:     "remove RECIPIENT ...",
		Aliases: []string{"delete"},
		Short:   "Remove recipients by id",
		Long:    "remove deletes recipients (all or none).\n\n" + liveExitCodes,
		Example: "  tandem alert recipient remove log-recipient",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withEdit(removePath, "alert recipient remove "+strings.Join(args, " "), func(_ *session, c *cib.CIB) error {
				return c.RemoveRecipient(args...)
			})
		},
	}
	configFlag(remove, &removePath)
	cmd.AddCommand(add, remove)
	return cmd
}

// parseAlertArgs reads pcs's alert arguments: KEY=VALUE among keys, then
// "options NAME=VALUE ..." and "meta NAME=VALUE ..." sections.
func parseAlertArgs(args []string, keys []string) (map[string]string, cib.AlertSpec, error) {
	top := map[string]string{}
	spec := cib.AlertSpec{}
	section := ""
	for _, a := range args {
		if a == "options" || a == "meta" {
			section = a
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, spec, badInput("%q: write NAME=VALUE (or the keywords options, meta)", a)
		}
		switch section {
		case "options":
			if spec.Options == nil {
				spec.Options = map[string]string{}
			}
			spec.Options[k] = v
		case "meta":
			if spec.Meta == nil {
				spec.Meta = map[string]string{}
			}
			spec.Meta[k] = v
		default:
			if !contains(keys, k) {
				return nil, spec, badInput("unknown key %q%s (takes %s, then options NAME=VALUE ..., meta NAME=VALUE ...)", k, cib.DidYouMean(k, keys), strings.Join(keys, ", "))
			}
			top[k] = v
		}
	}
	for _, k := range []string{"path", "webhook", "description", "select"} {
		if v, ok := top[k]; ok {
			switch k {
			case "path":
				spec.Path = &v
			case "webhook":
				spec.Webhook = &v
			case "select":
				kinds := []string{}
				for _, f := range strings.Split(v, ",") {
					if f = strings.TrimSpace(f); f != "" {
						kinds = append(kinds, f)
					}
				}
				spec.Select = &kinds
			default:
				spec.Description = &v
			}
		}
	}
	return top, spec, nil
}

// withAlertEdit makes an edit that leaves alert id (what change returns)
// with an agent path, and asks the nodes whether they can run it; a node
// that cannot is named as a warning (the alert is configured cluster-wide,
// the agent installed on each host).
func withAlertEdit(cmd *cobra.Command, cfgPath, summary string, change func(*session, *cib.CIB) (string, error)) error {
	s, err := openSession(cfgPath)
	if err != nil {
		return err
	}
	defer s.close()
	var id string
	rev, err := s.edit(summary, func(c *cib.CIB) error {
		var err error
		id, err = change(s, c)
		return err
	})
	if err != nil {
		return err
	}
	a := rev.CIB.Alert(id)
	if a == nil || a.Path == "" {
		return nil
	}
	answers, err := daemon.AskAlertCheck(s.conn, a.ID, a.Path, len(rev.CIB.Nodes), daemon.ValidateTimeout)
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %v\n", err)
		return nil
	}
	sort.Slice(answers, func(i, j int) bool { return answers[i].Node < answers[j].Node })
	for _, ans := range answers {
		if ans.Problem != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %s: %s\n", ans.Node, ans.Problem)
		}
	}
	if len(answers) < len(rev.CIB.Nodes) {
		fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %d of %d nodes said whether they can run %s\n", len(answers), len(rev.CIB.Nodes), a.Path)
	}
	return nil
}

const alertJSONDoc = `--output json prints {"alerts": [...]}, each alert with id, path or webhook,
description, select (the event kinds, when limited), options (NAME to
value), meta (timeout, timestamp-format, enabled: those set, as the text
shows them) and recipients (each with id, value and meta).`

type alertJSON struct {
	ID          string            `json:"id"`
	Path        string            `json:"path,omitempty"`
	Webhook     string            `json:"webhook,omitempty"`
	Description string            `json:"description,omitempty"`
	Options     map[string]string `json:"options"`
	Meta        map[string]string `json:"meta"`
	Recipients  []recipientJSON   `json:"recipients"`
	Select      []string          `json:"select,omitempty"`
}

type recipientJSON struct {
	ID    string            `json:"id"`
	Value string            `json:"value"`
	Meta  map[string]string `json:"meta"`
}

func listAlerts(cmd *cobra.Command, cfgPath, output string) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	return withCurrent(cfgPath, func(_ *session, cur liveconfig.Revision) error {
		if output == "json" {
			return writeJSON(cmd.OutOrStdout(), struct {
				Alerts []alertJSON `json:"alerts"`
			}{newAlertsJSON(cur.CIB)})
		}
		writeAlerts(cmd.OutOrStdout(), cur.CIB)
		return nil
	})
}

func newAlertsJSON(c *cib.CIB) []alertJSON {
	alerts := []alertJSON{}
	for _, a := range c.Alerts {
		j := alertJSON{ID: a.ID, Path: a.Path, Webhook: a.Webhook, Description: a.Description,
			Options: map[string]string{}, Meta: alertMetaMap(a.Meta), Recipients: []recipientJSON{}, Select: a.Select}
		for k, v := range a.Options {
			j.Options[k] = v
		}
		for _, r := range a.Recipients {
			j.Recipients = append(j.Recipients, recipientJSON{ID: r.ID, Value: r.Value, Meta: alertMetaMap(r.Meta)})
		}
		alerts = append(alerts, j)
	}
	return alerts
}

// writeAlerts prints the alerts in pcs alert config's layout.
func writeAlerts(w io.Writer, c *cib.CIB) {
	fmt.Fprintln(w, "Alerts:")
	if len(c.Alerts) == 0 {
		fmt.Fprintln(w, " No alerts defined")
		return
	}
	meta := func(m cib.AlertMeta) string {
		var parts []string
		for _, p := range alertMetaPairs(m) {
			parts = append(parts, p[0]+"="+p[1])
		}
		return strings.Join(parts, " ")
	}
	for _, a := range c.Alerts {
		if a.Webhook != "" {
			fmt.Fprintf(w, " Alert: %s (webhook=%s)\n", a.ID, a.Webhook)
		} else {
			fmt.Fprintf(w, " Alert: %s (path=%s)\n", a.ID, a.Path)
		}
		if a.Description != "" {
			fmt.Fprintf(w, "  Description: %s\n", a.Description)
		}
		if len(a.Select) > 0 {
			fmt.Fprintf(w, "  Select: %s\n", strings.Join(a.Select, " "))
		}
		if len(a.Options) > 0 {
			var kv []string
			for _, k := range sortedMapKeys(a.Options) {
				kv = append(kv, k+"="+a.Options[k])
			}
			fmt.Fprintf(w, "  Options: %s\n", strings.Join(kv, " "))
		}
		if m := meta(a.Meta); m != "" {
			fmt.Fprintf(w, "  Meta options: %s\n", m)
		}
		if len(a.Recipients) > 0 {
			fmt.Fprintln(w, "  Recipients:")
			for _, r := range a.Recipients {
				fmt.Fprintf(w, "   Recipient: %s (value=%s)\n", r.ID, r.Value)
				if m := meta(r.Meta); m != "" {
					fmt.Fprintf(w, "    Meta options: %s\n", m)
				}
			}
		}
	}
}

// alertMetaPairs are the meta options set in m, NAME and VALUE as the text
// shows them.
func alertMetaPairs(m cib.AlertMeta) [][2]string {
	var kv [][2]string
	if m.Enabled != nil {
		kv = append(kv, [2]string{"enabled", fmt.Sprintf("%t", *m.Enabled)})
	}
	if m.Timeout > 0 {
		kv = append(kv, [2]string{"timeout", cib.FormatDuration(m.Timeout)})
	}
	if m.TimestampFormat != "" {
		kv = append(kv, [2]string{"timestamp-format", m.TimestampFormat})
	}
	return kv
}

func alertMetaMap(m cib.AlertMeta) map[string]string {
	out := map[string]string{}
	for _, p := range alertMetaPairs(m) {
		out[p[0]] = p[1]
	}
	return out
}

func sortedMapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
