// Package skeleton writes a new plugin project: a Go module of its own
// with a working agent, its conformance tests (sdktest), a Makefile and a
// README. `tandem plugin new NAME [DIR]` calls Write; the files are the
// templates under template/, kept as *.tmpl so that this module's
// builds, vet and staticcheck never see them as Go code.
package skeleton

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

//go:embed template
var files embed.FS

// Options are what a new project is made of.
type Options struct {
	// Name is the plugin's name: the executable is tandem-plugin-<Name>,
	// resources use agent = "<Name>:file".
	Name string
	// Module is the new module's path; default example.com/tandem-plugin-<Name>.
	Module string
	// Tandem is the local Tandem checkout the module's replace directive
	// points at (until the SDK is released); default "../tandem".
	Tandem string
}

// TandemModule is the module the SDK is in.
const TandemModule = "github.com/tandem-ha/tandem"

// DefaultGo is the go directive of a project made without a Tandem
// checkout at hand (a checkout's own directive wins).
const DefaultGo = "1.26.0"

var name = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// Write creates dir (which must not exist or be empty) holding the new
// project, and returns the files written, relative to dir.
func Write(dir string, o Options) ([]string, error) {
	if !name.MatchString(o.Name) {
		return nil, fmt.Errorf("plugin name %q: use lower-case letters, digits, - and _, starting with a letter (it becomes %s<name>)", o.Name, sdk.PluginPrefix)
	}
	if o.Module == "" {
		o.Module = "example.com/" + sdk.PluginPrefix + o.Name
	}
	if o.Tandem == "" {
		o.Tandem = "../tandem"
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: give a new directory", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// The checkout's requirements and checksums: the versions Tandem is
	// tested with, so the new module builds at once (even offline, from
	// the module cache a build of Tandem filled) without a go mod tidy.
	checkout := o.Tandem
	if !filepath.IsAbs(checkout) {
		checkout = filepath.Join(dir, checkout)
	}
	requires, sums, goVersion := fromCheckout(checkout)
	data := map[string]string{
		"Name":     o.Name,
		"Binary":   sdk.PluginPrefix + o.Name,
		"Module":   o.Module,
		"Tandem":   o.Tandem,
		"SDK":      TandemModule,
		"Requires": requires,
		"Go":       goVersion,
	}
	var written []string
	err := fs.WalkDir(files, "template", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(path, "template/"), ".tmpl")
		rel = strings.ReplaceAll(rel, "BINARY", data["Binary"])
		text, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		tmpl, err := template.New(rel).Delims("<%", "%>").Option("missingkey=error").Parse(string(text))
		if err != nil {
			return fmt.Errorf("skeleton template %s: %w", path, err)
		}
		var out bytes.Buffer
		if err := tmpl.Execute(&out, data); err != nil {
			return fmt.Errorf("skeleton template %s: %w", path, err)
		}
		target := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, out.Bytes(), 0o644); err != nil {
			return err
		}
		written = append(written, rel)
		return nil
	})
	if err == nil && sums != nil {
		err = os.WriteFile(filepath.Join(dir, "go.sum"), sums, 0o644)
		written = append(written, "go.sum")
	}
	return written, err
}

// fromCheckout reads the Tandem checkout at dir: its go.mod's
// requirements, as a require block of the new go.mod (all indirect: go
// mod tidy keeps those the plugin uses), and its go.sum. Both are empty
// when dir is not a Tandem checkout (yet): go mod tidy then finds them.
// goVersion is the checkout's go directive (the SDK needs that Go), else
// DefaultGo.
func fromCheckout(dir string) (requires string, sums []byte, goVersion string) {
	goVersion = DefaultGo
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || !strings.HasPrefix(string(mod), "module "+TandemModule+"\n") {
		return "", nil, goVersion
	}
	var reqs []string
	block := false
	for _, line := range strings.Split(string(mod), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "go "):
			goVersion = strings.TrimPrefix(line, "go ")
		case line == "require (":
			block = true
		case block && line == ")":
			block = false
		case block && line != "" && !strings.HasPrefix(line, "//"):
			reqs = append(reqs, line)
		case strings.HasPrefix(line, "require ") && !strings.HasSuffix(line, "("):
			reqs = append(reqs, strings.TrimPrefix(line, "require "))
		}
	}
	if len(reqs) == 0 {
		return "", nil, goVersion
	}
	var b strings.Builder
	b.WriteString("\n// The versions Tandem is built with; go mod tidy drops what you do not use.\nrequire (\n")
	for _, r := range reqs {
		if !strings.Contains(r, "// indirect") {
			r += " // indirect"
		}
		b.WriteString("\t" + r + "\n")
	}
	b.WriteString(")\n")
	sums, _ = os.ReadFile(filepath.Join(dir, "go.sum"))
	return b.String(), sums, goVersion
}
