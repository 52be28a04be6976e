package ocf

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// The XML an agent prints for meta-data (OCF Resource Agent API 1.1,
// ra-api-1.dtd). Only what Tandem uses is read.
type raXML struct {
	XMLName   xml.Name    `xml:"resource-agent"`
	Name      string      `xml:"name,attr"`
	Version   string      `xml:"version,attr"`
	VersionEl string      `xml:"version"`
	LongDesc  string      `xml:"longdesc"`
	ShortDesc string      `xml:"shortdesc"`
	Params    []paramXML  `xml:"parameters>parameter"`
	Actions   []actionXML `xml:"actions>action"`
}

type paramXML struct {
	Name       string `xml:"name,attr"`
	Required   string `xml:"required,attr"`
	Unique     string `xml:"unique,attr"`
	UniqueG    string `xml:"unique-group,attr"`
	Reloadable string `xml:"reloadable,attr"`
	LongDesc   string `xml:"longdesc"`
	ShortDesc  string `xml:"shortdesc"`
	Deprecated *struct {
		ReplacedWith []struct {
			Name string `xml:"name,attr"`
		} `xml:"replaced-with"`
	} `xml:"deprecated"`
	Content struct {
		Type    string `xml:"type,attr"`
		Default string `xml:"default,attr"`
		Options []struct {
			Value string `xml:"value,attr"`
		} `xml:"option"`
	} `xml:"content"`
}

type actionXML struct {
	Name     string `xml:"name,attr"`
	Timeout  string `xml:"timeout,attr"`
	Interval string `xml:"interval,attr"`
	Depth    string `xml:"depth,attr"`
	Role     string `xml:"role,attr"`
}

// agentMeta is an agent's meta-data as the plugin uses it.
type agentMeta struct {
	md      sdk.MetaData
	actions map[string]bool // actions the agent advertises
}

// parseMetaData reads an agent's meta-data XML. It refuses XML that is not
// a resource-agent document, and more than MetaDataCap of it. Go's
// encoding/xml expands no entities but the five predefined ones (a
// DOCTYPE's are skipped; an undefined entity is an error) and limits the
// nesting it unmarshals, so neither an entity bomb nor deep nesting costs
// more than the capped input.
func parseMetaData(agent string, data []byte) (agentMeta, error) {
	if len(data) > MetaDataCap {
		return agentMeta{}, fmt.Errorf("%s meta-data: %d bytes, more than the %d KiB allowed", agent, len(data), MetaDataCap>>10)
	}
	if err := checkDepth(data); err != nil {
		return agentMeta{}, fmt.Errorf("%s meta-data is not a resource-agent XML document: %v", agent, err)
	}
	var ra raXML
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	if err := d.Decode(&ra); err != nil {
		return agentMeta{}, fmt.Errorf("%s meta-data is not a resource-agent XML document: %v", agent, err)
	}
	am := agentMeta{actions: map[string]bool{}}
	md := sdk.MetaData{
		Type:      strings.TrimPrefix(agent, "ocf:"),
		Version:   firstNonEmpty(strings.TrimSpace(ra.VersionEl), ra.Version),
		ShortDesc: clean(ra.ShortDesc),
		LongDesc:  strings.TrimSpace(ra.LongDesc),
	}
	seen := map[string]bool{}
	for i, p := range ra.Params {
		if p.Name == "" {
			return agentMeta{}, fmt.Errorf("%s meta-data: parameter %d has no name", agent, i+1)
		}
		if !envNameRE.MatchString(p.Name) {
			return agentMeta{}, fmt.Errorf("%s meta-data: parameter name %q cannot be an environment variable OCF_RESKEY_%s", agent, p.Name, p.Name)
		}
		if seen[p.Name] {
			return agentMeta{}, fmt.Errorf("%s meta-data: parameter %q is declared twice", agent, p.Name)
		}
		seen[p.Name] = true
		md.Params = append(md.Params, paramSpec(p))
	}
	for _, a := range ra.Actions {
		if a.Name == "" {
			continue
		}
		am.actions[a.Name] = true
		if a.Role != "" || a.Depth != "" && a.Depth != "0" {
			// Monitors of a promoted/unpromoted role and deeper checks
			// are Pacemaker's; the plain monitor is the default.
			continue
		}
		name, ok := actionNames[a.Name]
		if !ok || indexAction(md.Actions, name) >= 0 {
			// migrate_to/from: not bridged; status is monitor's old
			// name.
			continue
		}
		spec := sdk.ActionSpec{Name: name}
		spec.Timeout, _ = parseTime(a.Timeout)
		spec.Interval, _ = parseTime(a.Interval)
		md.Actions = append(md.Actions, spec)
	}
	if len(ra.Params) == 0 && len(ra.Actions) == 0 && ra.Name == "" {
		return agentMeta{}, fmt.Errorf("%s meta-data declares no name, parameters or actions: is it an OCF agent?", agent)
	}
	am.md = md
	return am, nil
}

