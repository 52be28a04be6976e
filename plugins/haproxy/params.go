package haproxy

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Parameter names. MetaData documents each one.
const (
	ParamConfig         = "config"
	ParamBind           = "bind"
	ParamBackendClone   = "backend_clone"
	ParamBackendPort    = "backend_port"
	ParamProxy          = "proxy"
	ParamMode           = "mode"
	ParamBalance        = "balance"
	ParamCheck          = "check"
	ParamCheckInterval  = "check_interval"
	ParamRise           = "rise"
	ParamFall           = "fall"
	ParamCheckPath      = "check_path"
	ParamMaxconn        = "maxconn"
	ParamTimeoutConnect = "timeout_connect"
	ParamTimeoutClient  = "timeout_client"
	ParamTimeoutServer  = "timeout_server"
	ParamTransparent    = "transparent"
	ParamNonlocalBind   = "nonlocal_bind"
	ParamUser           = "user"
	ParamGroup          = "group"
	ParamChroot         = "chroot"
	ParamStatsSocket    = "stats_socket"
	ParamUnit           = "unit"
	ParamDownState      = "down_state"
	ParamBinary         = "binary"
)

// Defaults.
const (
	DefaultProxy          = "apache" // the seed's "listen apache"
	DefaultBackendPort    = 80
	DefaultUnit           = "haproxy.service"
	DefaultBinary         = "/usr/sbin/haproxy"
	DefaultCheckInterval  = 2 * time.Second // HAProxy's own inter
	DefaultRise           = 2
	DefaultFall           = 3
	DefaultMaxconn        = 4000
	DefaultTimeoutConnect = 10 * time.Second
	DefaultTimeoutClient  = time.Minute
	DefaultTimeoutServer  = time.Minute
	DefaultUser           = "haproxy"
	DefaultChroot         = "/var/lib/haproxy"
)

// renderOnly are the params that shape a rendered configuration; with
// config they are refused, since the admin's file decides them.
var renderOnly = []string{
	ParamBind, ParamBackendPort, ParamMode, ParamBalance, ParamCheck, ParamCheckInterval, ParamRise, ParamFall,
	ParamCheckPath, ParamMaxconn, ParamTimeoutConnect, ParamTimeoutClient, ParamTimeoutServer, ParamTransparent,
	ParamUser, ParamGroup, ParamChroot,
}

var balances = []string{"roundrobin", "static-rr", "leastconn", "first", "source", "uri", "random"}

// nameRE is what HAProxy accepts as a proxy or server name.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// Params are a haproxy resource's parameters, parsed.
type Params struct {
	Config         string // admin's file; "" means rendered
	Bind           string // host:port
	BackendClone   string
	BackendPort    int
	Proxy          string
	Mode           string
	Balance        string
	Check          bool
	CheckInterval  time.Duration
	Rise, Fall     int
	CheckPath      string
	Maxconn        int
	TimeoutConnect time.Duration
	TimeoutClient  time.Duration
	TimeoutServer  time.Duration
	Transparent    bool
	NonlocalBind   bool
	User, Group    string
	Chroot         string
	StatsSocket    string // "" in config mode: found in the file
	Unit           string // "" runs HAProxy as a process of its own
	DownState      string // maint or drain
	Binary         string
}

// Rendered reports whether the agent writes the configuration.
func (p Params) Rendered() bool { return p.Config == "" }

