package sdk

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the go-plugin wire version of the contract in
// plugins/sdk/proto. It changes only when the wire breaks; a plugin built
// against another one is refused at the handshake.
const ProtocolVersion = 1

// APIVersion is the agent API this SDK implements (semver). Minor versions
// add optional features; a new major version changes the meaning of
// something that exists. Host and plugin agree on one version at load.
const APIVersion = "1.0.0"

// APIVersions are the agent API versions this build speaks, newest first. A
// plugin built with this SDK reports them in Info unless its Info says
// otherwise; the host accepts a plugin that shares a major version with it.
var APIVersions = []string{APIVersion}

// PluginName is the name under which the agent is dispensed on go-plugin's
// plugin map.
const PluginName = "agent"

// Handshake is the go-plugin handshake between tandem and its plugins. The
// magic cookie is a UX check (it stops a plugin run by hand from waiting on
// a handshake nobody will answer), not security.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "TANDEM_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "b8d3c2f04a6e4e0c9a5f1d7e2c6b9a41-tandem-agent",
}

// semver is a parsed MAJOR.MINOR.PATCH version; pre-release and build
// suffixes are ignored for negotiation.
type semver struct{ major, minor, patch int }

func parseSemver(s string) (semver, error) {
	core := s
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	parts := strings.Split(strings.TrimPrefix(core, "v"), ".")
	if len(parts) != 3 {
		return semver{}, fmt.Errorf("API version %q is not semver MAJOR.MINOR.PATCH", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return semver{}, fmt.Errorf("API version %q is not semver MAJOR.MINOR.PATCH", s)
		}
		n[i] = v
	}
	return semver{n[0], n[1], n[2]}, nil
}

func (v semver) less(w semver) bool {
	if v.major != w.major {
		return v.major < w.major
	}
	if v.minor != w.minor {
		return v.minor < w.minor
	}
	return v.patch < w.patch
}

func (v semver) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

// NegotiateAPI picks the agent API version host and plugin use: the highest
// major version both speak, at the lower of the two sides' newest version
// within it (a 1.3 host and a 1.1 plugin talk 1.1). It fails when they
// share no major version, saying what each side speaks.
func NegotiateAPI(host, plugin []string) (string, error) {
	best := func(vs []string) (map[int]semver, error) {
		m := map[int]semver{}
		for _, s := range vs {
			v, err := parseSemver(s)
			if err != nil {
				return nil, err
			}
			if cur, ok := m[v.major]; !ok || cur.less(v) {
				m[v.major] = v
			}
		}
		return m, nil
	}
	h, err := best(host)
	if err != nil {
		return "", fmt.Errorf("host: %w", err)
	}
	p, err := best(plugin)
	if err != nil {
		return "", fmt.Errorf("plugin: %w", err)
	}
	found := false
	var chosen semver
	for major, hv := range h {
		pv, ok := p[major]
		if !ok {
			continue
		}
		v := hv
		if pv.less(hv) {
			v = pv
		}
		if !found || chosen.major < major {
			chosen, found = v, true
		}
	}
	if !found {
		if len(plugin) == 0 {
			return "", fmt.Errorf("the plugin reports no agent API version (this tandem speaks %s); rebuild it with plugins/sdk", strings.Join(host, ", "))
		}
		return "", fmt.Errorf("no common agent API major version: the plugin speaks %s, this tandem speaks %s; install a plugin built for this tandem's API",
			strings.Join(plugin, ", "), strings.Join(host, ", "))
	}
	return chosen.String(), nil
}
