package sdk

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// A resource's parameters arrive as strings. ParseParams checks them
// against the ParamSpecs an agent declares in its meta-data and types them,
// so that the documentation and the checks cannot drift apart, and every
// agent refuses the same mistakes with the same words. What only the agent
// knows (an address is a unicast host address, a URL has a host) it checks
// on the typed values, through Invalid, into the same list of problems.

// ParamTypes are the types a ParamSpec may declare.
var ParamTypes = []string{"string", "integer", "boolean", "duration", "enum", "ip", "port", "url"}

// durationUnits are what a bare number of a duration parameter may count.
var durationUnits = map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour}

// ParamError is one problem with a resource's parameters. Its message names
// the parameter and says what would be right.
type ParamError struct {
	Param string // the parameter; "" for a problem of the parameters together
	Msg   string
}

func (e *ParamError) Error() string { return e.Msg }

// ParamValues are a resource's parameters checked against an agent's
// ParamSpecs: typed values (the default where a parameter is not given)
// and every problem found. Accessors panic when asked for a parameter the
// specs do not declare with that type: that is a bug in the agent, which
// any test of it shows.
type ParamValues struct {
	agent    string
	specs    []ParamSpec
	index    map[string]int
	raw      map[string]string
	values   map[string]any
	given    map[string]bool
	problems []problem
}

type problem struct {
	order int // where it is listed: unknown keys first, then by declaration
	err   *ParamError
}

// ParseParams checks raw against specs. agent names the agent in messages
// ("vip", "health:http"). Every problem is recorded, each naming its
// parameter; Err returns them all.
//
//   - A key no spec declares is refused, with the nearest declared name as a
//     suggestion (a typo would otherwise be silently ignored).
//   - A required parameter that is absent or blank is refused.
//   - A parameter not given takes its Default; a typed parameter given as
//     blank counts as not given. A string given as "" is the value "".
//   - integer, port: decimal, within Min and Max (a port within 1-65535).
//   - boolean: true/yes/on/y/1 or false/no/off/n/0, any case (Pacemaker's).
//   - duration: a Go duration (1m30s, 200ms) or a bare number in Unit,
//     within Min and Max, never negative.
//   - enum: one of Values, exactly.
//   - ip: an IPv4 or IPv6 address.
//   - string, url: the text without surrounding spaces (String), or exactly
//     as given (Raw); a URL is the agent's to check (it may hold
//     placeholders).
func ParseParams(agent string, specs []ParamSpec, raw map[string]string) *ParamValues {
	v := &ParamValues{
		agent: agent, specs: specs, raw: raw,
		index:  make(map[string]int, len(specs)),
		values: make(map[string]any, len(specs)),
		given:  make(map[string]bool, len(specs)),
	}
	for i, s := range specs {
		v.index[s.Name] = i
	}
	v.checkUnknown()
	for i, s := range specs {
		text, ok := raw[s.Name]
		if s.Type != "string" && s.Type != "url" {
			text = strings.TrimSpace(text)
			ok = ok && text != ""
		}
		v.given[s.Name] = ok
		if r, at := controlChar(text); ok && at >= 0 {
			// Agents write values into line-based files (haproxy.cfg, a
			// systemd drop-in): a newline would inject a line. The host
			// refuses them too; an agent must not depend on it.
			v.add(i, s.Name, "%s %s: holds the control character %s at byte %d; values are single-line printable text",
				s.Name, strconv.Quote(text), strconv.QuoteRune(r), at)
			continue
		}
		switch {
		case s.Required && strings.TrimSpace(text) == "":
			v.add(i, s.Name, "%s is required: %s", s.Name, s.Description)
		case ok:
			val, err := parseValue(s, text)
			if err != nil {
				v.add(i, s.Name, "%s %q: %v", s.Name, text, err)
				continue
			}
			v.values[s.Name] = val
		case s.Default == "":
			v.values[s.Name] = zero(s.Type)
		default:
			// The default is the agent's: one that does not parse is its
			// bug, said as such rather than blamed on the resource.
			val, err := parseValue(s, s.Default)
			if err != nil {
				v.add(i, s.Name, "%s: the agent's default %q is invalid (%v); this is a bug in %s, set %s explicitly", s.Name, s.Default, err, agent, s.Name)
				continue
			}
			v.values[s.Name] = val
		}
	}
	return v
}

