// Package haproxy is the agent of HAProxy load balancers (agent =
// "haproxy"). It runs HAProxy either on a configuration it renders from
// params (the seed's "listen apache": bind, balance roundrobin, one server
// per node of the cluster) or on an admin's file, through haproxy.service
// or as a master-worker process of its own. Every configuration is checked
// with "haproxy -c" before it replaces the running one, reloads are
// graceful (listening sockets pass to the new workers), and when the nodes
// running the backend clone change, servers leave and rejoin the rotation
// through the runtime API, without a reload.
package haproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/systemd"
)

// Name is the plugin's name and its only agent type.
const Name = "haproxy"

// Version is the agent's own version.
const Version = "1.0.0"

// DefaultStateDir holds rendered configurations, stats sockets, pid files
// and the last cluster view of each resource (a tmpfs: gone at reboot).
const DefaultStateDir = "/run/tandem/haproxy"

var (
	_ sdk.Agent    = (*Agent)(nil)
	_ sdk.Notifier = (*Agent)(nil)
	_ sdk.Reloader = (*Agent)(nil)
)

// Options configure an Agent.
type Options struct {
	StateDir string // default DefaultStateDir
	// SystemdRuntimeDir is where the unit's drop-in goes (default
	// systemd.DefaultRuntimeDir).
	SystemdRuntimeDir string
}

// Agent manages HAProxy. All methods are safe for concurrent use; the
// actions of one resource are serialised.
type Agent struct {
	stateDir string
	m        *systemd.Manager

	locks sdk.KeyedMutex // one per resource: its actions never overlap
}

// New returns the agent the plugin binary serves.
func New() *Agent { return NewWith(Options{}) }

// NewWith returns an agent configured by o.
func NewWith(o Options) *Agent {
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	return &Agent{stateDir: o.StateDir, m: systemd.NewManager(o.SystemdRuntimeDir)}
}

// Close drops the agent's D-Bus connection.
func (a *Agent) Close() { a.m.Close() }

// Info describes the plugin.
func (a *Agent) Info() sdk.Info {
	return sdk.Info{Name: Name, Types: []string{Name}, Version: Version, APIVersions: sdk.APIVersions}
}

// instance is one resource's files and process control.
type instance struct {
	p        Params
	resource string
	config   string // the file HAProxy runs on
	sock     string // admin stats socket ("" when an admin's file has none)
	ctl      controller
}

func (a *Agent) instance(resource string, params map[string]string) (*instance, sdk.Result) {
	p, err := ParseParams(params)
	if err != nil {
		return nil, notConfigured(err)
	}
	if strings.ContainsAny(resource, "/ \t\n") || resource == "" || resource[0] == '.' {
		return nil, sdk.Resultf(sdk.ErrNotConfigured, "resource id %q cannot name a file", resource)
	}
	if err := trustedBinary(p.Binary); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, sdk.Resultf(sdk.ErrNotConfigured, "%v", err)
	}
	in := &instance{p: p, resource: resource, config: p.Config, sock: p.StatsSocket}
	if p.Rendered() {
		in.config = filepath.Join(a.stateDir, resource+".cfg")
		if in.sock == "" {
			in.sock = filepath.Join(a.stateDir, resource+".sock")
		}
	} else if in.sock == "" {
		b, err := os.ReadFile(p.Config)
		if err != nil {
			return nil, sdk.Resultf(sdk.ErrNotConfigured, "config %s: %v", p.Config, err)
		}
		in.sock = StatsSocketOf(string(b))
	}
	if p.Unit == "" {
		in.ctl = direct{binary: p.Binary, config: in.config,
			pidFile: filepath.Join(a.stateDir, resource+".pid"), logFile: filepath.Join(a.stateDir, resource+".log"),
			masterSock: filepath.Join(a.stateDir, resource+".master.sock")}
	} else {
		in.ctl = unit{m: a.m, name: p.Unit, config: in.config}
	}
	return in, sdk.Result{}
}

func notConfigured(err error) sdk.Result {
	return sdk.Result{Code: sdk.ErrNotConfigured, Message: strings.ReplaceAll(err.Error(), "\n", "; ")}
}

func generic(err error) sdk.Result { return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()} }

