package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
)

func init() { register(newPKICmd) }

func newPKICmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pki",
		Short: "Make and rotate the cluster's CA and certificates (mutual TLS on the bus)",
		Long: `The bus of a cluster of more than one member runs mutual TLS: every member,
the witness and every CLI user presents a certificate signed by the cluster CA,
whose identity (tandem://ROLE/NAME) says what it may do. Routes are accepted
only from the members named in cluster.toml. See docs/security.md.`,
		Example: `  tandem pki init --config /etc/tandem/cluster.toml
  tandem pki list
  tandem pki issue --role member benji
  tandem pki revoke benji`,
	}
	cmd.AddCommand(newPKIInitCmd(), newPKIIssueCmd(), newPKIListCmd(), newPKIRevokeCmd())
	return cmd
}

// pkiDir is --dir, else the cluster file's [bus.tls] dir, else the default.
func pkiDir(dir, cfgPath string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	f, err := config.Load(cfgPath)
	if err != nil {
		return "", &ExitError{Code: ExitConfig, Err: fmt.Errorf("%w; or pass --dir", err)}
	}
	t := f.Topology.TLS
	switch {
	case t == nil:
		return bus.DefaultPKIDir, nil
	case t.Dir == "":
		return "", &ExitError{Code: ExitConfig, Err: fmt.Errorf("%s: [bus.tls] gives certificate files, not a PKI directory; pass --dir", cfgPath)}
	}
	return t.Dir, nil
}

func newPKIInitCmd() *cobra.Command {
	var cfgPath, dir string
	var monitors []string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the cluster CA and a certificate for every member, the witness and the admin",
		Long: `init creates, in the PKI directory (--dir, else [bus.tls] dir, else
/etc/tandem/pki), the cluster CA (ca.crt, ca.key) and a certificate and key for
every node (role member) and the witness (role witness) of the cluster file, one
for the admin (admin.crt, used by tandem commands) and one per --monitor NAME
(read-only). Keys are written with mode 0600. It refuses to replace an existing
CA; use "tandem pki issue" to (re)issue single certificates.

Copy to each member's PKI directory: ca.crt, its own NAME.crt and NAME.key, and
admin.crt and admin.key where tandem commands run. Keep ca.key off the members
if you can: whoever holds it can mint identities.`,
		Example: `  tandem pki init --config /etc/tandem/cluster.toml --dir /etc/tandem/pki
  scp /etc/tandem/pki/{ca.crt,benji.crt,benji.key,admin.crt,admin.key} benji:/etc/tandem/pki/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := config.Load(cfgPath)
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			if dir, err = pkiDir(dir, cfgPath); err != nil {
				return err
			}
			if err := bus.InitCA(dir, f.Topology.Cluster); err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			ids := []bus.Identity{}
			for _, m := range f.Topology.Members {
				role := bus.RoleMember
				if m.Witness {
					role = bus.RoleWitness
				}
				ids = append(ids, bus.Identity{Role: role, Name: m.Name})
			}
			ids = append(ids, bus.Identity{Role: bus.RoleAdmin, Name: bus.AdminIdentity})
			for _, m := range monitors {
				ids = append(ids, bus.Identity{Role: bus.RoleMonitor, Name: m})
			}
			for _, id := range ids {
				if err := bus.Issue(dir, id); err != nil {
					return &ExitError{Code: ExitConfig, Err: err}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the cluster CA and %d certificates to %s\n", len(ids), dir)
			return listPKI(cmd, dir, "text")
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&dir, "dir", "", "PKI directory (default: [bus.tls] dir, else "+bus.DefaultPKIDir+")")
	cmd.Flags().StringArrayVar(&monitors, "monitor", nil, "also issue a read-only identity NAME (repeatable)")
	return cmd
}

func newPKIIssueCmd() *cobra.Command {
	var cfgPath, dir, role string
	cmd := &cobra.Command{
		Use:   "issue --role ROLE NAME",
		Short: "Issue (or re-issue, to rotate) one certificate",
		Long: `issue writes NAME.crt and NAME.key (mode 0600) in the PKI directory, signed by
its CA, replacing any previous ones: this is how a certificate is rotated. ROLE is
member (a node), witness, admin (edits the configuration) or monitor (read-only).
A member or witness certificate must name a member of the cluster file to be
accepted on routes. Copy the new files to the host that uses them and restart
its daemon (tandem host / tandem witness); the other members keep quorum.`,
		Example: `  tandem pki issue --role member benji
  tandem pki issue --role monitor grafana`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := pkiDir(dir, cfgPath)
			if err != nil {
				return err
			}
			if err := bus.Issue(d, bus.Identity{Role: role, Name: args[0]}); err != nil {
				return &ExitError{Code: ExitConfig, Err: fmt.Errorf("pki %s: %w", d, err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s/%s.crt and %s.key (%s %s)\n", d, args[0], args[0], role, args[0])
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&dir, "dir", "", "PKI directory (default: [bus.tls] dir, else "+bus.DefaultPKIDir+")")
	cmd.Flags().StringVar(&role, "role", "", "member, witness, admin or monitor (required)")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newPKIListCmd() *cobra.Command {
	var cfgPath, dir, output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the identities in the PKI directory, their roles and expiry",
		Long: `list shows every certificate of the PKI directory but the CA's: the identity
it names, its role, expiry and serial number, and whether the directory's CA signed
it and has not revoked it.

--output json prints {"certificates": [...]}, each with name (the file's when
the certificate names no identity), role, file, expires (RFC 3339), serial
(hexadecimal) and status ("ok", "expires soon: ...", "INVALID: why", which
includes "revoked").`,
		Example: `  tandem pki list --dir /etc/tandem/pki
  tandem pki list --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			d, err := pkiDir(dir, cfgPath)
			if err != nil {
				return err
			}
			return listPKI(cmd, d, output)
		},
	}
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	cmd.Flags().StringVar(&dir, "dir", "", "PKI directory (default: [bus.tls] dir, else "+bus.DefaultPKIDir+")")
	return cmd
}

