package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// The only address range any lab may use (the project's rule: lab traffic
// stays inside 198.18.0.0/24, in namespaces the lab creates).
var labRange = netip.MustParsePrefix("198.18.0.0/24")

// Reference lab: the addresses of e2e/cluster.toml. Other labs on the same
// machine take other /27s of labRange and their own prefix.
var (
	ReferenceSubnet = netip.MustParsePrefix("198.18.0.0/27")
	ReferencePrefix = "tandem"
)

// Defaults for the host directories a lab uses.
const (
	DefaultCacheDir = "/var/cache/tandem-lab" // cached node roots, shared by every lab
	DefaultStateDir = "/var/lib/tandem-lab"   // one sub-directory per lab prefix
	DefaultTimeout  = 3 * time.Minute         // boot deadline of a whole lab
)

// Environment variables that change the defaults.
const (
	EnvBin    = "TANDEM_BIN"        // directory of the tandem binaries
	EnvRepo   = "TANDEM_REPO"       // repository root (to find vagrant/provision)
	EnvCache  = "TANDEM_LAB_CACHE"  // DefaultCacheDir
	EnvState  = "TANDEM_LAB_STATE"  // DefaultStateDir
	EnvMirror = "TANDEM_LAB_MIRROR" // Debian mirror for debootstrap
	EnvDeb    = "TANDEM_LAB_DEB"    // Options.Package
)

