package cib

import (
	"fmt"
	"slices"
	"strings"
)

// Rule is a location rule (Pacemaker's <rule> in an rsc_location): the
// location scores the nodes where the rule holds. A rule holds when all
// (BooleanOp "and", the default) or any ("or") of its expressions and
// nested rules hold on the node's attributes.
type Rule struct {
	BooleanOp   string       `json:"boolean-op,omitempty"` // "and" ("") or "or"
	Expressions []Expression `json:"expressions,omitempty"`
	Rules       []Rule       `json:"rules,omitempty"` // parenthesized sub-expressions
}

// Expression tests one node attribute: #uname (the node's name), #id (its
// name too: Tandem nodes have no numeric id), #kind ("cluster"), or one set
// with `tandem node attribute`.
type Expression struct {
	Attribute string `json:"attribute"`
	Operation string `json:"operation"`       // lt, gt, lte, gte, eq, ne, defined, not_defined
	Value     string `json:"value,omitempty"` // not for defined/not_defined
	// Type says how to compare: string, integer, number or version. ""
	// is Pacemaker's default: string for eq and ne; for the others
	// number if either value has a '.', else integer.
	Type string `json:"type,omitempty"`
}

// Rule operations and types.
var (
	RuleComparisons = []string{"lt", "gt", "lte", "gte", "eq", "ne"}
	RuleUnary       = []string{"defined", "not_defined"}
	RuleTypes       = []string{"string", "integer", "number", "version"}
)

// Built-in node attributes rules may test.
const (
	AttrUname = "#uname"
	AttrID    = "#id"
	AttrKind  = "#kind"
)

// ParseRule reads a rule in pcs's syntax: expressions "ATTR OP [TYPE]
// VALUE" and "defined|not_defined ATTR", joined by "and" or "or", grouped
// with parentheses: `#uname eq holly or ( ssd eq true and rack ne r2 )`.
// Mixing "and" and "or" at one level needs parentheses (pcs's precedence
// is easy to misread). Dates are not supported.
func ParseRule(text string) (*Rule, error) {
	p := &ruleParser{toks: ruleTokens(text)}
	if len(p.toks) == 0 {
		return nil, fmt.Errorf("empty rule: write e.g. #uname eq holly, or defined ssd")
	}
	r, err := p.rule()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("rule %q: unexpected %q", text, p.toks[p.pos])
	}
	return r, nil
}

// ruleTokens splits on spaces, with parentheses as tokens of their own.
func ruleTokens(text string) []string {
	text = strings.NewReplacer("(", " ( ", ")", " ) ").Replace(text)
	return strings.Fields(text)
}

type ruleParser struct {
	toks []string
	pos  int
}

func (p *ruleParser) next() (string, bool) {
	if p.pos >= len(p.toks) {
		return "", false
	}
	p.pos++
	return p.toks[p.pos-1], true
}

func (p *ruleParser) peek() string {
	if p.pos >= len(p.toks) {
		return ""
	}
	return p.toks[p.pos]
}

// rule reads terms joined by one boolean operator, up to ")" or the end.
func (p *ruleParser) rule() (*Rule, error) {
	r := &Rule{}
	for {
		if err := p.term(r); err != nil {
			return nil, err
		}
		op := strings.ToLower(p.peek())
		if op != "and" && op != "or" {
			return r, nil
		}
		p.pos++
		if len(r.Expressions)+len(r.Rules) > 1 && (op == "or") != (r.BooleanOp == "or") {
			return nil, fmt.Errorf("rule mixes and and or: group with parentheses, e.g. ( a eq 1 and b eq 2 ) or c eq 3")
		}
		if op == "or" {
			r.BooleanOp = "or" // "and" is the default and stays implicit
		}
	}
}

