// Package systemdtest tests the systemd plugin (plugins/systemd) and the
// haproxy plugin's unit mode against real systemd: a one-node nspawn lab
// (prefix tdsys, 198.18.0.128/27) whose PID 1 is systemd. tandem.service
// stays stopped: the test binary itself, copied into the node, is the
// driver (see driver), running the real plugin binaries of bin/ under the
// host's plugin supervisor.
package systemdtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envDriver); dir != "" {
		os.Exit(driver(dir, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// The lab: holly alone (testdata/cluster.toml).
var opts = lab.Options{Prefix: "tdsys", Subnet: netip.MustParsePrefix("198.18.0.128/27"), Config: filepath.Join("testdata", "cluster.toml")}

var hollyAddr = netip.MustParseAddr("198.18.0.150")

// Paths inside the node.
const (
	nodeDir     = "/root/tdsys"
	nodeDriver  = nodeDir + "/systemdtest.test"
	nodePlugins = nodeDir + "/plugins" // symlinks to the plugins under test
	unitDir     = "/etc/systemd/system"
)

// Test units. tdsys-sleep restarts itself (Restart=always) and is
// installable at boot: the agent's drop-in must turn the restarts off.
var testUnits = map[string]string{
	"tdsys-false.service": `[Unit]
Description=tandem test: exits 1 at once
[Service]
Type=simple
ExecStart=/bin/false
`,
	"tdsys-noexec.service": `[Unit]
Description=tandem test: its program does not exist
[Service]
Type=exec
ExecStart=/usr/local/bin/tdsys-no-such-program
`,
	"tdsys-slow.service": `[Unit]
Description=tandem test: activating for 1.5 s
[Service]
Type=simple
ExecStartPre=/bin/sleep 1.5
ExecStart=/bin/sleep infinity
`,
	"tdsys-sleep.service": `[Unit]
Description=tandem test: sleeps
[Service]
Type=simple
ExecStart=/bin/sleep infinity
Restart=always
RestartSec=100ms
[Install]
WantedBy=multi-user.target
`,
}

// node is holly, with the driver installed.
type node struct {
	l *lab.Lab
}

func setup(t *testing.T) *node {
	t.Helper()
	l := labtest.Start(t, opts)
	if got := l.NodeAddr("holly"); got != hollyAddr {
		t.Fatalf("holly's address %s, want %s", got, hollyAddr)
	}
	root := l.RootDir("holly")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, nodePlugins), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, nodeDriver), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"systemd", "haproxy"} {
		name := sdk.PluginPrefix + p
		if err := os.Symlink(filepath.Join(l.PluginDir(), name), filepath.Join(root, nodePlugins, name)); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range testUnits {
		if err := os.WriteFile(filepath.Join(root, unitDir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := &node{l: l}
	n.sh(t, "systemctl", "daemon-reload")
	return n
}

// sh runs argv in holly and returns its output, failing t on an error.
func (n *node) sh(t *testing.T, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := n.l.Exec(ctx, "holly", argv...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// prop reads one property of a unit with systemctl show.
func (n *node) prop(t *testing.T, unit, name string) string {
	t.Helper()
	return n.sh(t, "systemctl", "show", "-p", name, "--value", unit)
}

// drive runs the driver in holly on agent with ops (and driver flags
// before them) and returns one result per operation.
func (n *node) drive(t *testing.T, flags []string, agent string, ops ...string) []result {
	t.Helper()
	argv := append([]string{"env", envDriver + "=" + nodePlugins, nodeDriver}, flags...)
	argv = append(append(argv, agent), ops...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := n.l.Exec(ctx, "holly", argv...)
	if err != nil {
		t.Fatalf("driver: %v\n%s", err, out)
	}
	var rs []result
	for _, line := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(line, resultPrefix); ok {
			var r result
			if err := json.Unmarshal([]byte(s), &r); err != nil {
				t.Fatalf("driver line %q: %v", line, err)
			}
			rs = append(rs, r)
		}
	}
	if len(rs) != len(ops) {
		t.Fatalf("driver printed %d results for %d operations:\n%s", len(rs), len(ops), out)
	}
	for _, r := range rs {
		t.Logf("%s %s", agent, r)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("TANDEM_SYSTEMDTEST_LOG") == "1" {
			t.Logf("driver output for %s %v:\n%s", agent, ops, out)
		}
	})
	return rs
}

// expect checks each result's code and that its message holds the given
// substrings (case-insensitive).
type expect struct {
	code sdk.Code
	has  []string
}

func check(t *testing.T, rs []result, want ...expect) {
	t.Helper()
	for i, w := range want {
		r := rs[i]
		if r.Code != w.code {
			t.Errorf("%s: %v (%d) %q; want %v", r.Op, r.Code, int32(r.Code), r.Message, w.code)
		}
		for _, s := range w.has {
			if !strings.Contains(strings.ToLower(r.Message), strings.ToLower(s)) {
				t.Errorf("%s: message %q lacks %q", r.Op, r.Message, s)
			}
		}
	}
}

func ok(has ...string) expect         { return expect{sdk.OK, has} }
func notRunning(has ...string) expect { return expect{sdk.NotRunning, has} }
func failed(has ...string) expect     { return expect{sdk.ErrGeneric, has} }

// waitFor polls cond every 50 ms until it holds, failing t after total.
// get fetches http://addr/ from the host.
func get(addr string) (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET http://%s/: %s", addr, resp.Status)
	}
	return string(b), err
}

// TestSystemdAgent runs the systemd agent's scenarios in one lab node:
// apache2's lifecycle and drop-in, units that fail to start, units killed
// behind the cluster's back, an unknown unit, a unit enabled at boot, the
// haproxy agent on haproxy.service, and the start time against systemctl.
func TestSystemdAgent(t *testing.T) {
	n := setup(t)

	t.Run("apache2", func(t *testing.T) {
		const agent = "systemd:apache2"
		check(t, n.drive(t, nil, agent, "validate", "stop", "monitor", "start", "monitor"),
			ok("apache2.service"), ok(), notRunning("inactive"), ok("started in", "active (running)"), ok("active (running)"))
		if t.Failed() {
			return
		}
		dropIn := n.sh(t, "cat", "/run/systemd/system/apache2.service.d/50-tandem.conf")
		for _, line := range []string{"Description=Cluster Controlled apache2", "Restart=no"} {
			if !slices.Contains(strings.Split(dropIn, "\n"), line) {
				t.Errorf("drop-in lacks %q:\n%s", line, dropIn)
			}
		}
		if d := n.prop(t, "apache2", "Description"); d != "Cluster Controlled apache2" {
			t.Errorf("apache2's Description as systemd has it: %q", d)
		}
		if r := n.prop(t, "apache2", "Restart"); r != "no" {
			t.Errorf("apache2's Restart as systemd has it: %q (Debian's unit says on-abort)", r)
		}
		if body, err := get(hollyAddr.String()); err != nil || body != "Hello Holly\n" {
			t.Errorf("Apache after start: %q, %v", body, err)
		}
		check(t, n.drive(t, nil, agent, "start", "stop", "monitor", "stop"),
			ok("already running"), ok("stopped"), notRunning("inactive (dead)"), ok())
		if _, err := get(hollyAddr.String()); err == nil {
			t.Error("Apache still answers after stop")
		}
	})

	t.Run("daemon-reexec", func(t *testing.T) {
		// systemd re-executes itself on upgrades, dropping every D-Bus
		// connection: the plugin, still up, must reconnect, not fail a
		// monitor (which would make the cluster recover a running unit).
		check(t, n.drive(t, nil, "systemd:apache2", "start", "run:systemctl daemon-reexec", "monitor", "monitor",
			"run:systemctl daemon-reexec", "stop", "monitor"),
			ok(), ok(), ok("active (running)"), ok(), ok(), ok("stopped"), notRunning())
		// Monitors while systemd re-executes (about 0.3 s here).
		ops := []string{"start", "run:systemctl daemon-reexec >/dev/null 2>&1 &"}
		want := []expect{ok(), ok()}
		for range 40 {
			ops = append(ops, "monitor")
			want = append(want, ok("active (running)"))
		}
		check(t, n.drive(t, nil, "systemd:apache2", append(ops, "stop")...), append(want, ok())...)
		// A start job (1.5 s of ExecStartPre) during which systemd
		// re-executes: its result comes on no connection of ours.
		check(t, n.drive(t, nil, "systemd:tdsys-slow", "run:(sleep 1; systemctl daemon-reexec) >/dev/null 2>&1 &", "start", "monitor", "stop"),
			ok(), ok("active (running)"), ok(), ok())
	})

	t.Run("fails-on-start", func(t *testing.T) {
		// Type=simple: the job is done once the process is forked; the
		// agent must still see that it exited at once.
		check(t, n.drive(t, nil, "systemd:tdsys-false", "start", "monitor", "stop", "monitor"),
			failed("start tdsys-false.service", "exited with status 1", "journalctl -u tdsys-false.service"),
			failed("failed"), ok("reset"), notRunning())
		// Type=exec with a missing program: the job itself fails.
		check(t, n.drive(t, nil, "systemd:tdsys-noexec", "start", "monitor", "stop", "monitor"),
			failed("tdsys-noexec.service", "failed", "journalctl -u tdsys-noexec.service"),
			failed("failed"), ok("reset"), notRunning())
	})

	t.Run("killed", func(t *testing.T) {
		for _, unit := range []string{"apache2.service", "tdsys-sleep.service"} {
			agent := "systemd:" + strings.TrimSuffix(unit, ".service")
			check(t, n.drive(t, nil, agent, "start", "monitor"), ok(), ok())
			pid := n.prop(t, unit, "MainPID")
			if pid == "" || pid == "0" {
				t.Fatalf("%s: no main PID after start", unit)
			}
			n.sh(t, "kill", "-9", pid)
			poll.Until(t, 10*time.Second, 50*time.Millisecond, poll.About(unit+" leaves active after kill -9", func() error {
				s := n.prop(t, unit, "ActiveState")
				if s != "active" {
					return nil
				}
				return fmt.Errorf("still %s", s)
			}))
			check(t, n.drive(t, nil, agent, "monitor"), failed("failed", "signal 9"))
			// Restart=no in the drop-in: systemd left it down, though
			// the unit file says Restart=on-abort (apache2) or always.
			if r := n.prop(t, unit, "NRestarts"); r != "0" {
				t.Errorf("%s restarted by systemd %s times after kill -9", unit, r)
			}
			if s := n.prop(t, unit, "ActiveState"); s != "failed" {
				t.Errorf("%s is %s after kill -9, want failed (no restart)", unit, s)
			}
			check(t, n.drive(t, nil, agent, "stop", "monitor", "start", "monitor", "stop"),
				ok("reset"), notRunning(), ok("started"), ok(), ok())
		}
	})

	t.Run("activating", func(t *testing.T) {
		// A monitor waits for a unit that is activating, within its
		// timeout; one whose time runs out first reports it.
		n.sh(t, "systemctl", "start", "--no-block", "tdsys-slow.service")
		rs := n.drive(t, nil, "systemd:tdsys-slow", "monitor@300ms", "monitor@10s", "stop")
		check(t, rs, failed("still activating"), ok("active (running)"), ok())
		if rs[1].Duration < 100*time.Millisecond {
			t.Errorf("the second monitor answered in %s: it did not wait for the unit to leave activating", rs[1].Duration)
		}
	})

	t.Run("unknown-unit", func(t *testing.T) {
		check(t, n.drive(t, nil, "systemd:tdsys-nope", "validate", "start", "monitor", "stop"),
			expect{sdk.ErrNotInstalled, []string{"tdsys-nope.service", "not installed"}},
			expect{sdk.ErrNotInstalled, []string{"not installed"}},
			notRunning("not installed"), ok("not installed"))
		// Nothing was written for it (/run is the node's tmpfs: ask the node).
		n.sh(t, "test", "!", "-e", "/run/systemd/system/tdsys-nope.service.d")
	})

	t.Run("enabled-at-boot", func(t *testing.T) {
		n.sh(t, "systemctl", "enable", "tdsys-sleep.service")
		defer n.sh(t, "systemctl", "disable", "tdsys-sleep.service")
		const warn = "enabled at boot"
		check(t, n.drive(t, nil, "systemd:tdsys-sleep", "validate", "start", "monitor", "stop"),
			ok(warn, "systemctl disable tdsys-sleep.service"), ok("started", warn), ok(), ok())
	})

	t.Run("admin-restart-override", func(t *testing.T) {
		// An admin's drop-in that sorts after 50-tandem.conf wins: start
		// says that systemd will restart the unit by itself.
		dir := filepath.Join(n.l.RootDir("holly"), unitDir, "tdsys-sleep.service.d")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "override.conf"), []byte("[Service]\nRestart=always\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		n.sh(t, "systemctl", "daemon-reload")
		defer func() {
			os.RemoveAll(dir)
			n.sh(t, "systemctl", "daemon-reload")
		}()
		check(t, n.drive(t, nil, "systemd:tdsys-sleep", "start", "start", "stop"),
			ok("Restart=always", "behind the cluster's back"), ok("already running", "Restart=always"), ok())
	})

	t.Run("masked", func(t *testing.T) {
		// Masking does not stop a running unit: monitor must still see
		// it running, or the cluster would start a second copy elsewhere.
		// (A runtime mask in /run beats apache2's unit in /lib, not a
		// unit in /etc.)
		check(t, n.drive(t, nil, "systemd:apache2", "start"), ok())
		n.sh(t, "systemctl", "mask", "--runtime", "apache2.service")
		defer n.sh(t, "systemctl", "unmask", "--runtime", "apache2.service")
		check(t, n.drive(t, nil, "systemd:apache2", "monitor", "validate", "stop", "monitor", "start", "stop"),
			ok("active (running)", "masked"), expect{sdk.ErrNotInstalled, []string{"masked"}}, ok(), notRunning("masked"),
			expect{sdk.ErrNotInstalled, []string{"masked", "systemctl unmask"}}, ok())
	})

	t.Run("haproxy-unit", func(t *testing.T) {
		// haproxy.service (the default unit) on a rendered configuration,
		// balancing to holly's Apache.
		check(t, n.drive(t, nil, "systemd:apache2", "start"), ok())
		view, _ := json.Marshal(sdk.ClusterView{
			Nodes:  []sdk.NodeView{{Name: "holly", Address: hollyAddr.String(), Online: true}},
			Active: map[string][]string{"httpd-clone": {"holly"}},
		})
		front := hollyAddr.String() + ":8080"
		flags := []string{"-id", "haproxy", "-view", string(view), "-p", "bind=" + front, "-p", "backend_clone=httpd-clone",
			"-p", "check_interval=200ms", "-p", "rise=1"}
		check(t, n.drive(t, flags, "haproxy", "validate", "stop", "monitor", "start", "monitor"),
			ok(), ok(), notRunning(), ok(), ok("holly"))
		if d := n.prop(t, "haproxy", "Description"); d != "Cluster Controlled haproxy" {
			t.Errorf("haproxy's Description: %q", d)
		}
		if env := n.prop(t, "haproxy", "Environment"); !strings.Contains(env, "CONFIG=/run/tandem/haproxy/haproxy.cfg") {
			t.Errorf("haproxy's Environment: %q, want CONFIG pointing at the rendered file", env)
		}
		if a := n.prop(t, "haproxy", "ActiveState"); a != "active" {
			t.Errorf("haproxy.service is %s after the agent's start", a)
		}
		poll.Until(t, 10*time.Second, 50*time.Millisecond, poll.About("Apache through HAProxy", func() error {
			body, err := get(front)
			if err == nil && body == "Hello Holly\n" {
				return nil
			}
			return fmt.Errorf("%q, %v", body, err)
		}))
		// A second node in the view: a new server line, so a reload
		// through systemd (ExecReload), keeping HAProxy's master.
		master := n.prop(t, "haproxy", "MainPID")
		view2, _ := json.Marshal(sdk.ClusterView{
			Nodes: []sdk.NodeView{{Name: "holly", Address: hollyAddr.String(), Online: true},
				{Name: "benji", Address: "198.18.0.151", Online: true}},
			Active: map[string][]string{"httpd-clone": {"holly"}},
		})
		flags2 := append(slices.Clone(flags), "-view", string(view2))
		check(t, n.drive(t, flags2, "haproxy", "notify", "monitor"), ok("benji"), ok("holly UP", "benji"))
		if pid := n.prop(t, "haproxy", "MainPID"); pid != master {
			t.Errorf("haproxy's main PID %s after the reload, was %s: restarted, not reloaded", pid, master)
		}
		if body, err := get(front); err != nil || body != "Hello Holly\n" {
			t.Errorf("through HAProxy after the reload: %q, %v", body, err)
		}
		check(t, n.drive(t, flags, "haproxy", "stop", "monitor"), ok(), notRunning())
		if a := n.prop(t, "haproxy", "ActiveState"); a != "inactive" {
			t.Errorf("haproxy.service is %s after the agent's stop", a)
		}
		check(t, n.drive(t, nil, "systemd:apache2", "stop"), ok())
	})

	t.Run("start-time", func(t *testing.T) {
		// Start of apache2 as the host sees it (supervisor → plugin →
		// D-Bus job → active) against systemctl start alone, both timed
		// in the node, from stopped each time.
		const runs = 5
		var first, plugin, ctl []time.Duration
		for range runs {
			// The first start after boot writes the drop-in and reloads.
			n.sh(t, "rm", "-rf", "/run/systemd/system/apache2.service.d")
			n.sh(t, "systemctl", "daemon-reload")
			rs := n.drive(t, nil, "systemd:apache2", "start", "stop", "start", "stop", "systemctl-start", "systemctl-stop")
			check(t, rs, ok(), ok(), ok(), ok(), ok(), ok())
			first = append(first, rs[0].Duration)
			plugin = append(plugin, rs[2].Duration)
			ctl = append(ctl, rs[4].Duration)
		}
		t.Logf("apache2 start, median of %d (min-max): plugin, first start (drop-in + daemon-reload) %s; plugin %s; systemctl start %s",
			runs, spread(first), spread(plugin), spread(ctl))
	})
}

// spread is "median (min-max)".
func spread(ds []time.Duration) string {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("%s (%s-%s)", r(s[len(s)/2]), r(s[0]), r(s[len(s)-1]))
}
