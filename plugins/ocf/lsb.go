package ocf

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// LSB init scripts (agent = "lsb:NAME": /etc/init.d/NAME) run through the
// same machinery as OCF agents, as the plugin "lsb": start, stop and
// status (the monitor) with the LSB's exit codes, no parameters, each run
// its own process group killed at the deadline, output capped, and the
// hold kept for a singleton as for an OCF agent. The script's LSB header
// (### BEGIN INIT INFO) is its meta-data's descriptions.

// LSBName is the LSB plugin's name: agent = "lsb:NAME".
const LSBName = "lsb"

// DefaultInitDir is where LSB init scripts live.
const DefaultInitDir = "/etc/init.d"

// lsbTimeout is the timeout the meta-data advertises for every action
// (Pacemaker's default).
const lsbTimeout = 20 * time.Second

// lsbHeaderCap bounds what is read of a script to find its LSB header.
const lsbHeaderCap = 64 << 10

// LSBAgent runs init scripts: an Agent in LSB mode with only what init
// scripts do (no reload, no promotable role), and the hold of a
// singleton.
type LSBAgent struct{ a *Agent }

var (
	_ sdk.Agent  = (*LSBAgent)(nil)
	_ sdk.Holder = (*LSBAgent)(nil)
)

// NewLSB returns the agent the lsb plugin serves: init scripts of
// initDir (empty: the environment's TANDEM_LSB_INIT_DIR, else
// DefaultInitDir).
func NewLSB(initDir string) *LSBAgent {
	if initDir == "" {
		initDir = os.Getenv("TANDEM_LSB_INIT_DIR")
	}
	if initDir == "" {
		initDir = DefaultInitDir
	}
	return &LSBAgent{&Agent{lsb: true, root: initDir, metas: map[string]cachedMeta{}}}
}

// Info describes the lsb plugin.
func (l *LSBAgent) Info() sdk.Info { return l.a.Info() }

// MetaData is the script's: no parameters, its LSB header's descriptions.
func (l *LSBAgent) MetaData(agentType string) (sdk.MetaData, error) { return l.a.MetaData(agentType) }

// Validate refuses parameters (init scripts take none).
func (l *LSBAgent) Validate(ctx context.Context, req sdk.ValidateRequest) sdk.Result {
	return l.a.Validate(ctx, req)
}

// Start runs the script's start.
func (l *LSBAgent) Start(ctx context.Context, req sdk.Request) sdk.Result { return l.a.Start(ctx, req) }

// Stop runs the script's stop.
func (l *LSBAgent) Stop(ctx context.Context, req sdk.Request) sdk.Result { return l.a.Stop(ctx, req) }

// Monitor runs the script's status.
func (l *LSBAgent) Monitor(ctx context.Context, req sdk.Request) sdk.Result {
	return l.a.Monitor(ctx, req)
}

// Hold keeps a singleton's hold: the script's stop when it lapses.
func (l *LSBAgent) Hold(ctx context.Context, req sdk.HoldRequest) sdk.Result {
	return l.a.Hold(ctx, req)
}

// LSBMain serves the lsb plugin (tandem-plugin-lsb).
func LSBMain() { sdk.Serve(NewLSB("")) }

// resolveLSB finds init script NAME in dir: a plain file name, an
// executable that, links followed, is root's alone, as its directory.
func resolveLSB(dir, name string) (script, error) {
	s := script{agent: "lsb:" + name, typ: name, root: dir, lsb: true}
	if !nameRE.MatchString(name) {
		return script{}, fmt.Errorf("agent %q is not lsb:NAME: NAME is a file name in %s (letters, digits, '_', '-' and '.', not starting with '.'), never a path; nothing was run", s.agent, dir)
	}
	if !filepath.IsAbs(dir) {
		return script{}, fmt.Errorf("%s: init script directory %q is not an absolute path", s.agent, dir)
	}
	p := filepath.Join(dir, name)
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if os.IsNotExist(err) {
			return script{}, &errNotInstalled{fmt.Sprintf("%s is not installed on this node: no %s (install the package that provides it)", s.agent, p)}
		}
		return script{}, &errNotInstalled{fmt.Sprintf("%s: %v", s.agent, err)}
	}
	st, err := os.Stat(real)
	if err != nil {
		return script{}, &errNotInstalled{fmt.Sprintf("%s: %v", s.agent, err)}
	}
	for _, q := range []string{filepath.Dir(real), real} {
		if err := sdk.CheckTrusted(q); err != nil {
			return script{}, &errUntrusted{fmt.Sprintf("%s: %v; refusing to run it", s.agent, err)}
		}
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return script{}, &errNotInstalled{fmt.Sprintf("%s: %s is not an executable file (mode %s)", s.agent, p, st.Mode())}
	}
	s.path = p
	return s, nil
}

