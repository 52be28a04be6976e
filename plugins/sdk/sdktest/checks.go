package sdktest

import (
	"fmt"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// ParamTypes are the parameter types meta-data may declare.
var ParamTypes = sdk.ParamTypes

// Actions are the action names meta-data may declare.
var Actions = []string{"start", "stop", "monitor", "reload", "notify", "hold", "validate", "meta-data", "promote", "demote"}

// InfoProblems lists what is missing or wrong in a plugin's Info.
func InfoProblems(info sdk.Info) []string {
	var out []string
	if info.Name == "" {
		out = append(out, "Info().Name is empty; it must be the part after tandem-plugin- in the executable's name")
	}
	if len(info.Types) == 0 {
		out = append(out, "Info().Types is empty; list the agent types the plugin provides (\"*\" for any)")
	}
	if info.Version == "" {
		out = append(out, "Info().Version is empty")
	}
	apis := info.APIVersions
	if len(apis) == 0 {
		apis = sdk.APIVersions // what Serve fills in
	}
	if _, err := sdk.NegotiateAPI(sdk.APIVersions, apis); err != nil {
		out = append(out, "Info().APIVersions: "+err.Error())
	}
	return out
}

// MetaDataProblems lists what is missing or wrong in an agent type's
// meta-data.
func MetaDataProblems(md sdk.MetaData, agentType string) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if md.Type != agentType {
		add("meta-data Type is %q, want %q", md.Type, agentType)
	}
	if md.ShortDesc == "" {
		add("meta-data ShortDesc is empty")
	}
	if md.Version == "" {
		add("meta-data Version is empty")
	}
	seen := map[string]bool{}
	for _, p := range md.Params {
		if p.Name == "" {
			add("a parameter has no name")
			continue
		}
		if seen[p.Name] {
			add("parameter %q is declared twice", p.Name)
		}
		seen[p.Name] = true
		if p.Description == "" {
			add("parameter %q has no description", p.Name)
		}
	}
	// What sdk.ParseParams needs: known types, enum values, bounds and
	// defaults that parse.
	out = append(out, sdk.ParamSpecProblems(md.Params)...)
	actions := map[string]sdk.ActionSpec{}
	for _, a := range md.Actions {
		if !contains(Actions, a.Name) {
			add("action %q is not one of %v", a.Name, Actions)
		}
		if _, dup := actions[a.Name]; dup {
			add("action %q is declared twice", a.Name)
		}
		actions[a.Name] = a
	}
	for _, name := range []string{"start", "stop", "monitor"} {
		a, ok := actions[name]
		switch {
		case !ok:
			add("action %q is missing from meta-data", name)
		case a.Timeout <= 0:
			add("action %q has no default timeout", name)
		}
	}
	if a, ok := actions["monitor"]; ok && a.Interval <= 0 {
		add("action monitor has no suggested interval")
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
