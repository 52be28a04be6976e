package config

import (
	"fmt"
	"sort"
	"strings"
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

// Problems is every problem found in a configuration. It is the error Load,
// Parse and Validate return when a configuration is not usable.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sorted orders problems by line, keeping the order of discovery within a line.
func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return ps
}

// problems collects problems while a configuration is checked.
type problems struct {
	file string
	list Problems
}

func (p *problems) at(line int, format string, args ...any) {
	p.list = append(p.list, Problem{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list.sorted()
}