// term reads one expression or a parenthesized rule into r.
func (p *ruleParser) term(r *Rule) error {
	tok, ok := p.next()
	if !ok {
		return fmt.Errorf("rule ends where an expression should be")
	}
	switch low := strings.ToLower(tok); {
	case tok == "(":
		sub, err := p.rule()
		if err != nil {
			return err
		}
		if p.peek() != ")" {
			return fmt.Errorf("rule: missing )")
		}
		p.pos++
		r.Rules = append(r.Rules, *sub)
		return nil
	case tok == ")":
		return fmt.Errorf("rule: ) without (")
	case slices.Contains(RuleUnary, low):
		attr, ok := p.next()
		if !ok || attr == "(" || attr == ")" {
			return fmt.Errorf("rule: %s needs a node attribute (e.g. %s ssd)", low, low)
		}
		r.Expressions = append(r.Expressions, Expression{Attribute: attr, Operation: low})
		return nil
	case low == "date" || low == "date-spec":
		return fmt.Errorf("rule: date expressions are not supported; location rules test node attributes")
	}
	op, ok := p.next()
	low := strings.ToLower(op)
	if !ok || !slices.Contains(RuleComparisons, low) {
		return fmt.Errorf("rule: expected a comparison (%s) after %q, got %q", strings.Join(RuleComparisons, ", "), tok, op)
	}
	e := Expression{Attribute: tok, Operation: low}
	val, ok := p.next()
	if !ok {
		return fmt.Errorf("rule: %s %s needs a value", tok, low)
	}
	if t := strings.ToLower(val); slices.Contains(RuleTypes, t) {
		// "ATTR OP TYPE VALUE", unless the type word is the value itself
		// (rack eq string): a type is followed by a value.
		if nxt := p.peek(); nxt != "" && nxt != ")" && !isBool(nxt) {
			e.Type = t
			val, _ = p.next()
		}
	}
	e.Value = val
	r.Expressions = append(r.Expressions, e)
	return nil
}

func isBool(tok string) bool {
	low := strings.ToLower(tok)
	return low == "and" || low == "or"
}

// String writes the rule in pcs's syntax; ParseRule reads it back.
func (r *Rule) String() string {
	var parts []string
	for _, e := range r.Expressions {
		parts = append(parts, e.String())
	}
	for i := range r.Rules {
		parts = append(parts, "( "+r.Rules[i].String()+" )")
	}
	op := " and "
	if r.BooleanOp == "or" {
		op = " or "
	}
	return strings.Join(parts, op)
}

// String writes the expression in pcs's syntax.
func (e Expression) String() string {
	if slices.Contains(RuleUnary, e.Operation) {
		return e.Operation + " " + e.Attribute
	}
	if e.Type != "" {
		return e.Attribute + " " + e.Operation + " " + e.Type + " " + e.Value
	}
	return e.Attribute + " " + e.Operation + " " + e.Value
}

// problems lists what is wrong with the rule, for Validate.
func (r *Rule) problems() []string {
	var out []string
	switch r.BooleanOp {
	case "", "and", "or":
	default:
		out = append(out, fmt.Sprintf("boolean-op %q is not and or or", r.BooleanOp))
	}
	if len(r.Expressions)+len(r.Rules) == 0 {
		out = append(out, "a rule needs at least one expression")
	}
	for _, e := range r.Expressions {
		switch {
		case e.Attribute == "":
			out = append(out, "an expression without an attribute")
		case slices.Contains(RuleUnary, e.Operation):
			if e.Value != "" || e.Type != "" {
				out = append(out, fmt.Sprintf("%s takes no value", e.Operation))
			}
		case !slices.Contains(RuleComparisons, e.Operation):
			out = append(out, fmt.Sprintf("operation %q is not one of %s", e.Operation, strings.Join(append(slices.Clone(RuleComparisons), RuleUnary...), ", ")))
		case e.Type != "" && !slices.Contains(RuleTypes, e.Type):
			out = append(out, fmt.Sprintf("type %q is not one of %s", e.Type, strings.Join(RuleTypes, ", ")))
		}
	}
	for i := range r.Rules {
		out = append(out, r.Rules[i].problems()...)
	}
	return out
}

// Node attributes set by users may not use the built-in names.
func validAttributeName(name string) bool {
	return name != "" && !strings.HasPrefix(name, "#") && !strings.ContainsAny(name, " =()")
}
