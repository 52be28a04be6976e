package haproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Server is one backend server: a node of the cluster, ready to take
// traffic or held out of rotation (in down_state).
type Server struct {
	Name  string // the node's name
	Addr  string // the node's address
	Port  int
	Ready bool
}

// Desired turns the cluster view into the server list: one server per node
// with an address, ready when the node is online and runs backend_clone
// (any online node when backend_clone is empty). notes say which nodes were
// left out and why.
func Desired(p Params, view *sdk.ClusterView) (servers []Server, notes []string) {
	if view == nil {
		return nil, nil
	}
	var active []string
	if p.BackendClone != "" {
		active = view.Active[p.BackendClone]
	}
	for _, n := range view.Nodes {
		if n.Address == "" || net.ParseIP(strings.Trim(n.Address, "[]")) == nil {
			notes = append(notes, fmt.Sprintf("node %s has no IP address in the cluster view; left out", n.Name))
			continue
		}
		if !nameRE.MatchString(n.Name) {
			notes = append(notes, fmt.Sprintf("node name %q cannot be an HAProxy server name; left out", n.Name))
			continue
		}
		ready := n.Online && (p.BackendClone == "" || slices.Contains(active, n.Name))
		servers = append(servers, Server{Name: n.Name, Addr: strings.Trim(n.Address, "[]"), Port: p.BackendPort, Ready: ready})
	}
	return servers, notes
}

func hostPort(addr string, port int) string { return net.JoinHostPort(addr, strconv.Itoa(port)) }

// hapDuration writes d in a unit HAProxy reads (it does not read "1m0s").
func hapDuration(d time.Duration) string {
	switch {
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// layoutLine carries a digest of the configuration with every server
// ready. Two configurations with the same layout differ only in which
// servers are held out, which the runtime API changes without a reload.
const layoutLine = "# tandem-layout: "

var layoutRE = regexp.MustCompile(`(?m)^# tandem-layout: ([0-9a-f]+)$`)

// Layout returns the layout digest written in a rendered configuration, ""
// when there is none.
func Layout(cfg string) string {
	if m := layoutRE.FindStringSubmatch(cfg); m != nil {
		return m[1]
	}
	return ""
}

// Render writes the configuration of a rendered resource: the seed's
// global and defaults sections and one listen section balancing to the
// servers. A server not ready starts "disabled" (maintenance), so that a
// reload or restart starts with the cluster's view, not with every node in
// rotation.
func Render(p Params, resource, statsSocket string, servers []Server) string {
	all := make([]Server, len(servers))
	for i, s := range servers {
		all[i] = s
		all[i].Ready = true
	}
	sum := sha256.Sum256([]byte(render(p, resource, statsSocket, all)))
	body := render(p, resource, statsSocket, servers)
	return strings.Replace(body, "\n", "\n"+layoutLine+hex.EncodeToString(sum[:8])+"\n", 1)
}

func render(p Params, resource, statsSocket string, servers []Server) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Rendered by tandem's haproxy agent for resource %s. Do not edit: the cluster rewrites it.", resource)
	w("global")
	w("\tlog /dev/log local0")
	w("\tmaxconn %d", p.Maxconn)
	if p.User != "" {
		w("\tuser %s", p.User)
	}
	if p.Group != "" {
		w("\tgroup %s", p.Group)
	}
	if p.Chroot != "" {
		w("\tchroot %s", p.Chroot)
	}
	// expose-fd listeners: a reload hands the listening sockets to the new
	// worker instead of binding again, so no connection is refused.
	w("\tstats socket %s mode 600 level admin expose-fd listeners", statsSocket)
	w("\tstats timeout 30s")
	w("")
	w("defaults")
	w("\tmode %s", p.Mode)
	w("\tlog global")
	if p.Mode == "http" {
		w("\toption httplog")
		w("\toption dontlognull")
		w("\toption http-server-close")
		w("\toption forwardfor except 127.0.0.0/8")
	} else {
		w("\toption tcplog")
		w("\toption dontlognull")
	}
	w("\toption redispatch")
	w("\tretries 3")
	if p.Mode == "http" {
		w("\ttimeout http-request 10s")
		w("\ttimeout http-keep-alive 10s")
	}
	w("\ttimeout queue 1m")
	w("\ttimeout connect %s", hapDuration(p.TimeoutConnect))
	w("\ttimeout client %s", hapDuration(p.TimeoutClient))
	w("\ttimeout server %s", hapDuration(p.TimeoutServer))
	w("\ttimeout check 10s")
	w("\tmaxconn %d", p.Maxconn)
	w("")
	w("listen %s", p.Proxy)
	bind := "\tbind " + p.Bind
	if p.Transparent {
		bind += " transparent"
	}
	w("%s", bind)
	w("\tmode %s", p.Mode)
	if p.Mode == "http" {
		w("\toption http-server-close")
		w("\toption forwardfor")
	}
	w("\tbalance %s", p.Balance)
	if p.Check {
		if p.CheckPath != "" {
			w("\toption httpchk GET %s", p.CheckPath)
		}
		w("\tdefault-server inter %s rise %d fall %d", hapDuration(p.CheckInterval), p.Rise, p.Fall)
	}
	for _, s := range servers {
		line := fmt.Sprintf("\tserver %s %s", s.Name, hostPort(s.Addr, s.Port))
		if p.Check {
			line += " check"
		}
		if !s.Ready {
			line += " disabled"
		}
		w("%s", line)
	}
	return b.String()
}

// statsSocketRE finds an admin-level stats socket in an admin's file.
var statsSocketRE = regexp.MustCompile(`(?m)^\s*stats\s+socket\s+(?:unix@)?(/\S+)(.*)$`)

// StatsSocketOf returns the first stats socket of cfg that is at level
// admin (what set server needs), "" when there is none.
func StatsSocketOf(cfg string) string {
	for _, m := range statsSocketRE.FindAllStringSubmatch(cfg, -1) {
		if strings.Contains(m[2], "level admin") {
			return m[1]
		}
	}
	return ""
}