// checkUnknown refuses keys that no spec declares.
func (v *ParamValues) checkUnknown() {
	var unknown []string
	for k := range v.raw {
		if _, ok := v.index[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return
	}
	sort.Strings(unknown)
	names := make([]string, len(v.specs))
	for i, s := range v.specs {
		names[i] = s.Name
	}
	takes := v.agent + " takes no parameters"
	if len(names) > 0 {
		takes = v.agent + " takes " + strings.Join(names, ", ")
	}
	for _, k := range unknown {
		msg := fmt.Sprintf("unknown parameter %q", k)
		if s := Suggest(k, names); s != "" {
			msg += fmt.Sprintf(": did you mean %s?", s)
		}
		v.problems = append(v.problems, problem{order: -1, err: &ParamError{Param: k, Msg: msg + " (" + takes + ")"}})
	}
}

func (v *ParamValues) add(order int, name, format string, args ...any) {
	v.problems = append(v.problems, problem{order: order, err: &ParamError{Param: name, Msg: fmt.Sprintf(format, args...)}})
}

func zero(typ string) any {
	switch typ {
	case "integer", "port":
		return 0
	case "boolean":
		return false
	case "duration":
		return time.Duration(0)
	case "ip":
		return netip.Addr{}
	}
	return ""
}

// parseValue types one value (already trimmed where its type says so).
func parseValue(s ParamSpec, text string) (any, error) {
	switch s.Type {
	case "string", "url":
		return strings.TrimSpace(text), nil
	case "integer", "port":
		return parseInt(s, text)
	case "boolean":
		return ParseBool(text)
	case "duration":
		return parseDuration(s, text)
	case "enum":
		if slices.Contains(s.Values, text) {
			return text, nil
		}
		msg := "must be " + oneOf(s.Values)
		if sug := Suggest(text, s.Values); sug != "" {
			msg += " (did you mean " + sug + "?)"
		}
		return nil, errors.New(msg)
	case "ip":
		ip, err := netip.ParseAddr(text)
		if err != nil {
			return nil, errors.New("not an IP address")
		}
		return ip, nil
	}
	return nil, fmt.Errorf("the agent declares type %q, which is not one of %s", s.Type, strings.Join(ParamTypes, ", "))
}

func parseInt(s ParamSpec, text string) (int, error) {
	lo, hi := s.Min, s.Max
	what := "an integer"
	if s.Type == "port" {
		what = "a port number"
		if lo == "" {
			lo = "1"
		}
		if hi == "" {
			hi = "65535"
		}
	}
	n, err := strconv.Atoi(text)
	var bad bool
	if lo != "" {
		m, merr := strconv.Atoi(lo)
		bad = bad || merr != nil || n < m
	}
	if hi != "" {
		m, merr := strconv.Atoi(hi)
		bad = bad || merr != nil || n > m
	}
	if err == nil && !bad {
		return n, nil
	}
	return 0, errors.New("must be " + what + bounds(lo, hi))
}

func bounds(lo, hi string) string {
	switch {
	case lo != "" && hi != "":
		return " from " + lo + " to " + hi
	case lo != "":
		return " of at least " + lo
	case hi != "":
		return " of at most " + hi
	}
	return ""
}

func parseDuration(s ParamSpec, text string) (time.Duration, error) {
	unit, ok := durationUnits[s.Unit]
	if s.Unit == "" {
		unit, ok = time.Second, true
	}
	if !ok {
		return 0, fmt.Errorf("the agent declares unit %q, which is not ms, s, m or h", s.Unit)
	}
	unitName := map[time.Duration]string{time.Millisecond: "milliseconds", time.Second: "seconds", time.Minute: "minutes", time.Hour: "hours"}[unit]
	d, err := time.ParseDuration(text)
	if n, nerr := strconv.ParseInt(text, 10, 64); nerr == nil {
		d, err = time.Duration(n)*unit, nil
	}
	if err != nil {
		return 0, fmt.Errorf("not a duration (e.g. 5s, 500ms or 1m30s; a bare number is %s)", unitName)
	}
	lo, hi := s.Min, s.Max
	if lo == "" && d < 0 {
		return 0, errors.New("must not be negative")
	}
	bad := false
	if lo != "" {
		m, merr := time.ParseDuration(lo)
		bad = bad || merr != nil || d < m
	}
	if hi != "" {
		m, merr := time.ParseDuration(hi)
		bad = bad || merr != nil || d > m
	}
	if bad {
		return 0, fmt.Errorf("must be a duration%s (a bare number is %s)", bounds(lo, hi), unitName)
	}
	return d, nil
}

// ParseBool reads a boolean the way Pacemaker does: true, yes, on, y or 1,
// and false, no, off, n or 0, in any case.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "y", "1":
		return true, nil
	case "false", "no", "off", "n", "0":
		return false, nil
	}
	return false, errors.New("not a boolean (true or false)")
}