// lsbMeta is an init script's meta-data: no parameters, start, stop and
// monitor (status), the descriptions from its LSB header.
func lsbMeta(s script) (agentMeta, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return agentMeta{}, err
	}
	defer f.Close()
	md := sdk.MetaData{Type: s.typ, Version: "1.0", Params: []sdk.ParamSpec{}}
	in, long := false, []string{}
	sc := bufio.NewScanner(io.LimitReader(f, lsbHeaderCap))
	sc.Buffer(make([]byte, 0, 4096), lsbHeaderCap)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "### BEGIN INIT INFO"):
			in = true
		case strings.HasPrefix(line, "### END INIT INFO"):
			in = false
		case !in:
		case strings.HasPrefix(line, "# Short-Description:"):
			md.ShortDesc = strings.TrimSpace(strings.TrimPrefix(line, "# Short-Description:"))
		case strings.HasPrefix(line, "# Description:"):
			long = append(long, strings.TrimSpace(strings.TrimPrefix(line, "# Description:")))
		case len(long) > 0 && (strings.HasPrefix(line, "#\t") || strings.HasPrefix(line, "#  ")):
			long = append(long, strings.TrimSpace(strings.TrimPrefix(line, "#")))
		}
	}
	md.LongDesc = strings.Join(long, " ")
	if md.ShortDesc == "" {
		md.ShortDesc = "LSB init script " + s.path
	}
	// Pacemaker's LSB meta-data: a monitor every 15 s.
	md.Actions = []sdk.ActionSpec{{Name: "start", Timeout: lsbTimeout}, {Name: "stop", Timeout: lsbTimeout},
		{Name: "monitor", Timeout: lsbTimeout, Interval: 15 * time.Second}}
	return agentMeta{md: md, actions: map[string]bool{"start": true, "stop": true, "status": true}}, nil
}

// lsbAction is the init script's argument for an action.
func lsbAction(action string) string {
	if action == "monitor" {
		return "status"
	}
	return action
}

// lsbResult maps an init script's exit: start and stop follow the LSB's
// codes for actions (0 ok, 1-7 as OCF's, which took them from there);
// status has its own: 0 running, 1 and 2 dead with a pid or lock file
// left, 3 not running, 4 unknown. Pacemaker reads 1, 2 and 3 of status as
// not running; so does the bridge, saying which.
func lsbResult(s script, action string, o outcome) sdk.Result {
	if o.err != nil || o.timedOut || action != "monitor" {
		if o.err == nil && !o.timedOut && o.exit > 7 && o.exit != exitDegraded {
			msg := fmt.Sprintf("%s %s: exit %d (not an LSB exit code)", s.agent, lsbAction(action), o.exit)
			if m := message(o); m != "" {
				msg += ": " + m
			}
			return sdk.Result{Code: sdk.ErrGeneric, Message: msg}
		}
		return result(s, action, o)
	}
	var why string
	switch o.exit {
	case 0:
		return sdk.Result{Code: sdk.OK, Message: message(o)}
	case 1:
		why = "dead, its pid file left behind"
	case 2:
		why = "dead, its lock file left behind"
	case 3:
		return sdk.Result{Code: sdk.NotRunning, Message: message(o)}
	case 4:
		return sdk.Resultf(sdk.ErrGeneric, "%s status: unknown (exit 4)%s", s.agent, tail(o))
	default:
		return sdk.Resultf(sdk.ErrGeneric, "%s status: exit %d (not an LSB status code)%s", s.agent, o.exit, tail(o))
	}
	return sdk.Resultf(sdk.NotRunning, "%s status: %s (exit %d)%s", s.agent, why, o.exit, tail(o))
}