// maxDepth bounds how deep meta-data may nest elements: the format needs
// 4 (resource-agent, parameters, parameter, content, option).
const maxDepth = 32

// checkDepth refuses XML nested deeper than maxDepth, before anything is
// unmarshalled from it.
func checkDepth(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxDepth {
				line, _ := d.InputPos()
				return fmt.Errorf("line %d: elements nested more than %d deep", line, maxDepth)
			}
		case xml.EndElement:
			depth--
		}
	}
}

// actionNames maps the OCF actions Tandem calls to its own names.
var actionNames = map[string]string{
	"start": "start", "stop": "stop", "monitor": "monitor",
	"reload": "reload", "reload-agent": "reload",
	"validate-all": "validate", "meta-data": "meta-data",
	"promote": "promote", "demote": "demote", "notify": "notify",
}

func indexAction(as []sdk.ActionSpec, name string) int {
	for i, a := range as {
		if a.Name == name {
			return i
		}
	}
	return -1
}

// paramSpec turns one OCF parameter into a ParamSpec that sdk.ParseParams
// checks exactly as strictly as the agent's own declaration allows: a type
// sdk does not know, or a default that does not parse as the declared type,
// makes it a string (the agent accepted that default, so must we).
func paramSpec(p paramXML) sdk.ParamSpec {
	s := sdk.ParamSpec{Name: p.Name, Required: isTrue(p.Required), Default: p.Content.Default}
	switch t := strings.ToLower(p.Content.Type); t {
	case "integer", "boolean", "string":
		s.Type = t
	case "select":
		s.Type = "enum"
		for _, o := range p.Content.Options {
			s.Values = append(s.Values, o.Value)
		}
	default:
		s.Type = "string"
	}
	desc := clean(p.ShortDesc)
	if desc == "" {
		desc = clean(p.LongDesc)
	}
	if desc == "" {
		desc = "(the agent's meta-data describes it not)"
	}
	var notes []string
	if isTrue(p.Unique) {
		notes = append(notes, "unique: no two resources of this agent may share its value")
	}
	if p.Deprecated != nil {
		n := "deprecated"
		for _, r := range p.Deprecated.ReplacedWith {
			n += ", replaced with " + r.Name
		}
		notes = append(notes, n)
	}
	if len(notes) > 0 {
		desc += " (" + strings.Join(notes, "; ") + ")"
	}
	s.Description = desc
	if s.Required {
		// A required parameter has no default (OCF agents often declare
		// default="" on one).
		s.Default = ""
	}
	if len(sdk.ParamSpecProblems([]sdk.ParamSpec{s})) > 0 {
		s.Type, s.Values = "string", nil
		if len(sdk.ParamSpecProblems([]sdk.ParamSpec{s})) > 0 {
			s.Default = ""
		}
	}
	return s
}

// isTrue reads an OCF boolean attribute ("1", "true", "yes").
func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on", "y":
		return true
	}
	return false
}

// clean folds the white space of a description into single spaces.
func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// parseTime reads a Pacemaker time value: a number with an optional unit
// (ms, msec, us, usec, s, sec, m, min, h, hr; none is seconds), or a Go
// duration. Empty is 0.
func parseTime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9') {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("time %q does not start with a number", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > 1<<31 {
		return 0, fmt.Errorf("time %q: number out of range", s)
	}
	unit := map[string]time.Duration{
		"": time.Second, "s": time.Second, "sec": time.Second, "ms": time.Millisecond, "msec": time.Millisecond,
		"us": time.Microsecond, "usec": time.Microsecond, "m": time.Minute, "min": time.Minute, "h": time.Hour, "hr": time.Hour,
	}
	u, ok := unit[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
		return 0, fmt.Errorf("time %q: unit %q is not ms, s, m or h", s, s[i:])
	}
	return time.Duration(n) * u, nil
}
