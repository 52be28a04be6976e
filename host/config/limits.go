package config

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// The limits a cluster file is held to before the TOML decoder sees it.
// The decoder's cost grows with the square of the nesting (a file of 80 KB
// nested 20,000 deep took 11 GB), and a file is read whole into memory; a
// real cluster.toml is a few KB nested three or four deep.
const (
	// MaxFileSize is the largest cluster file (or live revision) read.
	MaxFileSize = 1 << 20
	// MaxNesting is the deepest nesting of arrays and inline tables.
	MaxNesting = 32
	// MaxKeyDepth is the most parts of a dotted key or table name
	// (a.b.c has 3): the decoder is quadratic in them too (a 10 KB key
	// of 5,000 parts allocated 1 GB).
	MaxKeyDepth = 32
)

// ErrLimit is what a file over a limit fails with (wrapped in a Problems).
var ErrLimit = errors.New("over a limit")

// readLimited reads path, refusing a file larger than MaxFileSize without
// reading more than MaxFileSize+1 bytes of it.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxFileSize {
		return nil, limitProblem(path, 0, fmt.Sprintf("%d bytes is larger than the limit of %d bytes (MaxFileSize); a cluster file is a few KB", st.Size(), MaxFileSize))
	}
	// Not a regular file, or one that grows: read no more than the limit.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, limitProblem(path, 0, fmt.Sprintf("the file is larger than the limit of %d bytes (MaxFileSize); a cluster file is a few KB", MaxFileSize))
	}
	return data, nil
}

func limitProblem(name string, line int, msg string) error {
	return limitError{Problems{{File: name, Line: line, Msg: msg}}}
}

// limitError is a Problems that also matches ErrLimit.
type limitError struct{ Problems }

func (e limitError) Unwrap() []error { return []error{e.Problems, ErrLimit} }

// checkLimits refuses data over MaxFileSize, nested deeper than
// MaxNesting, or with a dotted key or table name of more than MaxKeyDepth
// parts, in one pass that costs no memory. The scan knows TOML well
// enough to skip comments and all four kinds of strings, so that a bracket
// inside them does not count; what it misreads in a file that is not TOML
// the decoder reports after.
func checkLimits(name string, data []byte) error {
	if len(data) > MaxFileSize {
		return limitProblem(name, 0, fmt.Sprintf("%d bytes is larger than the limit of %d bytes (MaxFileSize); a cluster file is a few KB", len(data), MaxFileSize))
	}
	depth, line := 0, 1
	var open [MaxNesting + 1]byte // the brackets open, innermost last
	// inKey: reading a key (at a line's start, after '{' or ',' in an
	// inline table, in a table header), whose dots are counted in parts.
	inKey, header, parts := true, false, 1
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
			if depth == 0 {
				inKey, header, parts = true, false, 1
			}
		case '=':
			inKey = false
		case '.':
			if inKey {
				if parts++; parts > MaxKeyDepth {
					return limitProblem(name, line, fmt.Sprintf("a key or table name has more parts than the limit of %d (MaxKeyDepth)", MaxKeyDepth))
				}
			}
		case ',':
			if depth > 0 && open[depth-1] == '{' {
				inKey, parts = true, 1
			}
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			// Multi-line strings open with three quotes.
			if i+2 < len(data) && data[i+1] == c && data[i+2] == c {
				i += 3
				for ; i < len(data); i++ {
					if data[i] == '\n' {
						line++
					}
					if c == '"' && data[i] == '\\' {
						if i+1 < len(data) && data[i+1] == '\n' {
							line++
						}
						i++
						continue
					}
					if i+2 < len(data) && data[i] == c && data[i+1] == c && data[i+2] == c {
						// Up to two more quotes may end the string's content.
						i += 2
						for i+1 < len(data) && data[i+1] == c {
							i++
						}
						break
					}
				}
				continue
			}
			for i++; i < len(data) && data[i] != c && data[i] != '\n'; i++ {
				if c == '"' && data[i] == '\\' {
					i++
				}
			}
			if i < len(data) && data[i] == '\n' {
				line++
			}
		case '[', '{':
			if depth >= MaxNesting {
				return limitProblem(name, line, fmt.Sprintf("arrays and inline tables are nested deeper than the limit of %d (MaxNesting)", MaxNesting))
			}
			switch {
			case c == '{':
				inKey, parts = true, 1
			case inKey && (depth == 0 || header):
				header = true // [table] or [[array of tables]]
			default:
				inKey = false
			}
			open[depth] = c
			depth++
		case ']', '}':
			if depth > 0 {
				depth--
			}
			if depth == 0 && header {
				header = false
			}
			if !header {
				inKey = false
			}
		}
	}
	return nil
}
