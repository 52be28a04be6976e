package haproxy

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stats is a client of HAProxy's runtime API on an admin-level stats
// socket: one command per connection, as the non-interactive CLI works.
type stats struct{ path string }

func (s stats) cmd(ctx context.Context, command string) (string, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "unix", s.path)
	if err != nil {
		return "", fmt.Errorf("stats socket %s: %w", s.path, err)
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	if _, err := io.WriteString(c, command+"\n"); err != nil {
		return "", fmt.Errorf("stats socket %s: %q: %w", s.path, command, err)
	}
	// Half-close: the master CLI answers and closes only once it has
	// seen the end of the input (the stats socket closes by itself).
	if uc, ok := c.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	b, err := io.ReadAll(io.LimitReader(c, 8<<20))
	if err != nil {
		return "", fmt.Errorf("stats socket %s: %q: %w", s.path, command, err)
	}
	return string(b), nil
}

// info returns the fields of "show info" (Pid, Uptime_sec, ...).
func (s stats) info(ctx context.Context) (map[string]string, error) {
	out, err := s.cmd(ctx, "show info")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	if m["Pid"] == "" {
		return nil, fmt.Errorf("stats socket %s: show info has no Pid: %q", s.path, firstLine(out))
	}
	return m, nil
}

// pid is the worker's pid: it changes with every reload.
func (s stats) pid(ctx context.Context) (int, error) {
	m, err := s.info(ctx)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(m["Pid"])
}

// ServerStatus is one server as "show stat" reports it.
type ServerStatus struct {
	Name   string
	Addr   string
	Status string // UP, DOWN, MAINT, DRAIN, "UP 1/3", "no check", ...
	Check  string // last check, e.g. L4CON, L7OK
}

// InRotation says whether HAProxy sends new requests to the server: up
// (also "UP 1/3", up but failing checks), or without health checks
// ("no check") and not held. DOWN, NOLB, MAINT and DRAIN are out.
func (s ServerStatus) InRotation() bool {
	return strings.HasPrefix(s.Status, "UP") || s.Status == "no check"
}

// FirstCheckPending says HAProxy has not finished the server's first health
// check (check_status INI, "* INI" while it runs): a server starts UP
// before its first check, and a dead one would get requests until then.
func (s ServerStatus) FirstCheckPending() bool {
	return strings.HasPrefix(strings.TrimPrefix(s.Check, "* "), "INI")
}

// Down says the server failed its health checks and is out of rotation
// (DOWN; not "DOWN 1/2", which is coming back up, nor a server whose first
// check has not run).
func (s ServerStatus) Down() bool {
	return s.Status == "DOWN" && !s.FirstCheckPending()
}

// Servers lists the servers of proxy as the HAProxy answering on the
// admin stats socket sock reports them (the runtime API's "show stat").
func Servers(ctx context.Context, sock, proxy string) ([]ServerStatus, error) {
	return stats{sock}.servers(ctx, proxy)
}

// Held reports whether the server is administratively out of rotation.
func (s ServerStatus) Held() bool {
	return strings.HasPrefix(s.Status, "MAINT") || strings.HasPrefix(s.Status, "DRAIN")
}

// servers returns the servers of proxy, in configuration order.
func (s stats) servers(ctx context.Context, proxy string) ([]ServerStatus, error) {
	out, err := s.cmd(ctx, "show stat")
	if err != nil {
		return nil, err
	}
	return parseStat(out, proxy)
}

// snapshot is one "show stat": the servers of a proxy and the state of
// every frontend (OPEN, FULL, STOP) by proxy name.
type snapshot struct {
	servers   []ServerStatus
	frontends map[string]string
}

func (s stats) snapshot(ctx context.Context, proxy string) (snapshot, error) {
	out, err := s.cmd(ctx, "show stat")
	if err != nil {
		return snapshot{}, err
	}
	list, err := parseStat(out, proxy)
	if err != nil {
		return snapshot{}, err
	}
	return snapshot{servers: list, frontends: parseFrontends(out)}, nil
}

// notOpen names the frontends that do not accept connections: proxy's own
// (a listen section) when it has one, else every frontend. OPEN and FULL
// (maxconn reached) are listening.
func (sn snapshot) notOpen(proxy string) []string {
	open := func(st string) bool { return st == "OPEN" || st == "FULL" }
	if st, ok := sn.frontends[proxy]; ok {
		if open(st) {
			return nil
		}
		return []string{proxy + " " + orNone(st)}
	}
	var bad []string
	for name, st := range sn.frontends {
		if !open(st) {
			bad = append(bad, name+" "+orNone(st))
		}
	}
	slices.Sort(bad)
	return bad
}

func orNone(s string) string {
	if s == "" {
		return "(no status)"
	}
	return s
}

// parseFrontends returns the status of every FRONTEND row by proxy name.
func parseFrontends(out string) map[string]string {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	fronts := map[string]string{}
	if err != nil || len(rows) == 0 {
		return fronts
	}
	px, sv, st := slices.Index(rows[0], "pxname"), slices.Index(rows[0], "svname"), slices.Index(rows[0], "status")
	if px < 0 || sv < 0 || st < 0 {
		return fronts
	}
	for _, row := range rows[1:] {
		if max(px, sv, st) < len(row) && row[sv] == "FRONTEND" {
			fronts[row[px]] = row[st]
		}
	}
	return fronts
}

func parseStat(out, proxy string) ([]ServerStatus, error) {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("show stat: unreadable answer %q", firstLine(out))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"pxname", "svname", "status", "addr", "check_status"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("show stat: no %s column", h)
		}
	}
	var list []ServerStatus
	found := false
	for _, row := range rows[1:] {
		get := func(h string) string {
			if i := col[h]; i < len(row) {
				return row[i]
			}
			return ""
		}
		if get("pxname") != proxy {
			continue
		}
		found = true
		if n := get("svname"); n != "FRONTEND" && n != "BACKEND" {
			list = append(list, ServerStatus{Name: n, Addr: get("addr"), Status: get("status"), Check: get("check_status")})
		}
	}
	if !found {
		return nil, fmt.Errorf("HAProxy has no proxy named %q", proxy)
	}
	return list, nil
}

// setState puts proxy/server into state (ready, maint, drain) through the
// runtime API: no reload, effective at once.
func (s stats) setState(ctx context.Context, proxy, server, state string) error {
	out, err := s.cmd(ctx, fmt.Sprintf("set server %s/%s state %s", proxy, server, state))
	if err != nil {
		return err
	}
	if msg := strings.TrimSpace(out); msg != "" {
		return fmt.Errorf("set server %s/%s state %s: %s", proxy, server, state, msg)
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func summary(proxy string, list []ServerStatus) string {
	if len(list) == 0 {
		return proxy + ": no servers"
	}
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = s.Name + " " + s.Status
	}
	return proxy + ": " + strings.Join(parts, ", ")
}
