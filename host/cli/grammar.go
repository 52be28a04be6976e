package cli

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/policies/cib"
)

// pcs's argument grammar: the free-form clauses of `resource create` and
// `update`, and the constraint sentences. Each reader checks what it can
// from the words alone and, for constraints, resolves the ids against the
// model the edit applies to.

// parseResourceSpec reads pcs's resource clauses. Parameters come first as
// name=value; "op" starts operations (each a name followed by interval= and
// timeout=, several in a row allowed: "op monitor interval=30s start
// timeout=60s"); "meta" starts meta attributes; "clone" makes it a clone,
// optionally followed by a clone id and clone-max=, clone-node-max=,
// globally-unique=, interleave=, notify=; "promotable" makes it a promotable clone (as pcs does), with
// the same options and promoted-max=, promoted-node-max=.
func parseResourceSpec(args []string) (cib.ResourceSpec, error) {
	spec := cib.ResourceSpec{Params: map[string]string{}, Meta: map[string]string{}}
	section := "params"
	var op *cib.Op
	flushOp := func() {
		if op != nil {
			spec.Ops = append(spec.Ops, *op)
			op = nil
		}
	}
	cloneArgs := 0
	for _, a := range args {
		switch a {
		case "op", "meta", "clone", "promotable":
			flushOp()
			section = a
			if a == "clone" || a == "promotable" {
				if spec.Clone != nil {
					return spec, fmt.Errorf("%q is given twice (clone or promotable, once)", a)
				}
				spec.Clone = &cib.Clone{}
				spec.CloneOptions = map[string]string{}
				cloneArgs = 0
				if a == "promotable" {
					spec.Clone.Promotable = true
					spec.CloneOptions["promotable"] = "true"
					section = "clone"
				}
			}
			continue
		}
		k, v, hasEq := strings.Cut(a, "=")
		switch section {
		case "params":
			if !hasEq || k == "" {
				return spec, fmt.Errorf("unexpected %q: parameters are name=value (e.g. configfile=/etc/apache2/apache2.conf); the clauses that follow them start with op, meta or clone", a)
			}
			if _, dup := spec.Params[k]; dup {
				return spec, fmt.Errorf("param %q is given twice", k)
			}
			spec.Params[k] = v
		case "op":
			if !hasEq {
				if !contains(cib.OpNames, a) {
					return spec, fmt.Errorf("malformed op clause: %q is not an operation%s (%s); write op monitor interval=30s [timeout=20s]", a, cib.DidYouMean(a, cib.OpNames), strings.Join(cib.OpNames, ", "))
				}
				flushOp()
				op = &cib.Op{Name: a}
				continue
			}
			if op == nil {
				return spec, fmt.Errorf("malformed op clause: %q comes before an operation name; write op monitor interval=30s [timeout=20s]", a)
			}
			d, err := cib.ParseDuration(v)
			switch {
			case k != "interval" && k != "timeout":
				return spec, fmt.Errorf("malformed op clause: op %s takes interval= and timeout=, not %q%s", op.Name, k, cib.DidYouMean(k, []string{"interval", "timeout"}))
			case err != nil:
				return spec, fmt.Errorf("malformed op clause: op %s %s: %w", op.Name, k, err)
			case k == "interval":
				op.Interval = d
			default:
				op.Timeout = d
			}
		case "meta":
			if !hasEq || k == "" {
				return spec, fmt.Errorf("malformed meta clause: %q is not name=value (meta takes %s)", a, strings.Join(cib.MetaKeys, ", "))
			}
			if !contains(cib.MetaKeys, k) {
				return spec, fmt.Errorf("malformed meta clause: unknown meta attribute %q%s (meta takes %s)", k, cib.DidYouMean(k, cib.MetaKeys), strings.Join(cib.MetaKeys, ", "))
			}
			if v != "" {
				if err := cib.SetMeta(&cib.Meta{}, k, v); err != nil {
					return spec, fmt.Errorf("malformed meta clause: %w", err)
				}
			}
			spec.Meta[k] = v
		case "clone":
			cloneArgs++
			if !hasEq {
				if cloneArgs != 1 {
					return spec, fmt.Errorf("malformed clone clause: %q: a clone id comes right after clone; options are name=value (%s)", a, strings.Join(cib.CloneKeys, ", "))
				}
				if !cib.ValidID(a) {
					return spec, fmt.Errorf("malformed clone clause: clone id %q is not a valid id", a)
				}
				spec.Clone.ID = a
				continue
			}
			if err := cib.SetCloneOption(spec.Clone, k, v); err != nil {
				return spec, fmt.Errorf("malformed clone clause: %w", err)
			}
			spec.CloneOptions[k] = v
		}
	}
	flushOp()
	for _, o := range spec.Ops {
		if o.Name == "monitor" && o.Interval <= 0 {
			return spec, fmt.Errorf("malformed op clause: op monitor needs interval= (e.g. op monitor interval=30s)")
		}
		if o.Name != "monitor" && o.Interval > 0 {
			return spec, fmt.Errorf("malformed op clause: op %s: only monitor takes an interval", o.Name)
		}
	}
	return spec, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseOrder reads pcs's "[action] A then [action] B [kind=K]
// [symmetrical=B] [id=ID]", resolving A and B to the ids constraints use.
func parseOrder(c *cib.CIB, args []string) (cib.Order, error) {
	o := cib.Order{Kind: cib.Mandatory}
	usage := "write: constraint order [start] A then [start] B [kind=Mandatory|Optional|Serialize] [symmetrical=true|false]"
	i := 0
	next := func() (string, bool) {
		if i >= len(args) {
			return "", false
		}
		i++
		return args[i-1], true
	}
	side := func(what string) (cib.Action, string, error) {
		tok, ok := next()
		if !ok {
			return "", "", fmt.Errorf("the %s resource is missing; %s", what, usage)
		}
		act := cib.Action("")
		if contains(cib.OrderActions, tok) && i < len(args) && args[i] != "then" {
			act = cib.Action(tok)
			tok, _ = next()
		}
		return act, tok, nil
	}
	fa, first, err := side("first")
	if err != nil {
		return o, err
	}
	if then, ok := next(); !ok || then != "then" {
		return o, fmt.Errorf("expected \"then\" after %q; %s", first, usage)
	}
	ta, then, err := side("then")
	if err != nil {
		return o, err
	}
	opts := map[string]string{}
	for _, a := range args[i:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return o, fmt.Errorf("unexpected %q; %s", a, usage)
		}
		opts[k] = v
	}
	if err := setOrderOptions(&o, opts, ""); err != nil {
		return o, err
	}
	if o.First, err = c.ConstraintRef(first); err != nil {
		return o, err
	}
	if o.Then, err = c.ConstraintRef(then); err != nil {
		return o, err
	}
	if fa == "" {
		fa = cib.ActionStart
	}
	if ta == "" {
		ta = fa
	}
	o.FirstAction, o.ThenAction = fa, ta
	if o.ID == "" {
		o.ID = cib.DefaultOrderID(o)
	}
	return o, nil
}

