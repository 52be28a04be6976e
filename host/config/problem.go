package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Problem is one thing wrong with a configuration, located in its file.
type Problem struct {
	File string
	Line int // 0: not tied to a line
	Col  int // 0: not known
	Msg  string
}

func (p Problem) String() string {
	loc := p.File
	if loc == "" {
		loc = "config"
	}
	if p.Line > 0 {
		loc += fmt.Sprintf(":%d", p.Line)
		if p.Col > 0 {
			loc += fmt.Sprintf(":%d", p.Col)
		}
	}
	return loc + ": " + p.Msg
}

// Problems is every problem found in a configuration. It is the error Load
// and Parse return when a file is not usable.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects problems while a file is read and checked. Each is
// noted at a path of the file's layout ("resource[1].agent"), which the
// positions turn into the line of that key, or of the nearest table that
// holds it.
type problems struct {
	file  string
	lines *Positions
	list  Problems
	paths map[string]bool // paths with a problem, so the model's checks do not repeat them
}

func (p *problems) at(path, format string, args ...any) {
	p.atLine(p.lines.Line(path), format, args...)
	if p.paths == nil {
		p.paths = map[string]bool{}
	}
	p.paths[path] = true
}

func (p *problems) atLine(line int, format string, args ...any) {
	p.list = append(p.list, Problem{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// model adds the model's own problems, except where the file's checks
// already said something more precise about the same key.
func (p *problems) model(ps cib.Problems) {
	for _, mp := range ps {
		if p.paths[mp.Path] {
			continue
		}
		msg := mp.Text(func(path string) string { return fmt.Sprintf("line %d", p.lines.Line(path)) })
		p.atLine(p.lines.Line(mp.Path), "%s", msg)
	}
}

// err is the problems sorted by line (in order of discovery within a line),
// or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].Line < p.list[j].Line })
	return p.list
}
