package config

import (
	"regexp"
	"strconv"
	"strings"
)

// Positions are the lines of every table header and key assignment in a
// document that has already parsed as valid TOML. BurntSushi/toml keeps key
// positions private, and its key names carry no array index, so to point at
// "the agent of the second [[resource]]" we scan the text ourselves.
//
// Paths carry array-of-table indices: "resource[1]", "resource[1].op[0].interval".
type Positions struct {
	line  map[string]int
	order []string // paths in document order
}

func (k *Positions) at(path string) int { return k.line[path] }

// Line is the line of path ("resource[1].op[0].interval"), or of the
// nearest enclosing table or key that has one; 0 when none has.
func (k *Positions) Line(path string) int {
	if k == nil {
		return 0
	}
	for path != "" {
		if l, ok := k.line[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// stripIndex turns "resource[1].op[0].name" into "resource.op.name".
func stripIndex(path string) string { return indexRE.ReplaceAllString(path, "") }

func scanKeyLines(src string) *Positions {
	s := &scanner{src: src, line: 1}
	k := &Positions{line: map[string]int{}}
	arrays := map[string]int{} // array-of-tables path -> elements seen
	table := ""
	record := func(path string, line int) {
		if _, ok := k.line[path]; !ok {
			k.order = append(k.order, path)
		}
		k.line[path] = line
	}
	resolve := func(parts []string, array bool) string {
		cur := ""
		for i, p := range parts {
			cand := joinPath(cur, p)
			last := i == len(parts)-1
			switch {
			case last && array:
				n := arrays[cand]
				arrays[cand] = n + 1
				cur = cand + "[" + strconv.Itoa(n) + "]"
			case arrays[cand] > 0:
				cur = cand + "[" + strconv.Itoa(arrays[cand]-1) + "]"
			default:
				cur = cand
			}
		}
		return cur
	}
	for !s.eof() {
		s.skipSpace()
		if s.eof() {
			break
		}
		switch c := s.peek(); {
		case c == '\n':
			s.next()
		case c == '#':
			s.skipComment()
		case c == '[':
			line := s.line
			s.next()
			array := false
			if s.peek() == '[' {
				s.next()
				array = true
			}
			parts := s.keyParts(']')
			s.next() // ]
			if array && s.peek() == ']' {
				s.next()
			}
			table = resolve(parts, array)
			record(table, line)
		default:
			line := s.line
			parts := s.keyParts('=')
			if s.peek() != '=' {
				// Not valid TOML after all; stop rather than guess.
				return k
			}
			s.next()
			path := table
			for _, p := range parts {
				path = joinPath(path, p)
			}
			record(path, line)
			s.skipSpace()
			if s.peek() == '{' {
				// Keys of an inline table get positions too, so that an
				// unknown one (meta = { stickiness = 5 }) is reported.
				s.inlineTable(path, record)
				continue
			}
			s.skipValue(false)
		}
	}
	return k
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

type scanner struct {
	src  string
	pos  int
	line int
}

func (s *scanner) eof() bool { return s.pos >= len(s.src) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.pos]
}

func (s *scanner) next() byte {
	c := s.peek()
	if c == '\n' {
		s.line++
	}
	if !s.eof() {
		s.pos++
	}
	return c
}

func (s *scanner) skipSpace() {
	for c := s.peek(); c == ' ' || c == '\t' || c == '\r'; c = s.peek() {
		s.next()
	}
}

func (s *scanner) skipComment() {
	for !s.eof() && s.peek() != '\n' {
		s.next()
	}
}

// keyParts reads a (dotted, possibly quoted) key up to the stop byte.
func (s *scanner) keyParts(stop byte) []string {
	var parts []string
	var cur strings.Builder
	for !s.eof() {
		c := s.peek()
		switch {
		case c == stop || c == '\n':
			return append(parts, strings.TrimSpace(cur.String()))
		case c == '.':
			s.next()
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == '"' || c == '\'':
			cur.WriteString(s.quoted())
		default:
			cur.WriteByte(s.next())
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

// quoted reads a one-line quoted key and returns its (unescaped enough) text.
func (s *scanner) quoted() string {
	q := s.next()
	var b strings.Builder
	for !s.eof() {
		c := s.next()
		switch {
		case c == q:
			return b.String()
		case c == '\\' && q == '"':
			b.WriteByte(s.next())
		case c == '\n':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// skipValue skips a value, including multi-line strings, arrays and inline
// tables, up to the end of its line; inside an inline table (inline), up to
// the ',' or '}' that ends it.
func (s *scanner) skipValue(inline bool) {
	depth := 0
	for !s.eof() {
		c := s.peek()
		switch {
		case depth == 0 && (c == '\n' && !inline || inline && (c == ',' || c == '}')):
			return
		case c == '#':
			s.skipComment()
		case c == '[' || c == '{':
			depth++
			s.next()
		case c == ']' || c == '}':
			depth--
			s.next()
		case c == '"' || c == '\'':
			s.skipString()
		default:
			s.next()
		}
	}
}

// inlineTable reads an inline table ({ k = v, t = { ... } }) at path,
// recording the line of each key.
func (s *scanner) inlineTable(path string, record func(string, int)) {
	s.next() // {
	for !s.eof() {
		s.skipSpace()
		switch s.peek() {
		case '}':
			s.next()
			return
		case ',', '\n':
			s.next()
			continue
		case '#':
			s.skipComment()
			continue
		}
		line := s.line
		parts := s.keyParts('=')
		if s.peek() != '=' {
			return
		}
		s.next()
		key := path
		for _, p := range parts {
			key = joinPath(key, p)
		}
		record(key, line)
		s.skipSpace()
		if s.peek() == '{' {
			s.inlineTable(key, record)
			continue
		}
		s.skipValue(true)
	}
}

func (s *scanner) skipString() {
	q := s.peek()
	triple := strings.HasPrefix(s.src[s.pos:], strings.Repeat(string(q), 3))
	if triple {
		s.pos += 3
		for !s.eof() {
			if strings.HasPrefix(s.src[s.pos:], strings.Repeat(string(q), 3)) {
				s.pos += 3
				// A closing delimiter may be followed by up to two more quotes.
				for s.peek() == q {
					s.next()
				}
				return
			}
			if s.peek() == '\\' && q == '"' {
				s.next()
			}
			s.next()
		}
		return
	}
	s.next()
	for !s.eof() {
		c := s.next()
		if c == '\\' && q == '"' {
			s.next()
			continue
		}
		if c == q || c == '\n' {
			return
		}
	}
}