// setOrderOptions sets an order's kind=, symmetrical= (default: true, but
// false for Serialize) and id= from opts; where says where they were given,
// for messages.
func setOrderOptions(o *cib.Order, opts map[string]string, where string) error {
	var sym *bool
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		v := opts[k]
		switch k {
		case "kind":
			kind, err := parseKind(v)
			if err != nil {
				return err
			}
			o.Kind = kind
		case "symmetrical":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("symmetrical=%q: want true or false", v)
			}
			sym = &b
		case "id":
			o.ID = v
		default:
			return fmt.Errorf("unknown order option %q%s (kind, symmetrical, id)", k, where)
		}
	}
	o.Symmetrical = cib.DefaultSymmetrical(o.Kind)
	if sym != nil {
		o.Symmetrical = *sym
	}
	return nil
}

// parseColocation reads pcs's "[ROLE] A with [ROLE] B [score] [id=ID]"
// (ROLE: Promoted, Unpromoted or Started).
func parseColocation(c *cib.CIB, args []string) (cib.Colocation, error) {
	usage := "write: constraint colocation add [Promoted|Unpromoted] A with [Promoted|Unpromoted] B [score]"
	co := cib.Colocation{Score: cib.Infinity}
	role := func(to *string) {
		if len(args) > 2 {
			if r, err := cib.ParseConstraintRole(args[0]); err == nil && r != cib.RoleStopped {
				*to = r
				args = args[1:]
			}
		}
	}
	role(&co.RscRole)
	if len(args) > 3 && args[1] == "with" {
		rest := args[2:]
		if r, err := cib.ParseConstraintRole(rest[0]); err == nil && r != cib.RoleStopped {
			co.WithRole = r
			args = append(args[:2:2], rest[1:]...)
		}
	}
	if len(args) < 3 || args[1] != "with" {
		return cib.Colocation{}, fmt.Errorf("expected A with B; %s", usage)
	}
	if co.RscRole == cib.RoleStarted {
		co.RscRole = ""
	}
	if co.WithRole == cib.RoleStarted {
		co.WithRole = ""
	}
	var err error
	if co.Rsc, err = c.ConstraintRef(args[0]); err != nil {
		return co, err
	}
	if co.With, err = c.ConstraintRef(args[2]); err != nil {
		return co, err
	}
	for _, a := range args[3:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			switch k {
			case "id":
				co.ID = v
				continue
			case "score":
				a = v
			default:
				return co, fmt.Errorf("unknown colocation option %q (score, id); %s", k, usage)
			}
		}
		s, err := cib.ParseScore(a)
		if err != nil {
			return co, fmt.Errorf("%v; %s", err, usage)
		}
		co.Score = s
	}
	if co.ID == "" {
		co.ID = cib.DefaultColocationID(co)
	}
	return co, nil
}

