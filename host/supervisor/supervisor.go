// Package supervisor runs the host's resource agent plugins: it discovers
// tandem-plugin-* executables in the plugin directory, launches each one
// (sdk.Launch: handshake, AutoMTLS, API negotiation), pings it, restarts it
// with backoff when it crashes, hangs or stops answering, and runs agent
// operations on it with a host-side timeout. A plugin restart never
// restarts resources: the next monitor re-learns their state. The only
// state replayed to a new plugin process is the holds in force on fenced
// resources.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Config says where plugins are and how patiently to treat them. Zero
// values take the defaults.
type Config struct {
	// Dir holds the tandem-plugin-* executables; default: the directory of
	// the running executable (first-party plugins are installed beside
	// tandem).
	Dir    string
	Logger *slog.Logger
	// Env is added to every plugin's environment.
	Env []string
	// Observe, when set, is told of every plugin call's outcome (op is the
	// action: start, monitor, validate, meta-data, hold, ...); metrics.
	Observe func(agent, op string, o Outcome)

	StartTimeout time.Duration // handshake; default 10 s
	PingInterval time.Duration // default 5 s
	PingTimeout  time.Duration // default 2 s
	BackoffMin   time.Duration // first restart delay; default 100 ms
	BackoffMax   time.Duration // default 30 s
	// StableAfter: a plugin process that lived this long restarts with
	// BackoffMin again; default 1 min.
	StableAfter time.Duration
	// MaxLaunchFailures: after this many launches in a row failed (no
	// handshake: not a plugin, wrong name, wrong API version), the plugin
	// is reported broken and not launched again until its file changes
	// (checked every BrokenPoll); default 5, 2 s.
	MaxLaunchFailures int
	BrokenPoll        time.Duration
	// TimeoutGrace is how long past an operation's deadline the host still
	// waits for the plugin's answer (the plugin's context ends at the
	// deadline; a well-behaved agent answers right then). A plugin that has
	// not answered by then is restarted. Default 1 s.
	TimeoutGrace time.Duration
	// DefaultTimeout applies to operations run with no timeout; default
	// 20 s (Pacemaker's default operation timeout).
	DefaultTimeout time.Duration
	// RescanInterval is how often the plugin dir is read again: a new
	// plugin is found (and used, idle until needed with OnDemand), a new
	// unused file is logged with why, and a plugin whose file was
	// replaced is relaunched from the new file once the operations in
	// flight have finished (DrainLimit at most); resources are left as
	// they are. Default 2 s.
	RescanInterval time.Duration
	DrainLimit     time.Duration // default 1 min
	// OnNewPlugin, when set, is called with the name of each plugin a
	// rescan finds after Start (the host then asks its agents for their
	// meta-data for the resources configured with them).
	OnNewPlugin func(name string)
	// OnDemand leaves every plugin idle at Start and launches each one the
	// first time an operation needs it: a node runs only the plugins its
	// resources use. Once launched, a
	// plugin is kept running.
	OnDemand bool
}

// PackagedDir is where an installed tandem keeps its plugins, from the
// tandem executable's directory: the Debian package installs /usr/bin/tandem
// and its first-party plugins in /usr/lib/tandem/plugins.
const PackagedDir = "../lib/tandem/plugins"

// DefaultDir is the plugin directory when none is configured: for a
// tandem installed as PREFIX/bin/tandem, PREFIX/lib/tandem/plugins if that
// directory exists (the package's); else the directory of the running
// tandem executable (symlinks resolved; a build tree's bin/).
func DefaultDir() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("plugin dir: finding the tandem executable: %w", err)
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return defaultDirFor(exe), nil
}

func defaultDirFor(exe string) string {
	dir := filepath.Dir(exe)
	if filepath.Base(dir) == "bin" {
		packaged := filepath.Join(dir, PackagedDir)
		if st, err := os.Stat(packaged); err == nil && st.IsDir() {
			return packaged
		}
	}
	return dir
}

