package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// docs/cli is generated from the commands; it must match them.
func TestCLIDocsUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..", docsDir)
	pages := markdownPages(NewRoot())
	for name, text := range pages {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != text {
			t.Errorf("%s/%s is missing or stale: run `go run ./host/cmd/tandem gen-docs %s`", docsDir, name, docsDir)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "tandem*.md"))
	for _, f := range files {
		if _, ok := pages[filepath.Base(f)]; !ok {
			t.Errorf("%s documents no command: run `go run ./host/cmd/tandem gen-docs %s`", f, docsDir)
		}
	}
	if len(pages) < 40 {
		t.Errorf("only %d pages", len(pages))
	}
}

// Every command a user runs has --help with examples.
func TestEveryCommandHasExamples(t *testing.T) {
	root := NewRoot()
	root.InitDefaultHelpCmd()
	lead := map[string]bool{"tandem": true, "tandem version": true, "tandem help": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.Hidden && c.Example == "" && !lead[c.CommandPath()] {
			t.Errorf("%s has no examples", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_tandem", "zsh": "#compdef tandem", "fish": "complete -c tandem", "powershell": "Register-ArgumentCompleter"} {
		root := NewRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{"completion", shell})
		if err := root.Execute(); err != nil || !strings.Contains(out.String(), want) {
			t.Errorf("completion %s: %v, output lacks %q (%d bytes)", shell, err, want, out.Len())
		}
	}
	// Subcommands complete: the bash script asks tandem itself.
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"__complete", "resource", "cl"})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "cleanup") || !strings.Contains(out.String(), "clear") {
		t.Errorf("completing `resource cl`: %v\n%s", err, out.String())
	}
}

// gen-man writes one man page per visible command (as docs/cli has one
// Markdown page each), titled after the command, with its synopsis and
// options; hidden commands get none.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	n, err := writeManPages(NewRoot(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(markdownPages(NewRoot())); n != want {
		t.Errorf("%d man pages, want one per docs/cli page: %d", n, want)
	}
	host, err := os.ReadFile(filepath.Join(dir, "tandem-host.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "TANDEM-HOST" "1" "Nov 2023" "Tandem `, "tandem-host - Run this node's member daemon", `\fB--node\fP`, `"/etc/tandem/cluster.toml"`} {
		if !strings.Contains(string(host), want) {
			t.Errorf("tandem-host.1 lacks %q:\n%s", want, host)
		}
	}
	for _, hidden := range []string{"tandem-gen-docs.1", "tandem-gen-man.1"} {
		if _, err := os.Stat(filepath.Join(dir, hidden)); err == nil {
			t.Errorf("%s written for a hidden command", hidden)
		}
	}
}
