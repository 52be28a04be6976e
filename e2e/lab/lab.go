// Package lab runs real multi-host Tandem clusters on one machine: every
// member of a cluster file (the nodes and the witness) boots as a
// systemd-nspawn container with real systemd as PID 1, in a network
// namespace of its own, linked by a veth to a host bridge on a sub-range of
// 198.18.0.0/24. Node roots are an overlay on one cached Debian bookworm root
// (debootstrap); node set-up is vagrant/provision/node.sh, the same script
// the Vagrant lab runs, so the two labs cannot drift.
//
// A lab is named by its prefix: bridge, namespaces, veths, machines, cgroups
// and state all derive from it, so labs of different prefixes and subnets
// coexist. The state of a lab lives in <StateDir>/<prefix>/lab.json, so the
// lab command can operate on a lab brought up by another process (Open).
package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/memstat"
	"github.com/tandem-ha/tandem/host/config"
)

// Member is one host of a lab: a node or the witness of the cluster file.
type Member struct {
	Name    string     `json:"name"`
	Addr    netip.Addr `json:"addr"`
	Witness bool       `json:"witness,omitempty"`
}

// nodeState is what the lab knows about one member's host objects.
type nodeState struct {
	Member
	Veth      string `json:"veth"`
	NetNS     string `json:"netns"`
	Machine   string `json:"machine"`
	MachineID string `json:"machine_id"`
	Nspawn    proc   `json:"nspawn"`
	Init      proc   `json:"init"`
	PidNS     uint64 `json:"pidns"`
	Running   bool   `json:"running"`

	nlMu sync.Mutex // guards nl
	nl   *nlHandle  // netlink handle in the node's namespace (Addrs)
}

// state is the persisted description of a running lab (lab.json).
type state struct {
	Prefix      string       `json:"prefix"`
	Subnet      netip.Prefix `json:"subnet"`
	Bridge      netip.Addr   `json:"bridge"`
	BridgeName  string       `json:"bridge_name"`
	Config      string       `json:"config"` // the lab's copy, installed in every node
	Key         string       `json:"key"`    // the lab's cluster secret
	PKI         string       `json:"pki"`    // the lab's PKI directory (tandem pki init)
	Root        string       `json:"root"`   // cached lower root
	BinDir      string       `json:"bin_dir"`
	RepoDir     string       `json:"repo_dir"`
	StartTandem bool         `json:"start_tandem"`
	Package     string       `json:"package,omitempty"` // Options.Package
	Nodes       []*nodeState `json:"nodes"`
}

// Lab is a running lab. Its methods are safe for concurrent use.
type Lab struct {
	dir  string // <StateDir>/<prefix>
	logf func(string, ...any)
	cfg  *config.File

	mu sync.Mutex // guards st and serialises operations that change hosts
	st state
}

