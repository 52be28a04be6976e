package haproxy

import (
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
	"github.com/tandem-ha/tandem/plugins/systemd"
)

// The parameters of e2e/cluster.toml.
var seedParams = map[string]string{"bind": "198.18.0.23:80", "backend_clone": "httpd-clone", "backend_port": "80"}

var seedView = &sdk.ClusterView{
	Nodes: []sdk.NodeView{
		{Name: "holly", Address: "198.18.0.22", Online: true},
		{Name: "benji", Address: "198.18.0.24", Online: true},
	},
	Active: map[string][]string{"httpd-clone": {"benji", "holly"}},
}

func TestParseParams(t *testing.T) {
	p, err := ParseParams(seedParams)
	if err != nil {
		t.Fatal(err)
	}
	if p.Bind != "198.18.0.23:80" || p.BackendClone != "httpd-clone" || p.BackendPort != 80 || p.Unit != DefaultUnit || !p.Transparent || !p.Rendered() {
		t.Errorf("seed params: %+v", p)
	}
	if p, err := ParseParams(map[string]string{"config": "/etc/haproxy/haproxy.cfg", "unit": "", "stats_socket": "/run/haproxy/admin.sock"}); err != nil || p.Rendered() || p.Unit != "" {
		t.Errorf("config mode: %+v %v", p, err)
	}
	if p, _ := ParseParams(map[string]string{"bind": ":80", "unit": "haproxy"}); p.Unit != "haproxy.service" {
		t.Errorf("unit haproxy → %q", p.Unit)
	}
	bad := []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{}, "bind is required"},
		{map[string]string{"bind": "198.18.0.23"}, "address:port"},
		{map[string]string{"bind": "host:80"}, "not an IP address"},
		{map[string]string{"bind": ":99999"}, "port must be"},
		{map[string]string{"bind": ":80", "backend_port": "0"}, "backend_port"},
		{map[string]string{"bind": ":80", "mode": "udp"}, "http or tcp"},
		{map[string]string{"bind": ":80", "balance": "fastest"}, "roundrobin"},
		{map[string]string{"bind": ":80", "check": "maybe"}, "not a boolean"},
		{map[string]string{"bind": ":80", "check_interval": "soon"}, "check_interval"},
		{map[string]string{"bind": ":80", "rise": "0"}, "rise"},
		{map[string]string{"bind": ":80", "check_path": "health"}, "starting with /"},
		{map[string]string{"bind": ":80", "mode": "tcp", "check_path": "/h"}, "mode = \"http\""},
		{map[string]string{"bind": ":80", "down_state": "off"}, "maint"},
		{map[string]string{"bind": ":80", "proxy": "a b"}, "proxy name"},
		{map[string]string{"bind": ":80", "unit": "haproxy.socket"}, "service unit"},
		{map[string]string{"bind": ":80", "stats_socket": "rel.sock"}, "absolute"},
		{map[string]string{"bind": ":80", "frontend": "x"}, `unknown parameter "frontend"`},
		{map[string]string{"config": "/etc/haproxy/haproxy.cfg", "bind": ":80"}, "cannot be applied"},
		{map[string]string{"config": "haproxy.cfg"}, "absolute"},
	}
	for _, c := range bad {
		_, err := ParseParams(c.params)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseParams(%v) = %v; want an error saying %q", c.params, err, c.want)
		}
	}
}

func TestDesired(t *testing.T) {
	p, _ := ParseParams(seedParams)
	got, notes := Desired(p, seedView)
	want := []Server{{"holly", "198.18.0.22", 80, true}, {"benji", "198.18.0.24", 80, true}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] || len(notes) != 0 {
		t.Fatalf("Desired = %+v %v", got, notes)
	}
	view := &sdk.ClusterView{
		Nodes: []sdk.NodeView{
			{Name: "holly", Address: "198.18.0.22", Online: true},
			{Name: "benji", Address: "198.18.0.24", Online: false},
			{Name: "nix", Online: true},
		},
		Active: map[string][]string{"httpd-clone": {"benji"}},
	}
	got, notes = Desired(p, view)
	if len(got) != 2 || got[0].Ready || got[1].Ready {
		t.Errorf("holly not running httpd, benji offline: %+v", got)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "nix") {
		t.Errorf("notes %v", notes)
	}
	p.BackendClone = ""
	if got, _ := Desired(p, view); !got[0].Ready || got[1].Ready {
		t.Errorf("no backend_clone: online nodes are ready: %+v", got)
	}
}

