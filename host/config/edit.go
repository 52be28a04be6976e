package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Edits of a configuration, as the pcs-shaped commands make them: pure
// functions on a Config, so the CLI only reads arguments, applies an edit
// inside a live-configuration compare-and-swap and prints the outcome.
// Every edit either changes what it says or returns an error naming what is
// wrong and changes nothing; Validate then checks the whole result (ordering
// cycles, references).

// ResourceSpec is what `resource create` and `resource update` say about a
// resource beyond its id and agent: pcs's "param=value ... op NAME k=v ...
// meta k=v ... clone [k=v ...]" clauses.
type ResourceSpec struct {
	Params map[string]string // value "" removes the param (update)
	Ops    []Op
	Meta   map[string]string // value "" unsets the attribute (update)
	Clone  *Clone            // "clone" was given (ID "" for the default)
	// CloneOptions are the clone's k=v options as given.
	CloneOptions map[string]string
}

// MetaKeys are the meta attributes a resource (or [defaults]) takes.
var MetaKeys = []string{"resource-stickiness", "migration-threshold", "failure-timeout", "target-role", "priority"}

// CloneKeys are the options of a clone.
var CloneKeys = []string{"clone-max", "clone-node-max", "interleave"}

// OpNames lists the operations a resource may configure.
var OpNames = []string{"start", "stop", "monitor", "reload", "promote", "demote"}

