// Package cli is the tandem command line: one cobra command tree, one file
// per command group. A file adds its commands with register from an init
// function, so command groups stay independent of each other.
package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Set at build time: -ldflags "-X github.com/tandem-ha/tandem/host/cli.version=... -X ...commit=..."
var (
	version = "dev"
	commit  = "unknown"
)

var registered []func() *cobra.Command

// register adds a top-level command; call it from an init function.
func register(newCmd func() *cobra.Command) { registered = append(registered, newCmd) }

// ExitError carries a process exit code through cobra.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// NewRoot builds the whole command tree.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "tandem",
		Short: "Tandem: a high-availability cluster resource manager",
		Long: `Tandem runs resources (floating IPs, services, load balancers) on a cluster of
Linux nodes, moves them when a node fails, and keeps ordering and colocation
constraints, like Pacemaker with pcs. Every node embeds a NATS server; a small
witness keeps a two-node cluster's majority.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, newCmd := range registered {
		root.AddCommand(newCmd())
	}
	completeIDs(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("%s: %v (see tandem %s --help)", commandTail(c), err, commandTail(c))}
	})
	return root
}

// unknownSubcommand refuses a command line that names a command group
// (a command with subcommands and no action of its own) followed by a word
// that is none of its subcommands, with exit code 2 (bad input) and a
// did-you-mean: cobra alone prints the group's help and exits 0 for
// "tandem node standyb holly". A group alone still prints its help.
func unknownSubcommand(root *cobra.Command, args []string) error {
	cmd, rest, err := root.Find(args)
	if err != nil || cmd.Runnable() || !cmd.HasSubCommands() || len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
		// help and the hidden __complete commands are added by Execute.
		if err != nil && cmd == root && len(args) > 0 && !strings.HasPrefix(args[0], "-") && !strings.HasPrefix(args[0], "__") && args[0] != "help" {
			return unknownIn(root, args[0])
		}
		return nil
	}
	return unknownIn(cmd, rest[0])
}

func unknownIn(cmd *cobra.Command, word string) error {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return &ExitError{Code: ExitConfig, Err: fmt.Errorf("unknown command %q for %q%s; its commands are %s",
		word, cmd.CommandPath(), cib.DidYouMean(word, names), strings.Join(names, ", "))}
}

// commandTail is a command's path without the leading "tandem ".
func commandTail(c *cobra.Command) string {
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
}

// Execute runs the command line and exits with the command's exit code.
func Execute() {
	root := NewRoot()
	err := checkArgs(os.Args[1:])
	if err == nil {
		err = unknownSubcommand(root, os.Args[1:])
	}
	if err == nil {
		err = root.Execute()
	}
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "tandem:", err)
	if e, ok := err.(*ExitError); ok {
		os.Exit(e.Code)
	}
	os.Exit(1)
}

// DefaultConfigPath is where the cluster file lives unless --config or
// TANDEM_CONFIG say otherwise.
const DefaultConfigPath = "/etc/tandem/cluster.toml"

func configFlag(cmd *cobra.Command, p *string) {
	def := os.Getenv("TANDEM_CONFIG")
	if def == "" {
		def = DefaultConfigPath
	}
	cmd.Flags().StringVarP(p, "config", "c", def, "cluster file (default from TANDEM_CONFIG)")
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// The limits of a command line, checked before it is parsed: no command
// takes anything near them, and a caller that passes more (a script
// gone wrong, or one feeding it what came off the network) gets a clear
// refusal instead of the parsers' work.
const (
	MaxArgLen  = 64 << 10 // bytes in one argument
	MaxArgsLen = 1 << 20  // bytes in all of them
)

// checkArgs refuses a command line over MaxArgLen or MaxArgsLen (exit
// code 2).
func checkArgs(args []string) error {
	total := 0
	for i, a := range args {
		if len(a) > MaxArgLen {
			return &ExitError{Code: ExitConfig, Err: fmt.Errorf("argument %d (%q...) is %d bytes, over the limit of %d bytes per argument (MaxArgLen); put long values in a file (tandem config apply FILE)",
				i+1, a[:min(len(a), 20)], len(a), MaxArgLen)}
		}
		total += len(a)
	}
	if total > MaxArgsLen {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("the arguments are %d bytes, over the limit of %d bytes in all (MaxArgsLen); put long values in a file (tandem config apply FILE)", total, MaxArgsLen)}
	}
	return nil
}