func TestRender(t *testing.T) {
	p, _ := ParseParams(seedParams)
	servers, _ := Desired(p, seedView)
	cfg := Render(p, "haproxy", "/run/tandem/haproxy/haproxy.sock", servers)
	for _, want := range []string{
		"\nlisten apache\n\tbind 198.18.0.23:80 transparent\n\tmode http\n\toption http-server-close\n\toption forwardfor\n\tbalance roundrobin\n",
		"\tserver holly 198.18.0.22:80 check\n\tserver benji 198.18.0.24:80 check\n",
		"\tstats socket /run/tandem/haproxy/haproxy.sock mode 600 level admin expose-fd listeners\n",
		"\tchroot /var/lib/haproxy\n", "\tuser haproxy\n", "\ttimeout client 1m\n", "\ttimeout connect 10s\n",
		"\tdefault-server inter 2s rise 2 fall 3\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("rendered config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "daemon") {
		t.Error("daemon in a master-worker configuration")
	}
	servers[0].Ready = false
	held := Render(p, "haproxy", "/run/tandem/haproxy/haproxy.sock", servers)
	if !strings.Contains(held, "\tserver holly 198.18.0.22:80 check disabled\n") {
		t.Errorf("a held-out server is not disabled:\n%s", held)
	}
	if Layout(held) == "" || Layout(held) != Layout(cfg) {
		t.Errorf("states alone changed the layout: %q vs %q", Layout(held), Layout(cfg))
	}
	other := Render(p, "haproxy", "/run/tandem/haproxy/haproxy.sock", servers[:1])
	if Layout(other) == Layout(cfg) {
		t.Error("a removed server did not change the layout")
	}
	p2, _ := ParseParams(map[string]string{"bind": ":8080", "mode": "tcp", "check": "false", "transparent": "false", "chroot": "", "user": "", "group": "", "timeout_client": "1500ms"})
	tcp := Render(p2, "x", "/s", servers)
	for _, bad := range []string{"httplog", "forwardfor", ":80 check", "transparent", "chroot", "user "} {
		if strings.Contains(tcp, bad) {
			t.Errorf("tcp/no-check render has %q:\n%s", bad, tcp)
		}
	}
	if !strings.Contains(tcp, "timeout client 1500ms") {
		t.Errorf("duration: %s", tcp)
	}
}

func TestStatsSocketOf(t *testing.T) {
	cfg := "global\n  stats socket /run/haproxy/ro.sock mode 660\n\tstats socket unix@/run/haproxy/admin.sock mode 660 level admin\n"
	if got := StatsSocketOf(cfg); got != "/run/haproxy/admin.sock" {
		t.Errorf("StatsSocketOf = %q", got)
	}
	if got := StatsSocketOf("global\n"); got != "" {
		t.Errorf("no socket: %q", got)
	}
}

func TestParseStat(t *testing.T) {
	out := "# pxname,svname,qcur,status,addr,check_status\napache,FRONTEND,,OPEN,,\napache,holly,0,MAINT,127.0.0.2:1,\napache,benji,0,UP,127.0.0.3:1,L4OK\napache,BACKEND,0,UP,,\nother,x,0,UP,,\n"
	list, err := parseStat(out, "apache")
	if err != nil || len(list) != 2 || list[0].Name != "holly" || !list[0].Held() || list[1].Status != "UP" || list[1].Held() {
		t.Fatalf("parseStat = %+v, %v", list, err)
	}
	if s := summary("apache", list); s != "apache: holly MAINT, benji UP" {
		t.Errorf("summary %q", s)
	}
	if _, err := parseStat(out, "nope"); err == nil || !strings.Contains(err.Error(), `no proxy named "nope"`) {
		t.Errorf("missing proxy: %v", err)
	}
	fronts := parseFrontends(out)
	if len(fronts) != 1 || fronts["apache"] != "OPEN" {
		t.Errorf("parseFrontends = %v", fronts)
	}
	if bad := (snapshot{frontends: fronts}).notOpen("apache"); bad != nil {
		t.Errorf("notOpen of an open listen section: %v", bad)
	}
	sn := snapshot{frontends: map[string]string{"web": "STOP", "stats": "OPEN"}}
	if bad := sn.notOpen("apache"); len(bad) != 1 || bad[0] != "web STOP" {
		t.Errorf("notOpen of a backend with frontends elsewhere: %v", bad)
	}
	for _, c := range []struct {
		s             ServerStatus
		pending, down bool
	}{
		{ServerStatus{Status: "UP 1/3", Check: "INI"}, true, false},
		{ServerStatus{Status: "UP", Check: "* INI"}, true, false},
		{ServerStatus{Status: "DOWN", Check: "L4CON"}, false, true},
		{ServerStatus{Status: "DOWN", Check: "* L4CON"}, false, true},
		{ServerStatus{Status: "DOWN 1/2", Check: "L4OK"}, false, false},
		{ServerStatus{Status: "UP", Check: "L4OK"}, false, false},
		{ServerStatus{Status: "MAINT"}, false, false},
		{ServerStatus{Status: "no check"}, false, false},
	} {
		if c.s.FirstCheckPending() != c.pending || c.s.Down() != c.down {
			t.Errorf("%+v: FirstCheckPending %v Down %v; want %v %v", c.s, c.s.FirstCheckPending(), c.s.Down(), c.pending, c.down)
		}
	}
}

// A restart by systemd is worth a warning while it still counts towards
// the start limit, and not once the interval has passed or before any.
func TestRestartNote(t *testing.T) {
	now := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	s := systemd.UnitState{Unit: "haproxy.service", NRestarts: 2, ActiveEnter: now.Add(-10 * time.Second)}
	if n := restartNote(s, now); !strings.Contains(n, "systemd restarted haproxy.service 2 time(s) since the cluster started it, last at 19:59:50.000") ||
		!strings.Contains(n, "past 5 starts in 1m0s systemd gives up") {
		t.Errorf("restartNote = %q", n)
	}
	if n := restartNote(s, now.Add(time.Minute)); n != "" {
		t.Errorf("a minute later: %q", n)
	}
	s.NRestarts = 0
	if n := restartNote(s, now); n != "" {
		t.Errorf("no restart: %q", n)
	}
}

func TestMetaData(t *testing.T) {
	a := New()
	for _, p := range sdktest.InfoProblems(a.Info()) {
		t.Error(p)
	}
	md, err := a.MetaData(Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sdktest.MetaDataProblems(md, Name) {
		t.Error(p)
	}
	if _, err := a.MetaData("haproxy2"); err == nil {
		t.Error("meta-data of an unknown type: no error")
	}
}