// oneOf writes values as "a", "a or b", "one of a, b or c".
func oneOf(values []string) string {
	switch len(values) {
	case 0:
		return "one of no values (the agent declares none)"
	case 1:
		return values[0]
	case 2:
		return values[0] + " or " + values[1]
	}
	return "one of " + strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// Err returns every problem found, unknown keys first and then in the
// order the specs declare their parameters, joined (errors.Join); nil when
// there is none. Each is a *ParamError.
func (v *ParamValues) Err() error {
	if len(v.problems) == 0 {
		return nil
	}
	ps := slices.Clone(v.problems)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].order < ps[j].order })
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p.err
	}
	return errors.Join(errs...)
}

// Invalid records a problem the agent found with the value of name, as
// `name "value": reason`, and drops the value: accessors then return the
// zero value for name.
func (v *ParamValues) Invalid(name, format string, args ...any) {
	i := v.mustIndex(name)
	delete(v.values, name)
	v.add(i, name, "%s %q: %s", name, strings.TrimSpace(v.raw[name]), fmt.Sprintf(format, args...))
}

// Problem records a problem in the agent's own words (a message that
// names the parameters it is about). name ties it to a parameter for the
// order of Err, and drops that parameter's value; "" ties it to none and
// lists it last.
func (v *ParamValues) Problem(name, format string, args ...any) {
	order := len(v.specs)
	if name != "" {
		order = v.mustIndex(name)
		delete(v.values, name)
	}
	v.add(order, name, format, args...)
}

// Given reports whether the resource sets name (for a typed parameter,
// to a value that is not blank).
func (v *ParamValues) Given(name string) bool {
	v.mustIndex(name)
	return v.given[name]
}

// Failed reports whether a problem was recorded for name.
func (v *ParamValues) Failed(name string) bool {
	v.mustIndex(name)
	for _, p := range v.problems {
		if p.err.Param == name {
			return true
		}
	}
	return false
}

// Unknown returns the keys that no spec declares, sorted.
func (v *ParamValues) Unknown() []string {
	var out []string
	for _, p := range v.problems {
		if p.order == -1 {
			out = append(out, p.err.Param)
		}
	}
	return out
}

// String returns a string or url parameter without surrounding spaces, or
// an enum's value.
func (v *ParamValues) String(name string) string {
	return get[string](v, name, "string", "url", "enum")
}

// Raw returns a string parameter exactly as given (spaces that matter, as
// in a text to search for), or its default.
func (v *ParamValues) Raw(name string) string {
	get[string](v, name, "string")
	if s, ok := v.raw[name]; ok {
		return s
	}
	return v.String(name)
}

// Int returns an integer or port parameter.
func (v *ParamValues) Int(name string) int { return get[int](v, name, "integer", "port") }

// Bool returns a boolean parameter.
func (v *ParamValues) Bool(name string) bool { return get[bool](v, name, "boolean") }

// Duration returns a duration parameter.
func (v *ParamValues) Duration(name string) time.Duration {
	return get[time.Duration](v, name, "duration")
}

// IP returns an ip parameter; the zero Addr (not IsValid) when it is
// absent or invalid.
func (v *ParamValues) IP(name string) netip.Addr { return get[netip.Addr](v, name, "ip") }

func (v *ParamValues) mustIndex(name string) int {
	i, ok := v.index[name]
	if !ok {
		panic(fmt.Sprintf("sdk: %s asks for parameter %q, which its meta-data does not declare", v.agent, name))
	}
	return i
}

func get[T any](v *ParamValues, name string, types ...string) T {
	s := v.specs[v.mustIndex(name)]
	if !slices.Contains(types, s.Type) {
		var z T
		panic(fmt.Sprintf("sdk: %s reads parameter %q as %T, but declares it as %s", v.agent, name, z, s.Type))
	}
	val, _ := v.values[name].(T)
	return val
}

// controlChar is the first control (or line or paragraph separator)
// character of s and its byte offset, or -1.
func controlChar(s string) (rune, int) {
	for i, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return r, i
		}
	}
	return 0, -1
}