// Paths inside every node.
const (
	NodeBinDir = "/opt/tandem/bin"
	NodeConfig = "/etc/tandem/cluster.toml"
	nodePath   = "/opt/tandem/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// Up brings a lab up: it removes leftovers of an earlier lab of the same
// prefix, builds or reuses the cached node root, and boots every member of
// the cluster file, waiting until each one's systemd is up (running or
// degraded). On failure it tears down what it created.
func Up(ctx context.Context, opts Options) (*Lab, error) {
	o, err := opts.Defaults()
	if err != nil {
		return nil, err
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	for _, tool := range []string{"systemd-nspawn", "debootstrap", "ip", "bridge", "nsenter", "chroot", "journalctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("lab needs %s on PATH (Debian packages: systemd-container debootstrap iproute2 util-linux systemd): %w", tool, err)
		}
	}
	if err := cleanup(o.StateDir, o.Prefix, logf); err != nil {
		return nil, fmt.Errorf("removing leftovers of lab %q: %w", o.Prefix, err)
	}
	recipe, err := LoadRecipe(o.RepoDir)
	if err != nil {
		return nil, err
	}
	root, _, err := EnsureRoot(ctx, recipe, o.CacheDir, o.Mirror, logf)
	if err != nil {
		return nil, err
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	l := &Lab{dir: filepath.Join(o.StateDir, o.Prefix), logf: logf}
	if err := l.create(ctx, o, root); err != nil {
		if derr := l.Down(); derr != nil {
			err = fmt.Errorf("%w (and tearing down: %v)", err, derr)
		}
		return nil, err
	}
	logf("lab %s up in %s: %s", o.Prefix, time.Since(start).Round(100*time.Millisecond), l.summary())
	return l, nil
}

func (l *Lab) create(ctx context.Context, o Options, root string) error {
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return err
	}
	// The lab's own copy of the cluster file, relocated into its subnet.
	data, err := os.ReadFile(o.Config)
	if err != nil {
		return fmt.Errorf("cluster file: %w", err)
	}
	if o.Relocate {
		if data, err = RelocateConfig(data, ReferenceSubnet, o.Subnet); err != nil {
			return fmt.Errorf("%s: %w", o.Config, err)
		}
	}
	cfgPath := filepath.Join(l.dir, "cluster.toml")
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("cluster file %s (lab copy %s): %w", o.Config, cfgPath, err)
	}
	l.cfg = cfg
	n := names{o.Prefix}
	l.st = state{Prefix: o.Prefix, Subnet: o.Subnet, Bridge: o.Bridge, BridgeName: n.bridge(),
		Config: cfgPath, Key: filepath.Join(l.dir, "cluster.key"), PKI: filepath.Join(l.dir, "pki"), Root: root,
		BinDir: o.BinDir, RepoDir: o.RepoDir, StartTandem: o.StartTandem, Package: o.Package}
	members, err := labMembers(cfg.Topology, o)
	if err != nil {
		return err
	}
	for i, m := range members {
		l.st.Nodes = append(l.st.Nodes, &nodeState{Member: m, Veth: n.veth(m.Name, i),
			NetNS: n.netns(m.Name), Machine: n.machine(m.Name), MachineID: randomHex(16)})
	}
	if err := l.save(); err != nil { // from here on, Cleanup knows everything
		return err
	}
	tandem := filepath.Join(o.BinDir, "tandem")
	if out, err := exec.CommandContext(ctx, tandem, "keygen", "--out", l.st.Key).CombinedOutput(); err != nil {
		return fmt.Errorf("%s keygen: %w: %s", tandem, err, out)
	}
	if out, err := exec.CommandContext(ctx, tandem, "pki", "init", "--config", cfgPath, "--dir", l.st.PKI).CombinedOutput(); err != nil {
		return fmt.Errorf("%s pki init: %w: %s", tandem, err, out)
	}
	if err := l.addBridge(); err != nil {
		return err
	}
	for _, nd := range l.st.Nodes {
		if err := l.prepareRoot(ctx, nd); err != nil {
			return err
		}
	}
	for _, nd := range l.st.Nodes {
		if err := l.start(ctx, nd); err != nil {
			return err
		}
	}
	if err := l.save(); err != nil {
		return err
	}
	return l.waitAll(ctx, l.st.Nodes)
}

// labMembers checks the cluster file's members against the lab's subnet.
func labMembers(top *bus.Topology, o Options) ([]Member, error) {
	var out []Member
	seen := map[netip.Addr]string{}
	for _, m := range top.Members {
		if !nodeNameRE.MatchString(m.Name) {
			return nil, fmt.Errorf("%s: member %q: lab host names must be 1-%d lower-case letters, digits or '-' (they name machines and namespaces)", o.Config, m.Name, ifNameMax-len(o.Prefix)-1)
		}
		a, err := netip.ParseAddr(m.Address)
		if err != nil {
			return nil, fmt.Errorf("%s: member %s: address %q: %w", o.Config, m.Name, m.Address, err)
		}
		if !o.Subnet.Contains(a) || a == o.Bridge || a == o.Subnet.Addr() || a == lastAddr(o.Subnet) {
			hint := ""
			if !o.Relocate && ReferenceSubnet.Contains(a) {
				hint = " (set Relocate / --relocate to move the reference addresses into the lab's subnet)"
			}
			return nil, fmt.Errorf("%s: member %s: address %s is not a host address of the lab subnet %s other than the bridge %s%s", o.Config, m.Name, a, o.Subnet, o.Bridge, hint)
		}
		if other, dup := seen[a]; dup {
			return nil, fmt.Errorf("%s: members %s and %s share the address %s", o.Config, other, m.Name, a)
		}
		seen[a] = m.Name
		out = append(out, Member{Name: m.Name, Addr: a, Witness: m.Witness})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no members", o.Config)
	}
	return out, nil
}

var nodeNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,8}$`)

var ipv4RE = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)

// RelocateConfig rewrites every IPv4 address of from found in a cluster file
// to the address at the same offset in to (198.18.0.22 of 198.18.0.0/27
// becomes 198.18.0.54 in 198.18.0.32/27). Other addresses are kept.
func RelocateConfig(data []byte, from, to netip.Prefix) ([]byte, error) {
	from, to = from.Masked(), to.Masked()
	base, tbase := v4(from.Addr()), v4(to.Addr())
	var bad error
	out := ipv4RE.ReplaceAllFunc(data, func(b []byte) []byte {
		a, err := netip.ParseAddr(string(b))
		if err != nil || !from.Contains(a) {
			return b
		}
		na := fromV4(tbase + v4(a) - base)
		if !to.Contains(na) {
			bad = fmt.Errorf("address %s of %s has no counterpart in %s (too small)", a, from, to)
		}
		return []byte(na.String())
	})
	return out, bad
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromV4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Open returns the lab of prefix brought up earlier (possibly by another
// process), from its state file under stateDir ("" for the default).
func Open(prefix, stateDir string) (*Lab, error) {
	stateDir = firstOf(stateDir, os.Getenv(EnvState), DefaultStateDir)
	dir := filepath.Join(stateDir, prefix)
	data, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab %q: %w (no %s)", prefix, errNoLab, filepath.Join(dir, "lab.json"))
	}
	if err != nil {
		return nil, err
	}
	l := &Lab{dir: dir, logf: func(string, ...any) {}}
	if err := json.Unmarshal(data, &l.st); err != nil {
		return nil, fmt.Errorf("%s/lab.json: %w", dir, err)
	}
	if l.cfg, err = config.Load(l.st.Config); err != nil {
		return nil, err
	}
	return l, nil
}

// SetLogf sets where progress lines of later operations go.
func (l *Lab) SetLogf(logf func(string, ...any)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logf = logf
}

func (l *Lab) save() error {
	data, err := json.MarshalIndent(&l.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(l.dir, "lab.json.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(l.dir, "lab.json"))
}

func (l *Lab) summary() string {
	var parts []string
	for _, n := range l.st.Nodes {
		parts = append(parts, n.Name+"="+n.Addr.String())
	}
	return strings.Join(parts, " ")
}

// Down tears the lab down completely: machines, namespaces, veths, bridge,
// cgroups, mounts and the lab's state directory. It is idempotent.
func (l *Lab) Down() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.st.Nodes {
		n.closeNL()
	}
	return cleanup(filepath.Dir(l.dir), filepath.Base(l.dir), l.logf)
}

// Cleanup removes every leftover of the lab prefix (a crashed run, or a lab
// still up) under the default state directory; Up does it first.
func Cleanup(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("lab prefix %q: use 1-9 lower-case letters and digits, starting with a letter", prefix)
	}
	return cleanup(firstOf(os.Getenv(EnvState), DefaultStateDir), prefix, func(string, ...any) {})
}

// Prefix, Subnet, BridgeAddr and ConfigFile describe the lab: ConfigFile is
// the host path of the cluster file installed in every node.
func (l *Lab) Prefix() string         { return l.st.Prefix }
func (l *Lab) Subnet() netip.Prefix   { return l.st.Subnet }
func (l *Lab) BridgeAddr() netip.Addr { return l.st.Bridge }
func (l *Lab) ConfigFile() string     { return l.st.Config }
func (l *Lab) KeyFile() string        { return l.st.Key }

// PKIDir is the lab's PKI directory: the CA, every member's certificate and
// the admin's (tandem pki init on the host).
func (l *Lab) PKIDir() string { return l.st.PKI }

// Connect connects to the lab's bus from the host with the admin
// certificate, as tandem commands do.
func (l *Lab) Connect(name string) (*bus.Conn, error) {
	top := *l.Config().Topology
	top.TLS = &bus.TLS{Dir: l.st.PKI}
	return bus.Connect(bus.ConnectOptions{Topology: &top, Name: name})
}

// MemberPKI copies what member needs of the lab's PKI directory (the CA,
// its own certificate and key, the admin's) into dir, for node.sh --pki.
func (l *Lab) MemberPKI(member, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{"ca.crt", member + ".crt", member + ".key", "admin.crt", "admin.key"} {
		data, err := os.ReadFile(filepath.Join(l.st.PKI, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
func (l *Lab) Config() *config.File { return l.cfg }
func (l *Lab) BridgeName() string   { return l.st.BridgeName }
func (l *Lab) StateDir() string     { return l.dir }

// Members lists the lab's hosts, nodes first, then the witness.
func (l *Lab) Members() []Member {
	out := make([]Member, len(l.st.Nodes))
	for i, n := range l.st.Nodes {
		out[i] = n.Member
	}
	return out
}

// Names lists the lab's host names in Members order.
func (l *Lab) Names() []string {
	var out []string
	for _, n := range l.st.Nodes {
		out = append(out, n.Name)
	}
	return out
}

func (l *Lab) node(name string) (*nodeState, error) {
	for _, n := range l.st.Nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("lab %s has no host %q (hosts: %s)", l.st.Prefix, name, strings.Join(l.Names(), ", "))
}

// NodeAddr is the node's own address (invalid for an unknown name).
func (l *Lab) NodeAddr(name string) netip.Addr {
	n, err := l.node(name)
	if err != nil {
		return netip.Addr{}
	}
	return n.Addr
}

// NetNS is the name of the node's network namespace (`ip netns exec NAME`);
// its path is /run/netns/NAME. A killed node has none until Restart.
func (l *Lab) NetNS(name string) string {
	n, err := l.node(name)
	if err != nil {
		return ""
	}
	return n.NetNS
}

// Machine is the container's machine name.
func (l *Lab) Machine(name string) string {
	n, err := l.node(name)
	if err != nil {
		return ""
	}
	return n.Machine
}

// RootDir is the host path of the node's root file system (its overlay):
// files written there appear in the node at once, except below /tmp and
// /run, which are tmpfs mounts of the running node.
func (l *Lab) RootDir(name string) string {
	n, err := l.node(name)
	if err != nil {
		return ""
	}
	return l.rootfs(n)
}

// LivePath is the host path that reaches path inside the running node, in
// its own mount namespace (through its init's /proc root): unlike RootDir
// it also reaches /run and /tmp, such as a unix socket a service listens
// on there.
func (l *Lab) LivePath(name, path string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(name)
	if err != nil {
		return "", err
	}
	if n.Init.PID == 0 {
		return "", fmt.Errorf("%s is not running", name)
	}
	return fmt.Sprintf("/proc/%d/root%s", n.Init.PID, path), nil
}

// Running reports whether the node's container runs (its init is alive).
func (l *Lab) Running(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(name)
	return err == nil && n.Running && n.Init.alive()
}

// Packaged says whether the nodes run Tandem from the Debian package
// (Options.Package) rather than from the bind-mounted build directory.
func (l *Lab) Packaged() bool { return l.st.Package != "" }

// Package is the Debian package the nodes run Tandem from ("" when they
// run the bind-mounted build directory).
func (l *Lab) Package() string { return l.st.Package }

// PluginDir is the first-party plugins' directory inside the nodes: the
// package's /usr/lib/tandem/plugins, else NodeBinDir.
func (l *Lab) PluginDir() string {
	if l.Packaged() {
		return "/usr/lib/tandem/plugins"
	}
	return NodeBinDir
}

// TandemPath is the tandem executable inside the nodes: the package's
// /usr/bin/tandem, else NodeBinDir's.
func (l *Lab) TandemPath() string {
	if l.Packaged() {
		return "/usr/bin/tandem"
	}
	return NodeBinDir + "/tandem"
}

// Unit is the systemd unit that runs Tandem on node: tandem.service, but
// the package's tandem-witness.service on the witness of a packaged lab.
func (l *Lab) Unit(node string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, err := l.node(node); err == nil && n.Witness && l.Packaged() {
		return "tandem-witness.service"
	}
	return "tandem.service"
}

// StartTandem starts the node's Tandem unit (Unit); StopTandem stops it.
func (l *Lab) StartTandem(ctx context.Context, node string) error {
	_, err := l.Exec(ctx, node, "systemctl", "start", l.Unit(node))
	return err
}

// StopTandem stops the node's Tandem unit (its plugins are children of
// tandem and stop with it).
func (l *Lab) StopTandem(ctx context.Context, node string) error {
	_, err := l.Exec(ctx, node, "systemctl", "stop", l.Unit(node))
	return err
}

// ServicePIDs lists the host PIDs of the processes of a systemd service
// (e.g. "tandem.service") in the node, from the node's cgroup.
func (l *Lab) ServicePIDs(node, unit string) ([]int, error) {
	machine := l.Machine(node)
	if machine == "" {
		return nil, fmt.Errorf("no node %q in lab %s", node, l.Prefix())
	}
	var tried []string
	for _, cg := range machineCgroups(machine) {
		path := filepath.Join(cg, "payload", "system.slice", unit, "cgroup.procs")
		data, err := os.ReadFile(path)
		if err != nil {
			tried = append(tried, path)
			continue
		}
		var pids []int
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return pids, nil
	}
	return nil, fmt.Errorf("%s in %s: no cgroup (tried %s); is it running?", unit, node, strings.Join(tried, ", "))
}

// TandemMemory measures the tandem processes of tandem.service in the
// node: tandem (the embedded bus is part of it) and its plugins, not the
// programs the plugins run (a HAProxy the haproxy plugin started lives in
// the same cgroup). Root only.
func (l *Lab) TandemMemory(node string) (memstat.Usage, error) {
	pids, err := l.ServicePIDs(node, l.Unit(node))
	if err != nil {
		return memstat.Usage{}, err
	}
	var ours []int
	for _, pid := range pids {
		exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
		if err == nil && strings.HasPrefix(filepath.Base(exe), "tandem") {
			ours = append(ours, pid)
		}
	}
	return memstat.Measure(ours)
}