// parseLocation reads pcs's "A prefers|avoids NODE[=score] ...": one
// location constraint per node (prefers: score, default INFINITY; avoids:
// minus score); or "A rule [options] EXPRESSION" (parseLocationRule). top
// names the witness, which is not a node.
func parseLocation(c *cib.CIB, top *bus.Topology, args []string) ([]cib.Location, error) {
	usage := "write: constraint location A prefers|avoids NODE[=score] ..., or constraint location A rule [score=S] EXPRESSION"
	if len(args) >= 2 && args[1] == "rule" {
		l, err := parseLocationRule(c, args[0], args[2:])
		if err != nil {
			return nil, err
		}
		return []cib.Location{l}, nil
	}
	if len(args) < 3 || (args[1] != "prefers" && args[1] != "avoids") {
		return nil, fmt.Errorf("expected A prefers NODE or A avoids NODE; %s", usage)
	}
	rsc, err := c.ConstraintRef(args[0])
	if err != nil {
		return nil, err
	}
	var out []cib.Location
	for _, a := range args[2:] {
		node, sc, hasScore := strings.Cut(a, "=")
		score := cib.Infinity
		if hasScore {
			if score, err = cib.ParseScore(sc); err != nil {
				return nil, fmt.Errorf("%s: %v", a, err)
			}
		}
		if args[1] == "avoids" {
			score = -score
		}
		if err := checkNode(c, top, node); err != nil {
			return nil, err
		}
		l := cib.Location{Rsc: rsc, Node: node, Score: score}
		l.ID = cib.DefaultLocationID(l)
		out = append(out, l)
	}
	return out, nil
}

// parseLocationRule reads what follows "constraint location RSC rule":
// options (id=, constraint-id=, score=, score-attribute=, role=), then the
// rule expression in pcs's syntax (cib.ParseRule).
func parseLocationRule(c *cib.CIB, rsc string, args []string) (cib.Location, error) {
	usage := "write: constraint location A rule [score=S | score-attribute=ATTR] [role=Started|Promoted|Unpromoted] [id=ID] EXPRESSION, e.g. #uname eq holly or rack eq r1"
	id, err := c.ConstraintRef(rsc)
	if err != nil {
		return cib.Location{}, err
	}
	l := cib.Location{Rsc: id, Score: cib.Infinity}
	i := 0
	for ; i < len(args); i++ {
		k, v, ok := strings.Cut(args[i], "=")
		if !ok {
			break
		}
		switch k {
		case "id", "constraint-id":
			l.ID = v
		case "score":
			if l.Score, err = cib.ParseScore(v); err != nil {
				return l, err
			}
		case "score-attribute":
			l.ScoreAttribute = v
		case "role":
			if l.Role, err = cib.ParseConstraintRole(v); err != nil {
				return l, err
			}
		default:
			return l, fmt.Errorf("unknown rule option %q (id, score, score-attribute, role); %s", k, usage)
		}
	}
	if i == len(args) {
		return l, fmt.Errorf("the rule's expression is missing; %s", usage)
	}
	if l.Rule, err = cib.ParseRule(strings.Join(args[i:], " ")); err != nil {
		return l, err
	}
	if l.ID == "" {
		l.ID = cib.DefaultLocationID(l)
	}
	return l, nil
}

// checkNode says why name cannot run resources: it is the witness, or no
// node of the model.
func checkNode(c *cib.CIB, top *bus.Topology, name string) error {
	if c.Node(name) == nil && top != nil && top.IsWitness(name) {
		return fmt.Errorf("%q is the witness, which runs no resources", name)
	}
	return c.CheckNode(name)
}