func (c *Config) defaults() error {
	if c.Dir == "" {
		dir, err := DefaultDir()
		if err != nil {
			return err
		}
		c.Dir = dir
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.StartTimeout, 10*time.Second)
	def(&c.PingInterval, 5*time.Second)
	def(&c.PingTimeout, 2*time.Second)
	def(&c.BackoffMin, 100*time.Millisecond)
	def(&c.BackoffMax, 30*time.Second)
	def(&c.StableAfter, time.Minute)
	def(&c.BrokenPoll, 2*time.Second)
	if c.MaxLaunchFailures <= 0 {
		c.MaxLaunchFailures = 5
	}
	def(&c.TimeoutGrace, time.Second)
	def(&c.DefaultTimeout, 20*time.Second)
	def(&c.RescanInterval, 2*time.Second)
	def(&c.DrainLimit, time.Minute)
	return nil
}

// Supervisor owns the plugin processes of one host.
type Supervisor struct {
	cfg     Config
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.RWMutex
	plugins map[string]*plugin
	closed  bool

	scanMu   sync.Mutex
	reported map[string]string // file -> why it is not used, as last logged
	dirErr   string            // the last error reading the dir, as logged
	scanned  bool              // the dir was read once (by Start)
}

// Errors callers branch on.
var (
	ErrUnknownPlugin = errors.New("no such plugin")
	ErrUnavailable   = errors.New("plugin unavailable")
	ErrClosed        = errors.New("supervisor closed")
)

// New checks the configuration; Start discovers and launches the plugins.
func New(cfg Config) (*Supervisor, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	st, err := os.Stat(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("plugin dir %s: %w", cfg.Dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("plugin dir %s is not a directory", cfg.Dir)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Supervisor{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, plugins: map[string]*plugin{}, reported: map[string]string{}}, nil
}

// Dir is the plugin directory in use.
func (s *Supervisor) Dir() string { return s.cfg.Dir }

var pluginName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Discover lists the plugins in dir: executables named tandem-plugin-<name>
// (symlinks followed), by name. Files whose name is not a valid plugin name
// (backups, checksums) are skipped. A plugin runs as root, so one that
// sdk.CheckTrusted refuses (not owned by root, or writable by group or
// others) is left out, and listed in refused with why; a plugin dir it
// refuses is an error. Scan says why of every file left out.
func Discover(dir string) (found map[string]string, refused map[string]error, err error) {
	found, unused, err := Scan(dir)
	if err != nil {
		return nil, nil, err
	}
	refused = map[string]error{}
	for _, u := range unused {
		if u.Untrusted != nil {
			refused[u.Plugin] = u.Untrusted
		}
	}
	return found, refused, nil
}

// Unused is a file of the plugin dir that is not used as a plugin, and why.
type Unused struct {
	File   string // its name in the dir
	Plugin string // the plugin name it would have had; "" when none
	Why    string
	// Untrusted is sdk.CheckTrusted's refusal, when that is why.
	Untrusted error
}

// Scan is Discover with a reason for every file of dir that is not used:
// not named tandem-plugin-NAME, a NAME that is not valid (lower case
// letters, digits, - and _), not a regular file, not executable, or not
// trusted (owner, mode).
func Scan(dir string) (found map[string]string, unused []Unused, err error) {
	if err := sdk.CheckTrusted(dir); err != nil {
		return nil, nil, fmt.Errorf("plugin dir not trusted: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading plugin dir: %w", err)
	}
	found = map[string]string{}
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), sdk.PluginPrefix)
		if !ok {
			unused = append(unused, Unused{File: e.Name(), Why: "not named " + sdk.PluginPrefix + "NAME"})
			continue
		}
		if !pluginName.MatchString(name) {
			unused = append(unused, Unused{File: e.Name(), Why: fmt.Sprintf("%q is not a plugin name (lower-case letters, digits, - and _, starting with a letter or digit)", name)})
			continue
		}
		path := filepath.Join(dir, e.Name())
		st, err := os.Stat(path)
		switch {
		case err != nil:
			unused = append(unused, Unused{File: e.Name(), Plugin: name, Why: err.Error()})
			continue
		case !st.Mode().IsRegular():
			unused = append(unused, Unused{File: e.Name(), Plugin: name, Why: "not a regular file"})
			continue
		case st.Mode().Perm()&0o111 == 0:
			unused = append(unused, Unused{File: e.Name(), Plugin: name, Why: fmt.Sprintf("not executable (mode %#o; chmod 755 it)", st.Mode().Perm())})
			continue
		}
		if err := sdk.CheckTrusted(path); err != nil {
			unused = append(unused, Unused{File: e.Name(), Plugin: name, Why: "not trusted: " + err.Error(), Untrusted: err})
			continue
		}
		found[name] = path
	}
	return found, unused, nil
}