// checkConfig runs "haproxy -c" on path; the error carries HAProxy's words.
func checkConfig(ctx context.Context, binary, path string) error {
	if err := trustedBinary(binary); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, binary, "-c", "-f", path).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return fmt.Errorf("run %s -c: %w", binary, err)
		}
		msg := haproxyMessage(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("HAProxy refuses the configuration (%s -c -f %s): %s", binary, path, strings.ReplaceAll(msg, "\n", " | "))
	}
	return nil
}

// haproxyMessage keeps the alerts and warnings of HAProxy's output (it
// starts with notices about its version and path).
func haproxyMessage(out string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, "[ALERT]") || strings.Contains(l, "[WARNING]") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	if len(keep) == 0 {
		return strings.TrimSpace(out)
	}
	return strings.Join(keep, "\n")
}

// Validate checks the params, and that HAProxy accepts the configuration:
// the admin's file, or the rendered one with every node of the view.
func (a *Agent) Validate(ctx context.Context, req sdk.ValidateRequest) sdk.Result {
	p, err := ParseParams(req.Params)
	if err != nil {
		return notConfigured(err)
	}
	if _, err := os.Stat(p.Binary); err != nil {
		return sdk.Resultf(sdk.ErrNotInstalled, "HAProxy is not installed on this node (%s: %v); apt-get install haproxy, or set binary", p.Binary, err)
	}
	if err := trustedBinary(p.Binary); err != nil {
		return sdk.Resultf(sdk.ErrNotConfigured, "%v", err)
	}
	path := p.Config
	if p.Rendered() {
		f, err := os.CreateTemp("", "tandem-haproxy-validate-*.cfg")
		if err != nil {
			return generic(err)
		}
		defer os.Remove(f.Name())
		sample := []Server{{Name: "node1", Addr: "127.0.0.1", Port: p.BackendPort, Ready: true}, {Name: "node2", Addr: "127.0.0.2", Port: p.BackendPort}}
		_, err = f.WriteString(Render(p, "validate", filepath.Join(os.TempDir(), "tandem-haproxy-validate.sock"), sample))
		f.Close()
		if err != nil {
			return generic(err)
		}
		path = f.Name()
	} else if _, err := os.Stat(path); err != nil {
		return sdk.Resultf(sdk.ErrNotConfigured, "config %s: %v", path, err)
	}
	if err := checkConfig(ctx, p.Binary, path); err != nil {
		return notConfigured(err)
	}
	if p.Rendered() {
		return sdk.Resultf(sdk.OK, "listen %s on %s, servers from %s port %d", p.Proxy, p.Bind, orAll(p.BackendClone), p.BackendPort)
	}
	return sdk.Resultf(sdk.OK, "config %s is valid", path)
}

func orAll(clone string) string {
	if clone == "" {
		return "every online node"
	}
	return "the nodes running " + clone
}

// --- the cluster view ---------------------------------------------------------

func (a *Agent) viewPath(resource string) string {
	return filepath.Join(a.stateDir, resource+".view.json")
}

// view returns req.Cluster, recording it, or the last one recorded (a
// reload of params comes without one).
func (a *Agent) view(in *instance, req sdk.Request) *sdk.ClusterView {
	if req.Cluster != nil {
		if b, err := json.Marshal(req.Cluster); err == nil {
			if err := writeFile(a.viewPath(in.resource), b, 0o600); err != nil {
				slog.Warn("cannot record the cluster view", "err", err)
			}
		}
		return req.Cluster
	}
	b, err := os.ReadFile(a.viewPath(in.resource))
	if err != nil {
		return nil
	}
	var v sdk.ClusterView
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	return &v
}

