package ocf

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// DefaultRoot is OCF_ROOT when the environment sets none: where Debian's
// and Red Hat's resource-agents packages install.
const DefaultRoot = "/usr/lib/ocf"

// nameRE is what a provider or a type may be: a plain file name. No '/',
// and no leading '.', so neither ".." nor the providers' hidden helper
// files (heartbeat/.ocf-shellfuncs) can be named.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

// script is one OCF agent on this node.
type script struct {
	agent    string // "ocf:heartbeat:Dummy", for messages
	provider string
	typ      string
	path     string // root/resource.d/PROVIDER/TYPE, checked to resolve inside root
	root     string // OCF_ROOT as configured (what the agent sees)
	lsb      bool   // an LSB init script (lsb.go)
}

// errNotInstalled marks a well-formed agent name with no script here.
type errNotInstalled struct{ msg string }

func (e *errNotInstalled) Error() string { return e.msg }

// errUntrusted marks a script that someone other than root could have
// changed.
type errUntrusted struct{ msg string }

func (e *errUntrusted) Error() string { return e.msg }

// splitType splits agent type "PROVIDER:TYPE" and checks both names.
func splitType(agentType string) (provider, typ string, err error) {
	provider, typ, ok := strings.Cut(agentType, ":")
	agent := "ocf:" + agentType
	if !ok || provider == "" || typ == "" {
		return "", "", fmt.Errorf("agent %q is not ocf:PROVIDER:TYPE (e.g. ocf:heartbeat:IPaddr2)", agent)
	}
	if !nameRE.MatchString(provider) || !nameRE.MatchString(typ) {
		return "", "", fmt.Errorf("agent %q is not ocf:PROVIDER:TYPE: the provider and the type are file names under OCF_ROOT/resource.d (letters, digits, '_', '-' and '.', not starting with '.'), never paths; nothing was run", agent)
	}
	return provider, typ, nil
}

// resolve finds agent type "PROVIDER:TYPE" under root: the executable
// root/resource.d/PROVIDER/TYPE, which after following every symlink must
// still lie inside root (a link out of the tree is refused, and nothing is
// run). A missing script is an *errNotInstalled.
func resolve(root, agentType string) (script, error) {
	provider, typ, err := splitType(agentType)
	if err != nil {
		return script{}, err
	}
	s := script{agent: "ocf:" + agentType, provider: provider, typ: typ, root: root}
	if !filepath.IsAbs(root) {
		return script{}, fmt.Errorf("%s: OCF_ROOT %q is not an absolute path", s.agent, root)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return script{}, &errNotInstalled{fmt.Sprintf("%s is not installed on this node: OCF_ROOT %s: %v (install the resource agents' package, e.g. resource-agents)", s.agent, root, err)}
	}
	p := filepath.Join(root, "resource.d", provider, typ)
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if os.IsNotExist(err) {
			return script{}, &errNotInstalled{fmt.Sprintf("%s is not installed on this node: no %s (install the package that provides it%s)", s.agent, p, packageHint(provider))}
		}
		return script{}, &errNotInstalled{fmt.Sprintf("%s: %v", s.agent, err)}
	}
	if rel, err := filepath.Rel(realRoot, real); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return script{}, fmt.Errorf("%s: %s resolves to %s, outside OCF_ROOT %s; refusing to run it (agents must live in the resource-agents tree)", s.agent, p, real, root)
	}
	st, err := os.Stat(real)
	if err != nil {
		return script{}, &errNotInstalled{fmt.Sprintf("%s: %v", s.agent, err)}
	}
	// Tandem runs the script as root: it and every directory from it up
	// to OCF_ROOT must be root's alone (sdk.CheckTrusted, as for plugins).
	// What the script sources (ocf-shellfuncs) is its own business.
	for dir := filepath.Dir(real); ; dir = filepath.Dir(dir) {
		if err := sdk.CheckTrusted(dir); err != nil {
			return script{}, &errUntrusted{fmt.Sprintf("%s: %v; refusing to run it", s.agent, err)}
		}
		if dir == realRoot || dir == "/" {
			break
		}
	}
	if err := sdk.CheckTrusted(real); err != nil {
		return script{}, &errUntrusted{fmt.Sprintf("%s: %v; refusing to run it", s.agent, err)}
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return script{}, &errNotInstalled{fmt.Sprintf("%s: %s is not an executable file (mode %s)", s.agent, p, st.Mode())}
	}
	// Run it by its name in the tree, as Pacemaker does: agents log and
	// find their helpers by $0.
	s.path = p
	return s, nil
}

func packageHint(provider string) string {
	switch provider {
	case "heartbeat":
		return ": resource-agents"
	case "pacemaker":
		return ": pacemaker"
	}
	return ""
}
