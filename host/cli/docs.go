package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func init() { register(newGenDocsCmd) }

// docsDir is where the generated command reference lives, from the
// repository root.
const docsDir = "docs/cli"

func newGenDocsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-docs DIR",
		Short:  "Write the Markdown command reference (docs/cli) into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pages := markdownPages(NewRoot())
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			old, _ := filepath.Glob(filepath.Join(args[0], "tandem*.md"))
			for _, f := range old {
				if _, keep := pages[filepath.Base(f)]; !keep {
					if err := os.Remove(f); err != nil {
						return err
					}
				}
			}
			for name, text := range pages {
				if err := os.WriteFile(filepath.Join(args[0], name), []byte(text), 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d pages written to %s\n", len(pages), args[0])
			return nil
		},
	}
}

// markdownPages renders one Markdown page per visible command, named like
// cobra/doc names them (tandem_resource_create.md), from the commands'
// own help: the reference cannot drift from --help.
func markdownPages(root *cobra.Command) map[string]string {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	pages := map[string]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || (!c.IsAvailableCommand() && c != root && !c.HasAvailableSubCommands()) {
			return
		}
		pages[pageName(c)] = markdownPage(c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return pages
}

func pageName(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "_") + ".md"
}

func markdownPage(c *cobra.Command) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n%s\n\n", c.CommandPath(), c.Short)
	if c.Long != "" {
		fmt.Fprintf(&b, "## Synopsis\n\n```\n%s\n```\n\n", strings.TrimSpace(c.Long))
	}
	if c.Runnable() {
		fmt.Fprintf(&b, "## Usage\n\n```\n%s\n```\n\n", c.UseLine())
	}
	if len(c.Aliases) > 0 {
		fmt.Fprintf(&b, "Aliases: %s\n\n", strings.Join(c.Aliases, ", "))
	}
	if c.Example != "" {
		fmt.Fprintf(&b, "## Examples\n\n```\n%s\n```\n\n", strings.TrimRight(c.Example, "\n"))
	}
	if flags := c.NonInheritedFlags(); flags.HasAvailableFlags() {
		// The --config default comes from TANDEM_CONFIG when set; the
		// reference shows the built-in one.
		if f := flags.Lookup("config"); f != nil {
			f.DefValue = DefaultConfigPath
		}
		fmt.Fprintf(&b, "## Options\n\n```\n%s```\n\n", flags.FlagUsages())
	}
	var subs []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			subs = append(subs, fmt.Sprintf("* [%s](%s) - %s", s.CommandPath(), pageName(s), s.Short))
		}
	}
	if len(subs) > 0 {
		fmt.Fprintf(&b, "## Commands\n\n%s\n\n", strings.Join(subs, "\n"))
	}
	if p := c.Parent(); p != nil {
		fmt.Fprintf(&b, "## See also\n\n* [%s](%s) - %s\n", p.CommandPath(), pageName(p), p.Short)
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func init() { register(newGenManCmd) }

func newGenManCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write the man pages (section 1, one per visible command) into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := writeManPages(NewRoot(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d man pages written to %s\n", n, args[0])
			return nil
		},
	}
}

// writeManPages renders the man pages of root's visible commands into dir
// with cobra/doc (tandem.1, tandem-resource-create.1, ...), from the same
// help text as --help and docs/cli; it returns how many it wrote.
func writeManPages(root *cobra.Command, dir string) (int, error) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	root.DisableAutoGenTag = true
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		// The --config default comes from TANDEM_CONFIG when set; the
		// pages show the built-in one.
		if f := c.NonInheritedFlags().Lookup("config"); f != nil {
			f.DefValue = DefaultConfigPath
		}
		c.DisableAutoGenTag = true
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	// Each page is titled after its command; dated $SOURCE_DATE_EPOCH
	// when set (a reproducible package build), else now.
	header := &doc.GenManHeader{Section: "1", Source: "Tandem " + version, Manual: "Tandem Manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return 0, fmt.Errorf("man pages: %w", err)
	}
	pages, err := filepath.Glob(filepath.Join(dir, "*.1"))
	return len(pages), err
}