func newPKIRevokeCmd() *cobra.Command {
	var cfgPath, dir string
	cmd := &cobra.Command{
		Use:   "revoke NAME|SERIAL",
		Short: "Revoke a certificate: add it to the CA's revocation list (ca.crl)",
		Long: `revoke adds a certificate to the cluster CA's revocation list, ca.crl in the
PKI directory, signed with ca.key (so run it where ca.key is). NAME is an identity
whose NAME.crt is in the directory (its current certificate is revoked); SERIAL is
a certificate's serial number in hexadecimal, as "tandem pki list" and
"openssl x509 -noout -serial" print it, for a certificate no longer in the
directory (one replaced by "tandem pki issue").

Copy ca.crl to every member's PKI directory (beside ca.crt). A member re-reads it
within a second of its change, without a restart: it refuses the revoked
certificate on its client port and its routes, and closes the connections that
present it. Clients (tandem commands) refuse a bus server with a revoked
certificate. A ca.crl that does not parse or that the CA did not sign is refused
with an error naming the file, and the previous list stays in force.

Revoking a certificate that is already revoked changes nothing. To let the
identity back in, issue it a new certificate ("tandem pki issue").`,
		Example: `  tandem pki revoke benji
  tandem pki revoke 3A0F9C2B...
  scp /etc/tandem/pki/ca.crl holly:/etc/tandem/pki/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := pkiDir(dir, cfgPath)
			if err != nil {
				return err
			}
			res, err := bus.Revoke(d, args[0])
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: fmt.Errorf("pki %s: revoke %w", d, err)}
			}
			what := "serial " + bus.FormatSerial(res.Serial)
			if res.Identity != "" {
				what = fmt.Sprintf("%s (serial %s)", res.Identity, bus.FormatSerial(res.Serial))
			}
			if res.Already {
				fmt.Fprintf(cmd.OutOrStdout(), "%s was already revoked in %s; nothing changed\n", what, res.File)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s in %s\ncopy %s to every member's PKI directory; members enforce it within a second\n", what, res.File, res.File)
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&dir, "dir", "", "PKI directory (default: [bus.tls] dir, else "+bus.DefaultPKIDir+")")
	return cmd
}

func listPKI(cmd *cobra.Command, dir, output string) error {
	certs, err := bus.List(dir)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("pki %s: %w", dir, err)}
	}
	type certJSON struct {
		Name    string    `json:"name"`
		Role    string    `json:"role"`
		File    string    `json:"file"`
		Expires time.Time `json:"expires"`
		Serial  string    `json:"serial"`
		Status  string    `json:"status"`
	}
	list := []certJSON{}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	if output != "json" {
		fmt.Fprintln(tw, "NAME\tROLE\tEXPIRES\tSERIAL\tSTATUS")
	}
	for _, c := range certs {
		status := "ok"
		if c.Err != nil {
			status = "INVALID: " + c.Err.Error()
		} else if time.Until(c.NotAfter) < 30*24*time.Hour {
			status = "expires soon: reissue with `tandem pki issue`"
		}
		name := c.Identity.Name
		if name == "" {
			name = c.File
		}
		serial := ""
		if c.Serial != nil {
			serial = bus.FormatSerial(c.Serial)
		}
		if output == "json" {
			list = append(list, certJSON{Name: name, Role: c.Identity.Role, File: c.File, Expires: c.NotAfter, Serial: serial, Status: status})
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, c.Identity.Role, c.NotAfter.Format(time.DateOnly), serial, status)
	}
	if output == "json" {
		return writeJSON(cmd.OutOrStdout(), struct {
			Certificates []certJSON `json:"certificates"`
		}{list})
	}
	return tw.Flush()
}