// Options describe one lab. Only Prefix, Subnet and Config matter for
// telling labs apart; the rest have defaults (see Defaults).
type Options struct {
	// Prefix names everything the lab creates on the host: network
	// namespaces and machines "<prefix>-<node>", bridge "<prefix>-br", veths
	// "<prefix>-<node>" (or "<prefix>-n<i>" when that would exceed 15
	// characters). Lower-case letters and digits, at most 9.
	Prefix string
	// Subnet is the lab's sub-range of 198.18.0.0/24; every member address
	// of the cluster file must be inside it.
	Subnet netip.Prefix
	// Bridge is the host's address on the lab bridge (default: the first
	// address of Subnet).
	Bridge netip.Addr
	// Config is the cluster file; its members become the lab's hosts.
	Config string
	// BinDir holds tandem and tandem-plugin-*, bind-mounted read-only at
	// /opt/tandem/bin in every node (default: $TANDEM_BIN, else <repo>/bin).
	BinDir string
	// RepoDir is the repository root (default: $TANDEM_REPO, else found
	// upward from the working directory).
	RepoDir string
	// CacheDir holds cached node roots (default: $TANDEM_LAB_CACHE, else
	// DefaultCacheDir). StateDir holds each lab's writable node roots, logs
	// and state (default: $TANDEM_LAB_STATE, else DefaultStateDir).
	CacheDir, StateDir string
	// Mirror is the Debian mirror for building the root (default:
	// $TANDEM_LAB_MIRROR, else the machine's apt source for bookworm).
	Mirror string
	// Relocate rewrites the cluster file's addresses of ReferenceSubnet to
	// the same offsets in Subnet (e2e/cluster.toml's holly 198.18.0.22
	// becomes 198.18.0.54 in 198.18.0.32/27), so one cluster file serves
	// labs on several subnets. The lab's copy is what nodes get.
	Relocate bool
	// StartTandem enables the member's unit, so it starts at every boot.
	StartTandem bool
	// Package is the tandem Debian package (make deb) to install in every
	// node, as an admin would, instead of bind-mounting BinDir: the nodes
	// then run /usr/bin/tandem from the package's units (tandem.service on
	// a node, tandem-witness.service on the witness; Type=notify with the
	// watchdog). Default: $TANDEM_LAB_DEB, else none. BinDir's tandem
	// still makes the lab's keys on the host.
	Package string
	// Timeout bounds the whole of Up, root build excluded (default
	// DefaultTimeout).
	Timeout time.Duration
	// Logf receives progress lines (nil: silent).
	Logf func(format string, args ...any)
}

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,8}$`)

// Defaults fills the unset fields and checks the set ones. It does not touch
// the host beyond reading the environment and the file system.
func (o Options) Defaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = ReferencePrefix
	}
	if !prefixRE.MatchString(o.Prefix) {
		return o, fmt.Errorf("lab prefix %q: use 1-9 lower-case letters and digits, starting with a letter (it names interfaces, limited to 15 characters)", o.Prefix)
	}
	if !o.Subnet.IsValid() {
		o.Subnet = ReferenceSubnet
	}
	o.Subnet = o.Subnet.Masked()
	if !o.Subnet.Addr().Is4() || o.Subnet.Bits() < labRange.Bits() || o.Subnet.Bits() > 29 || !labRange.Contains(o.Subnet.Addr()) {
		return o, fmt.Errorf("lab subnet %s: must be an IPv4 /24../29 inside %s (the only range labs may use)", o.Subnet, labRange)
	}
	if !o.Bridge.IsValid() {
		o.Bridge = o.Subnet.Addr().Next()
	}
	if !o.Subnet.Contains(o.Bridge) || o.Bridge == o.Subnet.Addr() || o.Bridge == lastAddr(o.Subnet) {
		return o, fmt.Errorf("lab bridge address %s: must be a host address inside the lab subnet %s", o.Bridge, o.Subnet)
	}
	if o.RepoDir == "" {
		o.RepoDir = os.Getenv(EnvRepo)
	}
	if o.RepoDir == "" {
		dir, err := findRepo()
		if err != nil {
			return o, err
		}
		o.RepoDir = dir
	}
	if o.Config == "" {
		o.Config = filepath.Join(o.RepoDir, "e2e", "cluster.toml")
	}
	if o.BinDir == "" {
		o.BinDir = os.Getenv(EnvBin)
	}
	if o.BinDir == "" {
		o.BinDir = filepath.Join(o.RepoDir, "bin")
	}
	if o.Package == "" {
		o.Package = os.Getenv(EnvDeb)
	}
	var err error
	if o.Package != "" {
		if o.Package, err = filepath.Abs(o.Package); err != nil {
			return o, err
		}
		if fi, err := os.Stat(o.Package); err != nil || !fi.Mode().IsRegular() {
			return o, fmt.Errorf("package %s (%s) is not a file: run `make deb`", o.Package, EnvDeb)
		}
	}
	for _, p := range []*string{&o.Config, &o.BinDir, &o.RepoDir} {
		if *p, err = filepath.Abs(*p); err != nil {
			return o, err
		}
	}
	if fi, err := os.Stat(o.BinDir); err != nil || !fi.IsDir() {
		return o, fmt.Errorf("binary directory %s (bind-mounted at /opt/tandem/bin in every node) does not exist: run `make build`, or set %s or the bin option to a directory", o.BinDir, EnvBin)
	}
	if _, err := os.Stat(filepath.Join(o.BinDir, "tandem")); err != nil {
		return o, fmt.Errorf("no tandem binary in %s: run `make build`, or set %s or the bin option to the directory holding tandem and tandem-plugin-*", o.BinDir, EnvBin)
	}
	o.CacheDir = firstOf(o.CacheDir, os.Getenv(EnvCache), DefaultCacheDir)
	o.StateDir = firstOf(o.StateDir, os.Getenv(EnvState), DefaultStateDir)
	if o.Mirror == "" {
		o.Mirror = os.Getenv(EnvMirror)
	}
	if o.Mirror == "" {
		o.Mirror = AptMirror("/etc/apt", Suite)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o, nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// findRepo walks up from the working directory to the directory holding
// vagrant/provision/node.sh (the repository root).
func findRepo() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, provisionDir, "node.sh")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("cannot find the repository (a directory holding %s/node.sh) above %s: run from the repository or set %s", provisionDir, wd, EnvRepo)
		}
	}
}

// provisionDir is the single source of node set-up, relative to the repo.
const provisionDir = "vagrant/provision"

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// ifNameMax is the kernel's limit on interface names (IFNAMSIZ-1).
const ifNameMax = 15

// names of what the lab creates on the host for one prefix.
type names struct{ prefix string }

func (n names) bridge() string             { return n.prefix + "-br" }
func (n names) netns(node string) string   { return n.prefix + "-" + node }
func (n names) machine(node string) string { return n.prefix + "-" + node }

// veth is the host end of a node's link: "<prefix>-<node>", or
// "<prefix>-n<i>" when the node's name would make it too long.
func (n names) veth(node string, index int) string {
	if v := n.prefix + "-" + node; len(v) <= ifNameMax {
		return v
	}
	return fmt.Sprintf("%s-n%d", n.prefix, index)
}

// errNoLab is returned by Open when no lab of that prefix is up.
var errNoLab = errors.New("no lab is up")

// WithConfig writes conf (a cluster file made from the reference one: a
// topology, an agent, a lease mode) to a temporary directory and makes it
// o's Config; remove deletes the directory once the lab is up (Up copies
// the file).
func (o Options) WithConfig(conf []byte) (_ Options, remove func(), err error) {
	dir, err := os.MkdirTemp("", "tandem-lab-config")
	if err != nil {
		return o, nil, err
	}
	remove = func() { _ = os.RemoveAll(dir) }
	o.Config = filepath.Join(dir, "cluster.toml")
	if err := os.WriteFile(o.Config, conf, 0o644); err != nil {
		remove()
		return o, nil, err
	}
	return o, remove, nil
}