// parseSets reads pcs's "set A B [opt=v ...] [set C ...] [setoptions k=v
// ...]": the sets, with their options (sequential; for orders also
// require-all and action), and the constraint's options, resolving every
// resource to the id constraints use.
func parseSets(c *cib.CIB, args []string, forOrder bool, usage string) ([]cib.ResourceSet, map[string]string, error) {
	var sets []cib.ResourceSet
	opts := map[string]string{}
	inOptions := false
	for _, a := range args {
		switch {
		case a == "set":
			if inOptions {
				return nil, nil, fmt.Errorf("\"set\" after setoptions; the constraint's options come last; %s", usage)
			}
			sets = append(sets, cib.ResourceSet{})
			continue
		case a == "setoptions":
			if inOptions {
				return nil, nil, fmt.Errorf("setoptions is given twice; %s", usage)
			}
			inOptions = true
			continue
		case len(sets) == 0 && !inOptions:
			return nil, nil, fmt.Errorf("expected \"set\" before %q; %s", a, usage)
		}
		k, v, isOpt := strings.Cut(a, "=")
		switch {
		case inOptions:
			if !isOpt {
				return nil, nil, fmt.Errorf("setoptions takes name=value, not %q; %s", a, usage)
			}
			opts[k] = v
		case isOpt:
			set := &sets[len(sets)-1]
			if err := set.SetOption(k, v, forOrder); err != nil {
				return nil, nil, err
			}
		default:
			set := &sets[len(sets)-1]
			if set.Sequential != nil || set.RequireAll != nil || set.Action != "" || set.Role != "" {
				return nil, nil, fmt.Errorf("resource %q after the set's options; the options of a set follow its resources; %s", a, usage)
			}
			id, err := c.ConstraintRef(a)
			if err != nil {
				return nil, nil, err
			}
			set.Resources = append(set.Resources, id)
		}
	}
	for i, set := range sets {
		if len(set.Resources) == 0 {
			return nil, nil, fmt.Errorf("set %d has no resources; %s", i+1, usage)
		}
	}
	if len(sets) == 0 {
		return nil, nil, fmt.Errorf("no set given; %s", usage)
	}
	return sets, opts, nil
}

// parseOrderSet reads pcs's "constraint order set A B [options] [set C
// ...] [setoptions kind=K symmetrical=B id=ID]".
func parseOrderSet(c *cib.CIB, args []string) (cib.Order, error) {
	usage := "write: constraint order set A B [sequential=false] [require-all=false] [action=start] [set C ...] [setoptions kind=Mandatory|Optional|Serialize symmetrical=true|false id=ID]"
	o := cib.Order{Kind: cib.Mandatory}
	sets, opts, err := parseSets(c, args, true, usage)
	if err != nil {
		return o, err
	}
	o.Sets = sets
	if err := setOrderOptions(&o, opts, " in setoptions"); err != nil {
		return o, err
	}
	if o.ID == "" {
		o.ID = cib.DefaultOrderSetID(o.Sets)
	}
	return o, nil
}

// parseColocationSet reads pcs's "constraint colocation set A B
// [sequential=false] [set C ...] [setoptions score=S id=ID]".
func parseColocationSet(c *cib.CIB, args []string) (cib.Colocation, error) {
	usage := "write: constraint colocation set A B [sequential=false] [role=Promoted|Unpromoted] [set C ...] [setoptions score=INFINITY id=ID]"
	co := cib.Colocation{Score: cib.Infinity}
	sets, opts, err := parseSets(c, args, false, usage)
	if err != nil {
		return co, err
	}
	co.Sets = sets
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		v := opts[k]
		switch k {
		case "score":
			if co.Score, err = cib.ParseScore(v); err != nil {
				return co, err
			}
		case "id":
			co.ID = v
		default:
			return co, fmt.Errorf("unknown colocation option %q in setoptions (score, id)", k)
		}
	}
	if co.ID == "" {
		co.ID = cib.DefaultColocationSetID(co.Sets)
	}
	return co, nil
}

// parseTicketSet reads pcs's "constraint ticket set A B [role=ROLE] [set C
// ...] setoptions ticket=T [loss-policy=P] [id=ID]".
func parseTicketSet(c *cib.CIB, args []string) (cib.Ticket, error) {
	usage := "write: constraint ticket set A B [role=Promoted] [set C ...] setoptions ticket=TICKET [loss-policy=stop|demote|freeze] [id=ID]"
	var t cib.Ticket
	sets, opts, err := parseSets(c, args, false, usage)
	if err != nil {
		return t, err
	}
	for i, set := range sets {
		if set.Sequential != nil {
			return t, fmt.Errorf("set %d: a ticket constraint's set takes only role=; %s", i+1, usage)
		}
	}
	t.Sets = sets
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		v := opts[k]
		switch k {
		case "ticket":
			t.Ticket = v
		case "loss-policy":
			if t.LossPolicy, err = cib.ParseLossPolicy(v); err != nil {
				return t, err
			}
		case "id":
			t.ID = v
		default:
			return t, fmt.Errorf("unknown ticket option %q in setoptions (ticket, loss-policy, id)", k)
		}
	}
	if t.Ticket == "" {
		return t, fmt.Errorf("setoptions has no ticket=TICKET; %s", usage)
	}
	if p := cib.TicketNameProblem(t.Ticket); p != "" {
		return t, fmt.Errorf("%s", p)
	}
	return t, nil
}

func parseKind(v string) (cib.OrderKind, error) {
	switch strings.ToLower(v) {
	case "mandatory":
		return cib.Mandatory, nil
	case "optional":
		return cib.Optional, nil
	case "serialize":
		return cib.Serialize, nil
	}
	return "", fmt.Errorf("kind=%q: want Mandatory, Optional or Serialize", v)
}
