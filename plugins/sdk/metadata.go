package sdk

// Meta-data as the host and tooling read it: what a parameter change
// needs (reload or restart), the defaults an action has, and the
// `tandem-plugin-NAME meta-data [TYPE]` command that prints it as JSON.

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"
)

// Action returns the action named name, if the meta-data lists it.
func (m MetaData) Action(name string) (ActionSpec, bool) {
	for _, a := range m.Actions {
		if a.Name == name {
			return a, true
		}
	}
	return ActionSpec{}, false
}

// Param returns the parameter named name, if the meta-data lists it.
func (m MetaData) Param(name string) (ParamSpec, bool) {
	for _, p := range m.Params {
		if p.Name == name {
			return p, true
		}
	}
	return ParamSpec{}, false
}

// ChangedParams lists, sorted, the parameters whose value differs between
// old and new (set, changed or removed).
func ChangedParams(old, new map[string]string) []string {
	var out []string
	for k, v := range new {
		if ov, ok := old[k]; !ok || ov != v {
			out = append(out, k)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Reloadable says whether a running resource can take the change from old
// to new parameters by the agent's reload: the agent lists a reload
// action and every changed parameter is declared reloadable. When not,
// why says which parameter (or the missing action) needs a restart.
func (m MetaData) Reloadable(old, new map[string]string) (ok bool, why string) {
	changed := ChangedParams(old, new)
	if len(changed) == 0 {
		return true, ""
	}
	if _, has := m.Action("reload"); !has {
		return false, "the agent cannot reload"
	}
	for _, name := range changed {
		if p, known := m.Param(name); !known || !p.Reloadable {
			return false, fmt.Sprintf("parameter %s is not reloadable", name)
		}
	}
	return true, ""
}

// withReload adds a reload action to md when the agent implements
// Reloader and md does not list one, so the host knows it can reload.
func withReload(md MetaData, agent Agent) MetaData {
	if _, ok := agent.(Reloader); !ok {
		return md
	}
	if _, ok := md.Action("reload"); ok {
		return md
	}
	md.Actions = append(slices.Clip(md.Actions), ActionSpec{Name: "reload", Timeout: 20 * time.Second})
	return md
}

// actionJSON is an ActionSpec on the wire of tooling: durations as Go
// writes them ("20s").
type actionJSON struct {
	Name     string `json:"name"`
	Timeout  string `json:"timeout,omitempty"`
	Interval string `json:"interval,omitempty"`
}

// MarshalJSON writes the durations as text ("20s").
func (a ActionSpec) MarshalJSON() ([]byte, error) {
	j := actionJSON{Name: a.Name}
	if a.Timeout > 0 {
		j.Timeout = a.Timeout.String()
	}
	if a.Interval > 0 {
		j.Interval = a.Interval.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *ActionSpec) UnmarshalJSON(b []byte) error {
	var j actionJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*a = ActionSpec{Name: j.Name}
	var err error
	if j.Timeout != "" {
		if a.Timeout, err = time.ParseDuration(j.Timeout); err != nil {
			return fmt.Errorf("action %s: timeout: %w", j.Name, err)
		}
	}
	if j.Interval != "" {
		if a.Interval, err = time.ParseDuration(j.Interval); err != nil {
			return fmt.Errorf("action %s: interval: %w", j.Name, err)
		}
	}
	return nil
}

// PrintMetaData writes the meta-data of agentType (every type the agent
// lists when agentType is empty: a JSON array) as indented JSON: what
// `tandem-plugin-NAME meta-data [TYPE]` prints.
func PrintMetaData(w io.Writer, agent Agent, agentType string) error {
	var v any
	if agentType != "" {
		md, err := agent.MetaData(agentType)
		if err != nil {
			return err
		}
		v = withReload(md, agent)
	} else {
		info := agent.Info()
		var all []MetaData
		for _, t := range info.Types {
			if t == "*" {
				return fmt.Errorf("plugin %s provides any agent type: name one (%s meta-data TYPE)", info.Name, PluginPrefix+info.Name)
			}
			md, err := agent.MetaData(t)
			if err != nil {
				return err
			}
			all = append(all, withReload(md, agent))
		}
		v = all
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
