package haproxy

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
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

var knownParams = []string{
	ParamConfig, ParamBind, ParamBackendClone, ParamBackendPort, ParamProxy, ParamMode, ParamBalance,
	ParamCheck, ParamCheckInterval, ParamRise, ParamFall, ParamCheckPath, ParamMaxconn,
	ParamTimeoutConnect, ParamTimeoutClient, ParamTimeoutServer, ParamTransparent, ParamNonlocalBind,
	ParamUser, ParamGroup, ParamChroot, ParamStatsSocket, ParamUnit, ParamDownState, ParamBinary,
}

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

// ParseParams checks params without looking at the system; every problem
// is reported, each naming its parameter. stateDir and resource give the
// default stats socket path.
func ParseParams(params map[string]string) (Params, error) {
	p := Params{
		BackendPort: DefaultBackendPort, Proxy: DefaultProxy, Mode: "http", Balance: "roundrobin",
		Check: true, CheckInterval: DefaultCheckInterval, Rise: DefaultRise, Fall: DefaultFall,
		Maxconn: DefaultMaxconn, TimeoutConnect: DefaultTimeoutConnect, TimeoutClient: DefaultTimeoutClient,
		TimeoutServer: DefaultTimeoutServer, Transparent: true, User: DefaultUser, Group: DefaultUser,
		Chroot: DefaultChroot, Unit: DefaultUnit, DownState: "maint", Binary: DefaultBinary,
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %q: %s", name, params[name], fmt.Sprintf(format, args...)))
	}
	var unknown []string
	for k := range params {
		if !slices.Contains(knownParams, k) {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		errs = append(errs, fmt.Errorf("unknown parameter %s (haproxy takes %s)", strings.Join(unknown, ", "), strings.Join(knownParams, ", ")))
	}
	get := func(k string) (string, bool) {
		v, ok := params[k]
		return strings.TrimSpace(v), ok
	}

	p.Config, _ = get(ParamConfig)
	if p.Config != "" {
		if !filepath.IsAbs(p.Config) {
			bad(ParamConfig, "must be an absolute path")
		}
		var set []string
		for _, k := range renderOnly {
			if _, ok := params[k]; ok {
				set = append(set, k)
			}
		}
		if len(set) > 0 {
			errs = append(errs, fmt.Errorf("%s is set, so the configuration is the admin's file and %s cannot be applied: remove them or remove config", ParamConfig, strings.Join(set, ", ")))
		}
	} else {
		s, _ := get(ParamBind)
		if s == "" {
			errs = append(errs, fmt.Errorf("%s is required (e.g. bind = \"198.18.0.23:80\"), or give config = \"/etc/haproxy/haproxy.cfg\"", ParamBind))
		} else if err := checkBind(s); err != nil {
			bad(ParamBind, "%v", err)
		} else {
			p.Bind = s
		}
	}
	p.BackendClone, _ = get(ParamBackendClone)
	if s, _ := get(ParamBackendPort); s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 65535 {
			bad(ParamBackendPort, "must be a port number 1-65535")
		} else {
			p.BackendPort = n
		}
	}
	if s, ok := get(ParamProxy); ok {
		if !nameRE.MatchString(s) {
			bad(ParamProxy, "must be a proxy name (letters, digits, _.:-)")
		} else {
			p.Proxy = s
		}
	}
	if s, _ := get(ParamMode); s != "" {
		if s != "http" && s != "tcp" {
			bad(ParamMode, "must be http or tcp")
		} else {
			p.Mode = s
		}
	}
	if s, _ := get(ParamBalance); s != "" {
		if !slices.Contains(balances, s) {
			bad(ParamBalance, "must be one of %s", strings.Join(balances, ", "))
		} else {
			p.Balance = s
		}
	}
	boolParam := func(name string, dst *bool) {
		if s, _ := get(name); s != "" {
			b, err := parseBool(s)
			if err != nil {
				bad(name, "%v", err)
			} else {
				*dst = b
			}
		}
	}
	boolParam(ParamCheck, &p.Check)
	boolParam(ParamTransparent, &p.Transparent)
	boolParam(ParamNonlocalBind, &p.NonlocalBind)
	durParam := func(name string, dst *time.Duration, max time.Duration) {
		if s, _ := get(name); s != "" {
			d, err := time.ParseDuration(s)
			if n, err2 := strconv.Atoi(s); err2 == nil {
				d, err = time.Duration(n)*time.Second, nil
			}
			if err != nil || d < time.Millisecond || d > max {
				bad(name, "must be a duration from 1ms to %s (e.g. 2s, 500ms)", max)
			} else {
				*dst = d
			}
		}
	}
	durParam(ParamCheckInterval, &p.CheckInterval, time.Hour)
	durParam(ParamTimeoutConnect, &p.TimeoutConnect, 24*time.Hour)
	durParam(ParamTimeoutClient, &p.TimeoutClient, 24*time.Hour)
	durParam(ParamTimeoutServer, &p.TimeoutServer, 24*time.Hour)
	intParam := func(name string, dst *int, lo, hi int) {
		if s, _ := get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < lo || n > hi {
				bad(name, "must be an integer from %d to %d", lo, hi)
			} else {
				*dst = n
			}
		}
	}
	intParam(ParamRise, &p.Rise, 1, 100)
	intParam(ParamFall, &p.Fall, 1, 100)
	intParam(ParamMaxconn, &p.Maxconn, 1, 10000000)
	if s, _ := get(ParamCheckPath); s != "" {
		if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, " \t\r\n") {
			bad(ParamCheckPath, "must be a URL path starting with / and without spaces")
		} else if p.Mode != "http" {
			bad(ParamCheckPath, "HTTP checks need mode = \"http\"")
		} else {
			p.CheckPath = s
		}
	}
	for _, n := range []struct {
		name string
		dst  *string
	}{{ParamUser, &p.User}, {ParamGroup, &p.Group}} {
		if s, ok := get(n.name); ok {
			if s != "" && !nameRE.MatchString(s) {
				bad(n.name, "must be a user or group name")
			} else {
				*n.dst = s
			}
		}
	}
	if s, ok := get(ParamChroot); ok {
		if s != "" && !filepath.IsAbs(s) {
			bad(ParamChroot, "must be an absolute path, or empty for no chroot")
		} else {
			p.Chroot = s
		}
	}
	if s, _ := get(ParamStatsSocket); s != "" {
		if !filepath.IsAbs(s) || strings.ContainsAny(s, " \t") {
			bad(ParamStatsSocket, "must be an absolute path without spaces")
		} else {
			p.StatsSocket = s
		}
	}
	if s, ok := get(ParamUnit); ok {
		p.Unit = s
		if s != "" && !strings.Contains(s, ".") {
			p.Unit = s + ".service"
		}
		if s != "" && (!strings.HasSuffix(p.Unit, ".service") || !nameRE.MatchString(strings.ReplaceAll(p.Unit, "@", "_"))) {
			bad(ParamUnit, "must be a service unit name (haproxy.service), or empty to run HAProxy without systemd")
		}
	}
	if s, _ := get(ParamDownState); s != "" {
		if s != "maint" && s != "drain" {
			bad(ParamDownState, "must be maint (no traffic at once) or drain (existing sessions finish, no new ones)")
		} else {
			p.DownState = s
		}
	}
	if s, _ := get(ParamBinary); s != "" {
		if !filepath.IsAbs(s) {
			bad(ParamBinary, "must be an absolute path")
		} else {
			p.Binary = s
		}
	}
	return p, errors.Join(errs...)
}

// checkBind accepts what an HAProxy bind line takes for one address:
// ip:port, [v6]:port or :port (every address).
func checkBind(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("must be address:port (198.18.0.23:80, [2001:db8::1]:80, or :80 for every address)")
	}
	if host != "" && net.ParseIP(host) == nil {
		return fmt.Errorf("%q is not an IP address", host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port must be 1-65535")
	}
	return nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1", "y":
		return true, nil
	case "false", "no", "off", "0", "n":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (true or false)")
}
