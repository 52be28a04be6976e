package cibimport

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The limits of the XML reader. A CIB's configuration is a few hundred
// KiB at most; its status section (the operation history) can run to a
// few MiB on a large cluster.
const (
	MaxSize      = 32 << 20 // bytes of XML
	MaxDepth     = 64       // element nesting (a CIB needs about 12)
	MaxAttrBytes = 64 << 10 // one attribute value
	MaxElements  = 1 << 20
)

// ErrInput is what every refusal of the input matches: not well-formed,
// over a limit, a DOCTYPE, not a CIB, a schema this importer does not read.
var ErrInput = errors.New("unusable CIB")

// elem is one element of the document, with the line it starts on.
type elem struct {
	name  string
	attrs []xml.Attr
	kids  []*elem
	line  int
}

// attr is the value of attribute k, "" when absent.
func (e *elem) attr(k string) string {
	for _, a := range e.attrs {
		if a.Name.Local == k {
			return a.Value
		}
	}
	return ""
}

func (e *elem) has(k string) bool {
	for _, a := range e.attrs {
		if a.Name.Local == k {
			return true
		}
	}
	return false
}

// child is the first child element called name, or nil.
func (e *elem) child(name string) *elem {
	for _, k := range e.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

// children are the child elements called name.
func (e *elem) children(name string) []*elem {
	var out []*elem
	for _, k := range e.kids {
		if k.name == name {
			out = append(out, k)
		}
	}
	return out
}

// label names the element as an admin finds it in the XML:
// `primitive "fence1" (line 12)`.
func (e *elem) label() string {
	if id := e.attr("id"); id != "" {
		return fmt.Sprintf("%s %q (line %d)", e.name, id, e.line)
	}
	return fmt.Sprintf("%s (line %d)", e.name, e.line)
}

// inputError is a refusal of the document: it names the source and matches
// ErrInput.
func inputError(name string, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", name, ErrInput, fmt.Sprintf(format, args...))
}

// countingReader counts what the decoder read, to refuse a document over
// MaxSize without reading past it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// parseTree reads a whole document into a tree, within the limits. A
// DOCTYPE (which could declare entities) is refused; so is any entity
// other than XML's five (Strict mode). The status section is read (it must
// be well formed) but not kept: nothing of it is imported.
func parseTree(name string, r io.Reader) (*elem, error) {
	cr := &countingReader{r: io.LimitReader(r, MaxSize+1)}
	d := xml.NewDecoder(cr)
	d.Strict = true
	var stack []*elem
	var root *elem
	elements, skipDepth := 0, 0
	for {
		line, _ := d.InputPos()
		tok, err := d.Token()
		if cr.n > MaxSize {
			return nil, inputError(name, "more than %d MiB of XML; a CIB is far smaller (is this the right file?)", MaxSize>>20)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, inputError(name, "not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			what := strings.Fields(string(t))
			kind := "a declaration"
			if len(what) > 0 {
				kind = "<!" + what[0]
			}
			return nil, inputError(name, "line %d: %s ...> refused: a CIB has no DOCTYPE, and its entities could expand without bound", line, kind)
		case xml.ProcInst:
			if t.Target != "xml" {
				return nil, inputError(name, "line %d: processing instruction <?%s ...?> refused: a CIB has none", line, t.Target)
			}
		case xml.StartElement:
			elements++
			if elements > MaxElements {
				return nil, inputError(name, "line %d: more than %d elements", line, MaxElements)
			}
			if len(stack) >= MaxDepth {
				return nil, inputError(name, "line %d: <%s> is nested more than %d elements deep; a CIB needs far fewer", line, t.Name.Local, MaxDepth)
			}
			e := &elem{name: t.Name.Local, attrs: t.Attr, line: line}
			for _, a := range t.Attr {
				if len(a.Value) > MaxAttrBytes {
					return nil, inputError(name, "line %d: attribute %s of %s is %d bytes: more than %d KiB", line, a.Name.Local, e.label(), len(a.Value), MaxAttrBytes>>10)
				}
			}
			switch {
			case len(stack) == 0 && root != nil:
				return nil, inputError(name, "line %d: a second root element <%s>", line, e.name)
			case len(stack) == 0:
				root = e
			case skipDepth > 0 || (len(stack) == 1 && e.name == "status"):
				skipDepth++
			default:
				p := stack[len(stack)-1]
				p.kids = append(p.kids, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if skipDepth > 0 {
				skipDepth--
			}
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimSpace(t)) > 0 {
				return nil, inputError(name, "line %d: text outside the root element", line)
			}
		}
	}
	if root == nil {
		return nil, inputError(name, "no XML element: the file is empty (pcs cluster cib FILE, or cibadmin --query > FILE, writes a CIB)")
	}
	return root, nil
}
