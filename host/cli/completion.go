package cli

import (
	"github.com/spf13/cobra"
)

func init() { register(newCompletionCmd) }

// newCompletionCmd replaces cobra's default completion command (same
// scripts) to give each shell its installation example.
func newCompletionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script for tandem",
		Long: `completion prints a script that makes the shell complete tandem's commands,
flags and arguments. Load it once per session, or install it as shown in each
shell's example.`,
		Example: `  source <(tandem completion bash)
  tandem completion bash > /etc/bash_completion.d/tandem
  tandem completion zsh > "${fpath[1]}/_tandem"
  tandem completion fish > ~/.config/fish/completions/tandem.fish`,
		Args: cobra.NoArgs,
	}
	shell := func(name, example string, gen func(root *cobra.Command, cmd *cobra.Command) error) *cobra.Command {
		return &cobra.Command{
			Use:               name,
			Short:             "Print the " + name + " completion script",
			Example:           example,
			Args:              cobra.NoArgs,
			ValidArgsFunction: cobra.NoFileCompletions,
			RunE:              func(c *cobra.Command, _ []string) error { return gen(c.Root(), c) },
		}
	}
	cmd.AddCommand(
		shell("bash", "  source <(tandem completion bash)\n  tandem completion bash > /etc/bash_completion.d/tandem",
			func(root, c *cobra.Command) error { return root.GenBashCompletionV2(c.OutOrStdout(), true) }),
		shell("zsh", "  tandem completion zsh > \"${fpath[1]}/_tandem\"",
			func(root, c *cobra.Command) error { return root.GenZshCompletion(c.OutOrStdout()) }),
		shell("fish", "  tandem completion fish > ~/.config/fish/completions/tandem.fish",
			func(root, c *cobra.Command) error { return root.GenFishCompletion(c.OutOrStdout(), true) }),
		shell("powershell", "  tandem completion powershell | Out-String | Invoke-Expression",
			func(root, c *cobra.Command) error { return root.GenPowerShellCompletionWithDesc(c.OutOrStdout()) }),
	)
	return cmd
}