// Start discovers the plugins and launches each (with Config.OnDemand:
// none; they wait, idle, until needed), returning once every launched one
// has either come up or failed its first launch (or ctx ends). A plugin
// that fails keeps being retried with backoff; Plugins shows why it is
// down. Start fails only when the plugin dir cannot be read. From then on
// the dir is read again every Config.RescanInterval (see Rescan).
func (s *Supervisor) Start(ctx context.Context) error {
	started, err := s.scan()
	if err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.plugins) == 0 {
		s.log.Warn("no plugins found", "dir", s.cfg.Dir, "pattern", sdk.PluginPrefix+"*")
	}
	if !s.closed {
		s.wg.Add(1)
		go s.rescanLoop()
	}
	s.mu.Unlock()
	for _, p := range started {
		p.waitFirstLaunch(ctx)
	}
	return nil
}

// supervise starts keeping p running, unless the supervisor is closed.
func (s *Supervisor) supervise(p *plugin) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		p.stopped()
		close(p.launched)
		return
	}
	s.superviseLocked(p)
}

func (s *Supervisor) superviseLocked(p *plugin) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		p.keep(s.ctx)
	}()
}

// Close kills every plugin process and stops supervising. Resources are
// left as they are.
func (s *Supervisor) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Lookup resolves an agent string ("systemd:apache2", "vip") to the
// plugin's name and the agent type. It fails when no such plugin was found
// in the plugin dir, or when the plugin does not provide the type (known
// once the plugin has been launched).
func (s *Supervisor) Lookup(agent string) (pluginName, agentType string, err error) {
	pluginName, agentType, ok := strings.Cut(agent, ":")
	if !ok {
		agentType = pluginName
	}
	p, err := s.plugin(pluginName)
	if err != nil {
		return "", "", err
	}
	if err := p.provides(agent, agentType); err != nil {
		return "", "", err
	}
	return pluginName, agentType, nil
}

// provides fails when the plugin said it does not provide agentType; before
// its first launch it cannot tell, and passes.
func (p *plugin) provides(agent, agentType string) error {
	if types := p.types(); types != nil && !contains(types, agentType) && !contains(types, "*") {
		return fmt.Errorf("agent %q: plugin %q does not provide agent type %q (it provides: %s)", agent, p.name, agentType, strings.Join(types, ", "))
	}
	return nil
}

func (s *Supervisor) plugin(name string) (*plugin, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	p, ok := s.plugins[name]
	if !ok {
		names := make([]string, 0, len(s.plugins))
		for n := range s.plugins {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%w %q: no %s%s in %s (plugins found: %s)", ErrUnknownPlugin, name, sdk.PluginPrefix, name, s.cfg.Dir, strings.Join(names, ", "))
	}
	return p, nil
}

// Status is one plugin's state, for `tandem status`.
type Status struct {
	Name       string
	Path       string
	State      State
	Pid        int // 0 when not running
	Restarts   int // restarts after the first launch
	LastError  string
	Version    string   // the plugin's own version
	APIVersion string   // negotiated agent API version
	Types      []string // agent types it provides
	Since      time.Time
}

// String is the daemon line of `tandem status`: "vip: running, pid 4242,
// restarts 0, version 1.0.0" (the version once the plugin was launched).
func (st Status) String() string {
	version := ""
	if st.Version != "" {
		version = ", version " + st.Version
	}
	switch st.State {
	case StateRunning:
		return fmt.Sprintf("%s: running, pid %d, restarts %d%s", st.Name, st.Pid, st.Restarts, version)
	case StateFailed, StateBroken:
		return fmt.Sprintf("%s: %s, restarts %d: %s", st.Name, st.State, st.Restarts, st.LastError)
	}
	return fmt.Sprintf("%s: %s, restarts %d%s", st.Name, st.State, st.Restarts, version)
}

// Plugins lists every plugin's state, by name.
func (s *Supervisor) Plugins() []Status {
	s.mu.RLock()
	ps := make([]*plugin, 0, len(s.plugins))
	for _, p := range s.plugins {
		ps = append(ps, p)
	}
	s.mu.RUnlock()
	out := make([]Status, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
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