func writeFile(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// --- configuration ----------------------------------------------------------------

// update brings a rendered configuration in line with view: it renders,
// and when the text changed, checks the new file with haproxy -c and only
// then puts it in place. layoutChanged says a running HAProxy needs a
// reload (servers added, removed or moved; or other params); otherwise only
// server states differ, which the runtime API applies. With
// keepLayout, a layout change is not written (monitor does not reload: the
// file must keep describing what runs).
func (a *Agent) update(ctx context.Context, in *instance, servers []Server, keepLayout bool) (changed, layoutChanged bool, err error) {
	cfg := Render(in.p, in.resource, in.sock, servers)
	old, rerr := os.ReadFile(in.config)
	if rerr == nil && string(old) == cfg {
		return false, false, nil
	}
	layoutChanged = rerr != nil || Layout(string(old)) != Layout(cfg)
	if layoutChanged && keepLayout {
		return false, true, nil
	}
	next := in.config + ".next"
	if err := os.WriteFile(next, []byte(cfg), 0o644); err != nil {
		return false, false, err
	}
	if err := checkConfig(ctx, in.p.Binary, next); err != nil {
		os.Remove(next)
		return false, false, err
	}
	if err := os.Rename(next, in.config); err != nil {
		return false, false, err
	}
	return true, layoutChanged, nil
}

// reload has the master start new workers and waits until one answers on
// the stats socket (a new worker pid), so that what follows (runtime API
// changes) reaches the new workers.
func (a *Agent) reload(ctx context.Context, in *instance) (time.Duration, error) {
	began := time.Now()
	st := stats{in.sock}
	// The running worker's pid, to tell the new one by: read again for a
	// while if the socket does not answer at once (a busy machine), since
	// with none known the old worker's answer would pass for the new one's
	// and what follows would change the old worker's servers.
	old, err := st.pid(ctx)
	for wait := time.Now().Add(2 * time.Second); err != nil && in.sock != "" && time.Now().Before(wait) && ctx.Err() == nil; {
		time.Sleep(20 * time.Millisecond)
		old, err = st.pid(ctx)
	}
	if err := in.ctl.reload(ctx); err != nil {
		return 0, err
	}
	if in.sock == "" {
		return time.Since(began), nil
	}
	for {
		if pid, err := st.pid(ctx); err == nil && pid != old {
			return time.Since(began), nil
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("reload: no new HAProxy worker answered on %s before the deadline", in.sock)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// applyStates sets each server the cluster holds out to down_state and
// each one it runs on to ready, through the runtime API (no reload). It
// returns what it changed.
func (a *Agent) applyStates(ctx context.Context, in *instance, servers []Server) ([]string, error) {
	if len(servers) == 0 {
		return nil, nil
	}
	if in.sock == "" {
		return nil, fmt.Errorf("config %s has no stats socket at level admin: add `stats socket /run/haproxy/admin.sock level admin` to its global section, or set stats_socket", in.config)
	}
	st := stats{in.sock}
	cur, err := st.servers(ctx, in.p.Proxy)
	if err != nil {
		return nil, err
	}
	byName := map[string]ServerStatus{}
	for _, s := range cur {
		byName[s.Name] = s
	}
	var done []string
	for _, s := range servers {
		c, ok := byName[s.Name]
		if !ok {
			continue // an admin's file without a server of that name
		}
		want := ""
		switch {
		case s.Ready && c.Held():
			want = "ready"
		case !s.Ready && in.p.DownState == "maint" && !strings.HasPrefix(c.Status, "MAINT"):
			want = "maint"
		case !s.Ready && in.p.DownState == "drain" && !c.Held():
			want = "drain"
		}
		if want == "" {
			continue
		}
		if err := st.setState(ctx, in.p.Proxy, s.Name, want); err != nil {
			return done, err
		}
		done = append(done, s.Name+" → "+want)
	}
	return done, nil
}

// converge is start's, notify's and reload's common part on a running
// HAProxy: the configuration follows the view (reloading when the layout
// changed, or when force), then the server states follow.
func (a *Agent) converge(ctx context.Context, in *instance, req sdk.Request, force bool) (string, sdk.Result) {
	servers, notes := Desired(in.p, a.view(in, req))
	var parts []string
	layoutChanged := false
	if in.p.Rendered() {
		var err error
		if _, layoutChanged, err = a.update(ctx, in, servers, false); err != nil {
			return "", notConfigured(err)
		}
	} else if force {
		if err := checkConfig(ctx, in.p.Binary, in.config); err != nil {
			return "", notConfigured(err)
		}
	}
	if layoutChanged || force {
		took, err := a.reload(ctx, in)
		if err != nil {
			return "", generic(err)
		}
		parts = append(parts, fmt.Sprintf("reloaded in %s", took.Round(time.Millisecond)))
	}
	changed, err := a.applyStates(ctx, in, servers)
	if err != nil {
		return "", generic(err)
	}
	if len(changed) > 0 {
		parts = append(parts, strings.Join(changed, ", "))
	}
	return strings.Join(append(parts, notes...), "; "), sdk.Result{}
}

// --- actions ----------------------------------------------------------------------

// Start checks the configuration, starts HAProxy (or updates a running
// one), waits until it answers on its stats socket and puts the servers in
// the states the cluster view says.
func (a *Agent) Start(ctx context.Context, req sdk.Request) sdk.Result {
	in, bad := a.instance(req.ResourceID, req.Params)
	if in == nil {
		return bad
	}
	defer a.locks.Lock(req.ResourceID)()
	if err := os.MkdirAll(a.stateDir, 0o755); err != nil {
		return generic(err)
	}
	if in.p.NonlocalBind {
		if err := setNonlocalBind(in.p.Bind); err != nil {
			return generic(err)
		}
	}
	st, err := in.ctl.status(ctx)
	if err != nil {
		return generic(err)
	}
	if st.running {
		msg, res := a.converge(ctx, in, req, false)
		if res.Code != sdk.OK {
			return res
		}
		note, err := a.ready(ctx, in)
		if err != nil {
			return generic(err)
		}
		return sdk.Result{Code: sdk.OK, Message: join("already running", msg, note, a.serverSummary(ctx, in))}
	}
	servers, notes := Desired(in.p, a.view(in, req))
	if in.p.Rendered() {
		if _, _, err := a.update(ctx, in, servers, false); err != nil {
			return notConfigured(err)
		}
	} else if err := checkConfig(ctx, in.p.Binary, in.config); err != nil {
		return notConfigured(err)
	}
	began := time.Now()
	if err := in.ctl.start(ctx); err != nil {
		return generic(fmt.Errorf("start: %w", err))
	}
	if in.sock != "" {
		if err := waitAnswer(ctx, in); err != nil {
			return generic(fmt.Errorf("started, but %w", err))
		}
	}
	changed, err := a.applyStates(ctx, in, servers)
	if err != nil {
		return generic(err)
	}
	note, err := a.ready(ctx, in)
	if err != nil {
		return generic(fmt.Errorf("started, but %w", err))
	}
	return sdk.Result{Code: sdk.OK, Message: join(fmt.Sprintf("started and ready in %s", time.Since(began).Round(time.Millisecond)),
		strings.Join(append(changed, notes...), "; "), note, a.serverSummary(ctx, in))}
}

// readyReserve is the part of a start's time that ready leaves for the
// answer: a first health check still running then is reported, not waited
// for (a check may take the whole connect timeout).
const readyReserve = 2 * time.Second

// ready waits until HAProxy serves: its frontend is OPEN (listening) and
// every server it health-checks and the cluster has in rotation has had
// its first check (a server is UP before its first check, so a dead one
// would get requests until then). A frontend still not open at the
// deadline is an error; a first check still running at readyReserve
// before it is a note, as are servers found DOWN.
func (a *Agent) ready(ctx context.Context, in *instance) (string, error) {
	if in.sock == "" {
		return "", nil
	}
	st := stats{in.sock}
	end := deadlineOf(ctx, 30*time.Second)
	var gone goneCheck
	for {
		sn, err := st.snapshot(ctx, in.p.Proxy)
		if err != nil {
			if g := gone.check(ctx, in); g != nil {
				return "", g
			}
		}
		closed := sn.notOpen(in.p.Proxy)
		var pending, down []string
		for _, s := range sn.servers {
			switch {
			case s.Held():
			case s.FirstCheckPending():
				pending = append(pending, s.Name)
			case s.Down():
				down = append(down, s.Name+" ("+strings.TrimPrefix(s.Check, "* ")+")")
			}
		}
		switch {
		case err == nil && len(closed) == 0 && len(pending) == 0:
			if len(down) > 0 {
				return "first health checks done; DOWN: " + strings.Join(down, ", "), nil
			}
			return "", nil
		case err == nil && len(closed) == 0 && time.Until(end) < readyReserve:
			return fmt.Sprintf("the first health check of %s was still running when the start's time ran out", strings.Join(pending, ", ")), nil
		case ctx.Err() != nil || time.Now().After(end):
			if err != nil {
				return "", fmt.Errorf("HAProxy's stats do not answer before the deadline: %w", err)
			}
			return "", fmt.Errorf("frontend not open before the deadline: %s (show stat on %s)", strings.Join(closed, ", "), in.sock)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}

func waitAnswer(ctx context.Context, in *instance) error {
	st := stats{in.sock}
	var gone goneCheck
	for {
		_, err := st.pid(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("HAProxy did not answer on its stats socket before the deadline: %w", err)
		}
		if g := gone.check(ctx, in); g != nil {
			return g
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goneCheck asks, at most every goneEvery while HAProxy's stats do not
// answer, whether its service has failed for good (systemd gave up on
// it: killed past its start limit), so that a start waiting for it fails
// then instead of at its deadline. A unit systemd is restarting is not
// failed: the wait goes on.
type goneCheck struct{ last time.Time }

const goneEvery = 200 * time.Millisecond

func (g *goneCheck) check(ctx context.Context, in *instance) error {
	if time.Since(g.last) < goneEvery {
		return nil
	}
	g.last = time.Now()
	st, err := in.ctl.status(ctx)
	if err != nil || !st.failed {
		return nil
	}
	return fmt.Errorf("HAProxy failed while the cluster waited for it to serve: %s", st.detail)
}

func (a *Agent) serverSummary(ctx context.Context, in *instance) string {
	if in.sock == "" {
		return ""
	}
	list, err := stats{in.sock}.servers(ctx, in.p.Proxy)
	if err != nil {
		return ""
	}
	return summary(in.p.Proxy, list)
}

// setNonlocalBind lets HAProxy bind the VIP before it is local, for the
// whole network namespace. /proc/sys is read-only in a container: there,
// set it from the host or use transparent (the default).
func setNonlocalBind(bind string) error {
	key := "/proc/sys/net/ipv4/ip_nonlocal_bind"
	if strings.HasPrefix(bind, "[") {
		key = "/proc/sys/net/ipv6/ip_nonlocal_bind"
	}
	if b, err := os.ReadFile(key); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(key, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("nonlocal_bind: cannot set %s (%v); in a container /proc/sys is read-only: set it from the host (sysctl -w net.ipv4.ip_nonlocal_bind=1 in the node's namespace) or use transparent = true instead", key, err)
	}
	return nil
}

// Stop stops HAProxy; a stopped one is stopped.
func (a *Agent) Stop(ctx context.Context, req sdk.Request) sdk.Result {
	in, bad := a.instance(req.ResourceID, req.Params)
	if in == nil {
		return bad
	}
	defer a.locks.Lock(req.ResourceID)()
	if err := in.ctl.stop(ctx); err != nil {
		return generic(fmt.Errorf("stop: %w", err))
	}
	if in.p.Rendered() && in.p.StatsSocket == "" {
		_ = os.Remove(in.sock)
	}
	return sdk.Result{Code: sdk.OK, Message: "stopped"}
}

// Monitor says whether the master runs and answers on the stats socket,
// and reports each server's state. It also puts the servers in the states
// of the cluster view it is given (runtime API only: a change of the
// server list waits for notify, which reloads).
func (a *Agent) Monitor(ctx context.Context, req sdk.Request) sdk.Result {
	in, bad := a.instance(req.ResourceID, req.Params)
	if in == nil {
		return bad
	}
	defer a.locks.Lock(req.ResourceID)()
	r := a.monitor(ctx, in, req)
	if r.Code == sdk.ErrGeneric {
		// HAProxy may have died during the monitor, after status said
		// it runs (its stats socket refused a command), and
		// systemd be restarting it in place: status waits for that
		// restart to settle; if HAProxy runs again, look once more
		// rather than count a failure the restart already repaired.
		if st, err := in.ctl.status(ctx); err == nil && st.running {
			r = a.monitor(ctx, in, req)
		}
	}
	return r
}

// monitor is one look at HAProxy for Monitor.
func (a *Agent) monitor(ctx context.Context, in *instance, req sdk.Request) sdk.Result {
	st, err := in.ctl.status(ctx)
	if err != nil {
		return generic(err)
	}
	if !st.running {
		if st.failed {
			return sdk.Result{Code: sdk.ErrGeneric, Message: st.detail}
		}
		if u, ok := in.ctl.(unit); ok {
			// Install the unit's drop-in now rather than at the start.
			u.m.Prepare(u.name, u.dropIn())
		}
		return sdk.Result{Code: sdk.NotRunning, Message: st.detail}
	}
	if in.sock == "" {
		return sdk.Result{Code: sdk.OK, Message: st.detail + "; no admin stats socket, so the servers are not shown"}
	}
	info, err := stats{in.sock}.info(ctx)
	if err != nil {
		return sdk.Resultf(sdk.ErrGeneric, "%s, but it does not answer: %v", st.detail, err)
	}
	var notes []string
	if req.Cluster != nil {
		servers, n := Desired(in.p, a.view(in, req))
		notes = n
		if in.p.Rendered() {
			_, layoutChanged, err := a.update(ctx, in, servers, true)
			if err != nil {
				notes = append(notes, err.Error())
			} else if layoutChanged {
				notes = append(notes, "the server list changed; the next notify reloads HAProxy")
			}
		}
		changed, err := a.applyStates(ctx, in, servers)
		if err != nil {
			return generic(err)
		}
		notes = append(notes, changed...)
	}
	sn, err := stats{in.sock}.snapshot(ctx, in.p.Proxy)
	if err != nil {
		return generic(err)
	}
	if len(sn.notOpen(in.p.Proxy)) > 0 {
		// A worker in the middle of a reload (an admin's systemctl
		// reload) may answer for a moment with its frontend stopping:
		// look once more before calling it a failure.
		time.Sleep(200 * time.Millisecond)
		if sn, err = (stats{in.sock}).snapshot(ctx, in.p.Proxy); err != nil {
			return generic(err)
		}
	}
	if closed := sn.notOpen(in.p.Proxy); len(closed) > 0 {
		return sdk.Resultf(sdk.ErrGeneric, "%s, but its frontend does not accept connections: %s", st.detail, strings.Join(closed, ", "))
	}
	msg := join(fmt.Sprintf("%s, worker pid %s", st.detail, info["Pid"]), summary(in.p.Proxy, sn.servers), strings.Join(notes, "; "))
	// Degraded (running, no failure counted, a warning in status): servers
	// the cluster has in rotation but HAProxy's checks find DOWN (their
	// node's Apache died before the cluster noticed, or the network
	// between), and a HAProxy systemd restarted by itself lately.
	var warn []string
	var down []string
	for _, s := range sn.servers {
		if !s.Held() && s.Down() {
			down = append(down, s.Name+" ("+strings.TrimPrefix(s.Check, "* ")+")")
		}
	}
	if len(down) > 0 {
		warn = append(warn, fmt.Sprintf("%d of %d servers DOWN (failing HAProxy's health checks): %s", len(down), len(sn.servers), strings.Join(down, ", ")))
	}
	if st.restarted != "" {
		warn = append(warn, st.restarted)
	}
	if len(warn) > 0 {
		return sdk.Result{Code: sdk.Degraded, Message: join(strings.Join(warn, "; "), msg)}
	}
	return sdk.Result{Code: sdk.OK, Message: msg}
}

// Notify follows the cluster: servers of nodes that stopped running the
// backend clone (or left) go to down_state and come back to ready, through
// the runtime API; a change of the server list itself (a node added,
// an address changed) reloads gracefully.
func (a *Agent) Notify(ctx context.Context, req sdk.Request) sdk.Result {
	in, bad := a.instance(req.ResourceID, req.Params)
	if in == nil {
		return bad
	}
	defer a.locks.Lock(req.ResourceID)()
	st, err := in.ctl.status(ctx)
	if err != nil {
		return generic(err)
	}
	if !st.running {
		// Recorded for the next start.
		a.view(in, req)
		return sdk.Result{Code: sdk.OK, Message: "not running; the view is kept for the next start"}
	}
	msg, res := a.converge(ctx, in, req, false)
	if res.Code != sdk.OK {
		return res
	}
	return sdk.Result{Code: sdk.OK, Message: join(msg, a.serverSummary(ctx, in))}
}

// Reload applies new params (or an edited admin's file) with a graceful
// reload, after haproxy -c accepted the configuration.
func (a *Agent) Reload(ctx context.Context, req sdk.Request) sdk.Result {
	in, bad := a.instance(req.ResourceID, req.Params)
	if in == nil {
		return bad
	}
	defer a.locks.Lock(req.ResourceID)()
	st, err := in.ctl.status(ctx)
	if err != nil {
		return generic(err)
	}
	if !st.running {
		return sdk.Result{Code: sdk.NotRunning, Message: "not running: nothing to reload"}
	}
	msg, res := a.converge(ctx, in, req, true)
	if res.Code != sdk.OK {
		return res
	}
	return sdk.Result{Code: sdk.OK, Message: join(msg, a.serverSummary(ctx, in))}
}

// trustedBinaries are run whatever their owner says: the distribution's.
var trustedBinaries = []string{DefaultBinary}

// trustedBinary refuses a binary parameter naming a file that someone
// other than root could have written: the agent runs it as root.
func trustedBinary(path string) error {
	if slices.Contains(trustedBinaries, path) {
		return nil
	}
	if err := sdk.CheckTrusted(path); err != nil {
		return fmt.Errorf("binary: %w", err)
	}
	return nil
}
