package sdk

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// ParamSpecProblems lists what makes specs unusable by ParseParams: a
// type it does not know, an enum without values, bounds or a unit on a
// type that has none or that do not parse, a default ParseParams would
// refuse. sdktest.Conformance runs it on every agent's meta-data.
func ParamSpecProblems(specs []ParamSpec) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, s := range specs {
		if !slices.Contains(ParamTypes, s.Type) {
			add("parameter %q has type %q; use one of %v", s.Name, s.Type, ParamTypes)
			continue
		}
		if s.Type == "enum" {
			if len(s.Values) == 0 {
				add("enum parameter %q lists no Values", s.Name)
			}
			for i, val := range s.Values {
				if val == "" || slices.Contains(s.Values[:i], val) {
					add("enum parameter %q: value %q is empty or listed twice", s.Name, val)
				}
			}
		} else if len(s.Values) > 0 {
			add("parameter %q of type %s lists Values; only an enum has them", s.Name, s.Type)
		}
		switch s.Type {
		case "integer", "port", "duration":
			parse, what := func(t string) (int64, error) { n, err := strconv.Atoi(t); return int64(n), err }, "an integer"
			if s.Type == "duration" {
				parse, what = func(t string) (int64, error) { d, err := time.ParseDuration(t); return int64(d), err }, "a duration with its unit (1ms, 10s)"
			}
			lo, loErr := parse(s.Min)
			hi, hiErr := parse(s.Max)
			if s.Min != "" && loErr != nil {
				add("parameter %q: Min %q is not %s", s.Name, s.Min, what)
			}
			if s.Max != "" && hiErr != nil {
				add("parameter %q: Max %q is not %s", s.Name, s.Max, what)
			}
			if s.Min != "" && s.Max != "" && loErr == nil && hiErr == nil && lo > hi {
				add("parameter %q: Min %s is above Max %s", s.Name, s.Min, s.Max)
			}
			if _, ok := durationUnits[s.Unit]; s.Type == "duration" && s.Unit != "" && !ok {
				add("parameter %q: Unit %q is not ms, s, m or h", s.Name, s.Unit)
			}
		default:
			if s.Min != "" || s.Max != "" {
				add("parameter %q of type %s has Min or Max; only integer, port and duration parameters have bounds", s.Name, s.Type)
			}
		}
		if s.Unit != "" && s.Type != "duration" {
			add("parameter %q of type %s has a Unit; only a duration has one", s.Name, s.Type)
		}
		if s.Required && s.Default != "" {
			add("parameter %q is required but has default %q; a required parameter has no default", s.Name, s.Default)
		}
		if s.Default != "" {
			if _, err := parseValue(s, s.Default); err != nil {
				add("parameter %q: default %q: %v", s.Name, s.Default, err)
			}
		}
	}
	return out
}