// ParseParams checks params without looking at the system: sdk.ParseParams
// checks them against the meta-data (names, types, ranges, defaults), then
// what only HAProxy knows is checked here. Every problem is reported, each
// naming its parameter.
func ParseParams(params map[string]string) (Params, error) {
	v := sdk.ParseParams(Name, paramSpecs, params)
	p := Params{
		Config: v.String(ParamConfig), BackendClone: v.String(ParamBackendClone), BackendPort: v.Int(ParamBackendPort),
		Proxy: v.String(ParamProxy), Mode: v.String(ParamMode), Balance: v.String(ParamBalance),
		Check: v.Bool(ParamCheck), CheckInterval: v.Duration(ParamCheckInterval), Rise: v.Int(ParamRise), Fall: v.Int(ParamFall),
		Maxconn: v.Int(ParamMaxconn), TimeoutConnect: v.Duration(ParamTimeoutConnect), TimeoutClient: v.Duration(ParamTimeoutClient),
		TimeoutServer: v.Duration(ParamTimeoutServer), Transparent: v.Bool(ParamTransparent), NonlocalBind: v.Bool(ParamNonlocalBind),
		User: v.String(ParamUser), Group: v.String(ParamGroup), Chroot: v.String(ParamChroot),
		StatsSocket: v.String(ParamStatsSocket), Unit: v.String(ParamUnit), DownState: v.String(ParamDownState), Binary: v.String(ParamBinary),
	}
	if p.Config != "" {
		if !filepath.IsAbs(p.Config) {
			v.Invalid(ParamConfig, "must be an absolute path")
		}
		var set []string
		for _, k := range renderOnly {
			if _, ok := params[k]; ok {
				set = append(set, k)
			}
		}
		if len(set) > 0 {
			v.Problem("", "%s is set, so the configuration is the admin's file and %s cannot be applied: remove them or remove config", ParamConfig, strings.Join(set, ", "))
		}
	} else if s := v.String(ParamBind); s == "" {
		v.Problem(ParamBind, "%s is required (e.g. bind = \"198.18.0.23:80\", or \"[2001:2::23]:80\" for IPv6), or give config = \"/etc/haproxy/haproxy.cfg\"", ParamBind)
	} else if bind, err := normalizeBind(s); err != nil {
		v.Invalid(ParamBind, "%v", err)
	} else {
		p.Bind = bind
	}
	if v.Given(ParamProxy) && !nameRE.MatchString(p.Proxy) {
		v.Invalid(ParamProxy, "must be a proxy name (letters, digits, _.:-)")
	}
	if p.CheckPath = v.String(ParamCheckPath); p.CheckPath != "" {
		if !strings.HasPrefix(p.CheckPath, "/") || strings.ContainsAny(p.CheckPath, " \t\r\n") {
			v.Invalid(ParamCheckPath, "must be a URL path starting with / and without spaces")
		} else if p.Mode != "http" {
			v.Invalid(ParamCheckPath, "HTTP checks need mode = \"http\"")
		}
	}
	for _, name := range []string{ParamUser, ParamGroup} {
		if s := v.String(name); s != "" && !nameRE.MatchString(s) {
			v.Invalid(name, "must be a user or group name")
		}
	}
	if p.Chroot != "" && !filepath.IsAbs(p.Chroot) {
		v.Invalid(ParamChroot, "must be an absolute path, or empty for no chroot")
	}
	if p.StatsSocket != "" && (!filepath.IsAbs(p.StatsSocket) || strings.ContainsAny(p.StatsSocket, " \t")) {
		v.Invalid(ParamStatsSocket, "must be an absolute path without spaces")
	}
	if p.Unit != "" && !strings.Contains(p.Unit, ".") {
		p.Unit += ".service"
	}
	if p.Unit != "" && (!strings.HasSuffix(p.Unit, ".service") || !nameRE.MatchString(strings.ReplaceAll(p.Unit, "@", "_"))) {
		v.Invalid(ParamUnit, "must be a service unit name (haproxy.service), or empty to run HAProxy without systemd")
	}
	if p.Binary == "" {
		p.Binary = DefaultBinary // given empty
	}
	if !filepath.IsAbs(p.Binary) {
		v.Invalid(ParamBinary, "must be an absolute path")
	}
	return p, v.Err()
}

// normalizeBind checks what a bind line takes for one address and writes
// it the way the rendered configuration uses it: ip:port, [ipv6]:port
// (HAProxy reads the brackets; a bare IPv6 address would need the ipv6@
// prefix) or :port for every IPv4 address.
func normalizeBind(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("must be address:port (198.18.0.23:80, [2001:2::23]:80 for IPv6, or :80 for every address)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port must be 1-65535")
	}
	if host == "" {
		return ":" + port, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("%q is not an IP address", host)
	}
	if ip.Zone() != "" {
		return "", fmt.Errorf("%q has a zone: bind a global or unique-local address, not a link-local one", host)
	}
	return net.JoinHostPort(ip.Unmap().String(), port), nil
}