// ParseResourceSpec reads pcs's resource clauses. Parameters come first as
// name=value; "op" starts operations (each a name followed by interval= and
// timeout=, several in a row allowed: "op monitor interval=30s start
// timeout=60s"); "meta" starts meta attributes; "clone" makes it a clone,
// optionally followed by a clone id and clone-max=, clone-node-max=,
// interleave=.
func ParseResourceSpec(args []string) (ResourceSpec, error) {
	spec := ResourceSpec{Params: map[string]string{}, Meta: map[string]string{}}
	section := "params"
	var op *Op
	flushOp := func() {
		if op != nil {
			spec.Ops = append(spec.Ops, *op)
			op = nil
		}
	}
	cloneArgs := 0
	for _, a := range args {
		switch a {
		case "op", "meta", "clone":
			flushOp()
			section = a
			if a == "clone" {
				if spec.Clone != nil {
					return spec, fmt.Errorf("\"clone\" is given twice")
				}
				spec.Clone = &Clone{}
				spec.CloneOptions = map[string]string{}
				cloneArgs = 0
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
				if !contains(OpNames, a) {
					return spec, fmt.Errorf("malformed op clause: %q is not an operation (%s); write op monitor interval=30s [timeout=20s]", a, strings.Join(OpNames, ", "))
				}
				flushOp()
				op = &Op{Name: a}
				continue
			}
			if op == nil {
				return spec, fmt.Errorf("malformed op clause: %q comes before an operation name; write op monitor interval=30s [timeout=20s]", a)
			}
			d, err := ParseDuration(v)
			switch {
			case k != "interval" && k != "timeout":
				return spec, fmt.Errorf("malformed op clause: op %s takes interval= and timeout=, not %q", op.Name, k)
			case err != nil:
				return spec, fmt.Errorf("malformed op clause: op %s %s: %w", op.Name, k, err)
			case k == "interval":
				op.Interval = d
			default:
				op.Timeout = d
			}
		case "meta":
			if !hasEq || k == "" {
				return spec, fmt.Errorf("malformed meta clause: %q is not name=value (meta takes %s)", a, strings.Join(MetaKeys, ", "))
			}
			if !contains(MetaKeys, k) {
				return spec, fmt.Errorf("malformed meta clause: unknown meta attribute %q%s (meta takes %s)", k, hint(k, MetaKeys), strings.Join(MetaKeys, ", "))
			}
			var m Meta
			if v != "" {
				if err := SetMeta(&m, k, v); err != nil {
					return spec, fmt.Errorf("malformed meta clause: %w", err)
				}
			}
			spec.Meta[k] = v
		case "clone":
			cloneArgs++
			if !hasEq {
				if cloneArgs != 1 {
					return spec, fmt.Errorf("malformed clone clause: %q: a clone id comes right after clone; options are name=value (%s)", a, strings.Join(CloneKeys, ", "))
				}
				if !ValidID(a) {
					return spec, fmt.Errorf("malformed clone clause: clone id %q is not a valid id", a)
				}
				spec.Clone.ID = a
				continue
			}
			if err := setCloneOption(spec.Clone, k, v); err != nil {
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

// hint suggests the closest of known to s, if one is close.
func hint(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(s), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func setCloneOption(c *Clone, k, v string) error {
	switch k {
	case "clone-max", "clone-node-max":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s=%q: want a number >= 0", k, v)
		}
		if k == "clone-max" {
			c.Max = n
		} else {
			c.NodeMax = n
		}
	case "interleave":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("interleave=%q: want true or false", v)
		}
		c.Interleave = b
	default:
		return fmt.Errorf("unknown clone option %q%s (clone takes %s)", k, hint(k, CloneKeys), strings.Join(CloneKeys, ", "))
	}
	return nil
}

// SetMeta sets meta attribute key of m from its text; value "" unsets it.
func SetMeta(m *Meta, key, value string) error {
	if value == "" {
		switch key {
		case "resource-stickiness":
			m.Stickiness = nil
		case "migration-threshold":
			m.MigrationThreshold = nil
		case "failure-timeout":
			m.FailureTimeout = nil
		case "target-role":
			m.TargetRole = ""
		case "priority":
			m.Priority = nil
		default:
			return fmt.Errorf("unknown meta attribute %q%s", key, hint(key, MetaKeys))
		}
		return nil
	}
	score := func() (*int, error) {
		s, err := ParseScore(value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		n := int(s)
		return &n, nil
	}
	var err error
	switch key {
	case "resource-stickiness":
		m.Stickiness, err = score()
	case "migration-threshold":
		m.MigrationThreshold, err = score()
	case "priority":
		m.Priority, err = score()
	case "failure-timeout":
		d, derr := ParseDuration(value)
		if derr != nil {
			return fmt.Errorf("failure-timeout: %w", derr)
		}
		m.FailureTimeout = &d
	case "target-role":
		switch strings.ToLower(value) {
		case "started":
			m.TargetRole = RoleStarted
		case "stopped":
			m.TargetRole = RoleStopped
		default:
			return fmt.Errorf("target-role %q: must be Started or Stopped", value)
		}
	default:
		return fmt.Errorf("unknown meta attribute %q%s", key, hint(key, MetaKeys))
	}
	return err
}

// UnknownResource is the error for an id that names no resource or clone.
func (c *Config) UnknownResource(id string) error {
	ids := c.ResourceIDs()
	for _, r := range c.Resources {
		if r.Clone != nil {
			ids = append(ids, r.ID)
		}
	}
	sort.Strings(ids)
	known := strings.Join(ids, ", ")
	if known == "" {
		known = "none"
	}
	return fmt.Errorf("no resource or clone %q (defined: %s)", id, known)
}

// MustResource returns the resource whose primitive or clone id is id.
func (c *Config) MustResource(id string) (*Resource, error) {
	r, _ := c.Resource(id)
	if r == nil {
		return nil, c.UnknownResource(id)
	}
	return r, nil
}

// ConstraintName is the id constraints use for r: its clone id when cloned.
func ConstraintName(r *Resource) string {
	if r.Clone != nil {
		return r.Clone.ID
	}
	return r.ID
}

// idInUse says what already uses id, or "".
func (c *Config) idInUse(id string) string {
	if r, isClone := c.Resource(id); r != nil {
		if isClone {
			return fmt.Sprintf("the clone of resource %q", r.ID)
		}
		return "a resource"
	}
	for _, o := range c.Orders {
		if o.ID == id {
			return "an order constraint"
		}
	}
	for _, co := range c.Colocations {
		if co.ID == id {
			return "a colocation constraint"
		}
	}
	for _, l := range c.Locations {
		if l.ID == id {
			return "a location constraint"
		}
	}
	return ""
}

// AddResource adds a new resource with id and agent, configured by spec.
func (c *Config) AddResource(id, agent string, spec ResourceSpec) (*Resource, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("resource id %q: an id starts with a letter, digit or '_' and holds letters, digits, '_', '.', ':' and '-'", id)
	}
	if what := c.idInUse(id); what != "" {
		return nil, fmt.Errorf("id %q is already used by %s", id, what)
	}
	if !agentRE.MatchString(agent) {
		return nil, fmt.Errorf("agent %q is not PLUGIN or PLUGIN:TYPE (e.g. vip, systemd:apache2, health:http)", agent)
	}
	r := Resource{ID: id, Agent: agent, Ops: spec.Ops}
	for k, v := range spec.Params {
		if v == "" {
			continue
		}
		if r.Params == nil {
			r.Params = map[string]string{}
		}
		r.Params[k] = v
	}
	for _, k := range sortedKeys(spec.Meta) {
		if err := SetMeta(&r.Meta, k, spec.Meta[k]); err != nil {
			return nil, err
		}
	}
	if spec.Clone != nil {
		cl := *spec.Clone
		if cl.ID == "" {
			cl.ID = id + CloneSuffix
		}
		if what := c.idInUse(cl.ID); what != "" {
			return nil, fmt.Errorf("clone id %q is already used by %s", cl.ID, what)
		}
		r.Clone = &cl
	}
	c.Resources = append(c.Resources, r)
	return &c.Resources[len(c.Resources)-1], nil
}

// UpdateResource merges spec into resource id: params and meta attributes
// are set (an empty value removes them), each op replaces the op of the same
// name (a monitor: the monitor with the same interval, or the only one),
// clone options are set on its clone.
func (c *Config) UpdateResource(id string, spec ResourceSpec) error {
	r, err := c.MustResource(id)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(spec.Params) {
		v := spec.Params[k]
		if v == "" {
			delete(r.Params, k)
			continue
		}
		if r.Params == nil {
			r.Params = map[string]string{}
		}
		r.Params[k] = v
	}
	if len(r.Params) == 0 {
		r.Params = nil
	}
	for _, k := range sortedKeys(spec.Meta) {
		if err := SetMeta(&r.Meta, k, spec.Meta[k]); err != nil {
			return err
		}
	}
	for _, o := range spec.Ops {
		replaced := false
		for i := range r.Ops {
			if r.Ops[i].Name == o.Name {
				r.Ops[i] = o
				replaced = true
				break
			}
		}
		if !replaced {
			r.Ops = append(r.Ops, o)
		}
	}
	if spec.Clone != nil {
		if r.Clone == nil {
			return fmt.Errorf("resource %q is not cloned; clone options do not apply (delete and create it with clone)", r.ID)
		}
		for _, k := range sortedKeys(spec.CloneOptions) {
			if err := setCloneOption(r.Clone, k, spec.CloneOptions[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// DeleteResource removes resource id (primitive or clone id) and every
// constraint that names it; it returns the ids of those constraints.
func (c *Config) DeleteResource(id string) (removed []string, err error) {
	r, err := c.MustResource(id)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{r.ID: true}
	if r.Clone != nil {
		names[r.Clone.ID] = true
	}
	primitive := r.ID
	var orders []Order
	for _, o := range c.Orders {
		if names[o.First] || names[o.Then] {
			removed = append(removed, o.ID)
			continue
		}
		orders = append(orders, o)
	}
	var cols []Colocation
	for _, co := range c.Colocations {
		if names[co.Rsc] || names[co.With] {
			removed = append(removed, co.ID)
			continue
		}
		cols = append(cols, co)
	}
	var locs []Location
	for _, l := range c.Locations {
		if names[l.Rsc] {
			removed = append(removed, l.ID)
			continue
		}
		locs = append(locs, l)
	}
	c.Orders, c.Colocations, c.Locations = orders, cols, locs
	var rs []Resource
	for _, x := range c.Resources {
		if x.ID != primitive {
			rs = append(rs, x)
		}
	}
	c.Resources = rs
	return removed, nil
}

// SetTargetRole sets resource id's target-role ("" removes it, so the
// resource is Started by default).
func (c *Config) SetTargetRole(id, role string) error {
	r, err := c.MustResource(id)
	if err != nil {
		return err
	}
	return SetMeta(&r.Meta, "target-role", role)
}

var orderActions = []string{string(ActionStart), string(ActionStop), string(ActionPromote), string(ActionDemote)}

// ParseOrder reads pcs's "[action] A then [action] B [kind=K]
// [symmetrical=B] [id=ID]", resolving A and B to the ids constraints use.
func (c *Config) ParseOrder(args []string) (Order, error) {
	o := Order{Kind: Mandatory}
	usage := "write: constraint order [start] A then [start] B [kind=Mandatory|Optional|Serialize] [symmetrical=true|false]"
	i := 0
	next := func() (string, bool) {
		if i >= len(args) {
			return "", false
		}
		i++
		return args[i-1], true
	}
	side := func(what string) (Action, string, error) {
		tok, ok := next()
		if !ok {
			return "", "", fmt.Errorf("the %s resource is missing; %s", what, usage)
		}
		act := Action("")
		if contains(orderActions, tok) && i < len(args) && args[i] != "then" {
			act = Action(tok)
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
	var sym *bool
	for _, a := range args[i:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return o, fmt.Errorf("unexpected %q; %s", a, usage)
		}
		switch k {
		case "kind":
			switch strings.ToLower(v) {
			case "mandatory":
				o.Kind = Mandatory
			case "optional":
				o.Kind = Optional
			case "serialize":
				o.Kind = Serialize
			default:
				return o, fmt.Errorf("kind=%q: want Mandatory, Optional or Serialize", v)
			}
		case "symmetrical":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, fmt.Errorf("symmetrical=%q: want true or false", v)
			}
			sym = &b
		case "id":
			o.ID = v
		default:
			return o, fmt.Errorf("unknown order option %q (kind, symmetrical, id)", k)
		}
	}
	if o.First, err = c.constraintRef(first); err != nil {
		return o, err
	}
	if o.Then, err = c.constraintRef(then); err != nil {
		return o, err
	}
	if fa == "" {
		fa = ActionStart
	}
	if ta == "" {
		ta = fa
	}
	o.FirstAction, o.ThenAction = fa, ta
	o.Symmetrical = o.Kind != Serialize
	if sym != nil {
		o.Symmetrical = *sym
	}
	if o.ID == "" {
		o.ID = DefaultOrderID(o)
	}
	return o, nil
}

// constraintRef checks that id names a resource constraints may name: an
// uncloned primitive or a clone id.
func (c *Config) constraintRef(id string) (string, error) {
	r, isClone := c.Resource(id)
	if r == nil {
		return "", c.UnknownResource(id)
	}
	if r.Clone != nil && !isClone {
		return "", fmt.Errorf("%q is cloned; constraints name the clone: use %q", id, r.Clone.ID)
	}
	return id, nil
}

// ParseColocation reads pcs's "A with B [score] [id=ID]".
func (c *Config) ParseColocation(args []string) (Colocation, error) {
	usage := "write: constraint colocation add A with B [score]"
	if len(args) < 3 || args[1] != "with" {
		return Colocation{}, fmt.Errorf("expected A with B; %s", usage)
	}
	co := Colocation{Score: Infinity}
	var err error
	if co.Rsc, err = c.constraintRef(args[0]); err != nil {
		return co, err
	}
	if co.With, err = c.constraintRef(args[2]); err != nil {
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
		s, err := ParseScore(a)
		if err != nil {
			return co, fmt.Errorf("%v; %s", err, usage)
		}
		co.Score = s
	}
	if co.ID == "" {
		co.ID = DefaultColocationID(co)
	}
	return co, nil
}

// ParseLocation reads pcs's "A prefers|avoids NODE[=score] ...": one
// location constraint per node (prefers: score, default INFINITY; avoids:
// minus score).
func (c *Config) ParseLocation(args []string) ([]Location, error) {
	usage := "write: constraint location A prefers|avoids NODE[=score] ..."
	if len(args) < 3 || (args[1] != "prefers" && args[1] != "avoids") {
		return nil, fmt.Errorf("expected A prefers NODE or A avoids NODE; %s", usage)
	}
	rsc, err := c.constraintRef(args[0])
	if err != nil {
		return nil, err
	}
	var out []Location
	for _, a := range args[2:] {
		node, sc, hasScore := strings.Cut(a, "=")
		score := Infinity
		if hasScore {
			if score, err = ParseScore(sc); err != nil {
				return nil, fmt.Errorf("%s: %v", a, err)
			}
		}
		if args[1] == "avoids" {
			score = -score
		}
		if err := c.checkNode(node); err != nil {
			return nil, err
		}
		l := Location{Rsc: rsc, Node: node, Score: score}
		l.ID = DefaultLocationID(l)
		out = append(out, l)
	}
	return out, nil
}

func (c *Config) checkNode(name string) error {
	if c.Node(name) != nil {
		return nil
	}
	if c.Witness != nil && c.Witness.Name == name {
		return fmt.Errorf("%q is the witness, which runs no resources", name)
	}
	var names []string
	for _, n := range c.Nodes {
		names = append(names, n.Name)
	}
	return fmt.Errorf("no node %q (nodes: %s)", name, strings.Join(names, ", "))
}

// AddOrder adds o; an order with the same id is refused.
func (c *Config) AddOrder(o Order) error {
	if what := c.idInUse(o.ID); what != "" {
		return fmt.Errorf("constraint id %q is already used by %s", o.ID, what)
	}
	c.Orders = append(c.Orders, o)
	return nil
}

// AddColocation adds co; a colocation with the same id is refused.
func (c *Config) AddColocation(co Colocation) error {
	if what := c.idInUse(co.ID); what != "" {
		return fmt.Errorf("constraint id %q is already used by %s", co.ID, what)
	}
	c.Colocations = append(c.Colocations, co)
	return nil
}

// SetLocation adds l, or replaces the location constraint of l.Rsc on
// l.Node (so "prefers" after "avoids" changes the score, as in pcs).
func (c *Config) SetLocation(l Location) error {
	for i, x := range c.Locations {
		if x.Rsc == l.Rsc && x.Node == l.Node {
			c.Locations[i] = l
			return nil
		}
	}
	if what := c.idInUse(l.ID); what != "" {
		return fmt.Errorf("constraint id %q is already used by %s", l.ID, what)
	}
	c.Locations = append(c.Locations, l)
	return nil
}

// ConstraintIDs lists every constraint id, sorted.
func (c *Config) ConstraintIDs() []string {
	var ids []string
	for _, o := range c.Orders {
		ids = append(ids, o.ID)
	}
	for _, co := range c.Colocations {
		ids = append(ids, co.ID)
	}
	for _, l := range c.Locations {
		ids = append(ids, l.ID)
	}
	sort.Strings(ids)
	return ids
}

// RemoveConstraint removes the constraint called id.
func (c *Config) RemoveConstraint(id string) error {
	for i, o := range c.Orders {
		if o.ID == id {
			c.Orders = append(c.Orders[:i:i], c.Orders[i+1:]...)
			return nil
		}
	}
	for i, co := range c.Colocations {
		if co.ID == id {
			c.Colocations = append(c.Colocations[:i:i], c.Colocations[i+1:]...)
			return nil
		}
	}
	for i, l := range c.Locations {
		if l.ID == id {
			c.Locations = append(c.Locations[:i:i], c.Locations[i+1:]...)
			return nil
		}
	}
	known := strings.Join(c.ConstraintIDs(), ", ")
	if known == "" {
		known = "none"
	}
	return fmt.Errorf("no constraint %q (constraints: %s; `tandem constraint --full` shows ids)", id, known)
}

// MoveConstraintID is the location constraint `resource move` adds, named as
// pcs names it.
func MoveConstraintID(rsc string) string { return "cli-prefer-" + rsc }

// BanConstraintID is the location constraint `resource ban` adds.
func BanConstraintID(rsc, node string) string { return "cli-ban-" + rsc + "-on-" + node }

// Move makes resource id prefer node (INFINITY), replacing an earlier move.
func (c *Config) Move(id, node string) (Location, error) {
	r, err := c.MustResource(id)
	if err != nil {
		return Location{}, err
	}
	if err := c.checkNode(node); err != nil {
		return Location{}, err
	}
	name := ConstraintName(r)
	if r.Clone != nil {
		return Location{}, fmt.Errorf("%q is a clone, which runs on every node it may; use ban to keep it off a node", name)
	}
	l := Location{ID: MoveConstraintID(name), Rsc: name, Node: node, Score: Infinity}
	c.removeLocationID(l.ID)
	c.Locations = append(c.Locations, l)
	return l, nil
}

// Ban keeps resource id off node (-INFINITY).
func (c *Config) Ban(id, node string) (Location, error) {
	r, err := c.MustResource(id)
	if err != nil {
		return Location{}, err
	}
	if err := c.checkNode(node); err != nil {
		return Location{}, err
	}
	name := ConstraintName(r)
	l := Location{ID: BanConstraintID(name, node), Rsc: name, Node: node, Score: -Infinity}
	c.removeLocationID(l.ID)
	c.Locations = append(c.Locations, l)
	return l, nil
}

// Clear removes the constraints move and ban made for resource id; it
// returns their ids.
func (c *Config) Clear(id string) ([]string, error) {
	r, err := c.MustResource(id)
	if err != nil {
		return nil, err
	}
	name := ConstraintName(r)
	var removed []string
	var keep []Location
	for _, l := range c.Locations {
		if l.ID == MoveConstraintID(name) || strings.HasPrefix(l.ID, "cli-ban-"+name+"-on-") {
			removed = append(removed, l.ID)
			continue
		}
		keep = append(keep, l)
	}
	c.Locations = keep
	return removed, nil
}

func (c *Config) removeLocationID(id string) {
	var keep []Location
	for _, l := range c.Locations {
		if l.ID != id {
			keep = append(keep, l)
		}
	}
	c.Locations = keep
}

// SetStandby puts node in standby (or takes it out).
func (c *Config) SetStandby(node string, on bool) error {
	if err := c.checkNode(node); err != nil {
		return err
	}
	c.Node(node).Standby = on
	return nil
}

// SetNodeMaintenance puts node in maintenance (or takes it out).
func (c *Config) SetNodeMaintenance(node string, on bool) error {
	if err := c.checkNode(node); err != nil {
		return err
	}
	c.Node(node).Maintenance = on
	return nil
}

// PropertyKeys are the cluster properties `property set` takes.
var PropertyKeys = []string{"maintenance-mode"}

// SetProperty sets a cluster property from its text.
func (c *Config) SetProperty(key, value string) error {
	switch key {
	case "maintenance-mode":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("maintenance-mode=%q: want true or false", value)
		}
		c.Properties.MaintenanceMode = b
		return nil
	}
	return fmt.Errorf("unknown property %q%s (properties: %s)", key, hint(key, PropertyKeys), strings.Join(PropertyKeys, ", "))
}
