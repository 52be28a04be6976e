package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/status"
)

// tandemBin is the tandem binary built once for the process-level tests.
var tandemBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tandem-cli-test")
	if err != nil {
		panic(err)
	}
	// The CLI keeps which drift warnings it showed in the user's cache
	// directory: the tests' own, not this machine's user's.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	tandemBin = filepath.Join(dir, "tandem")
	out, err := exec.Command("go", "build", "-o", tandemBin, "github.com/tandem-ha/tandem/host/cmd/tandem").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building tandem: %v\n%s", err, out)
		os.Exit(1)
	}
	// The first-party plugins beside it, as make build installs them.
	for _, p := range []string{"vip", "systemd", "haproxy", "health", "ocf", "lsb"} {
		if err := os.Symlink("tandem", filepath.Join(dir, "tandem-plugin-"+p)); err != nil {
			panic(err)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// processLog is a member process's output, read by the test while the
// process still writes it.
type processLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *processLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *processLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type localCluster struct {
	t     *testing.T
	dir   string
	conf  string
	procs map[string]*exec.Cmd
	logs  map[string]*processLog
}

// newLocalCluster writes a three-member loopback cluster (holly, benji,
// witness director, daemontest's file) and its certificates, made by
// tandem pki init.
func newLocalCluster(t *testing.T) *localCluster {
	dir := t.TempDir()
	conf := daemontest.WriteFiles(t, dir, "")
	// The binary's own pki init makes the certificates the members use.
	f, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	pki := f.Topology.TLS.Dir
	if err := os.RemoveAll(pki); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tandemBin, "pki", "init", "--config", conf).CombinedOutput(); err != nil {
		t.Fatalf("pki init: %v\n%s", err, out)
	}
	lc := &localCluster{t: t, dir: dir, conf: conf, procs: map[string]*exec.Cmd{}, logs: map[string]*processLog{}}
	t.Cleanup(func() {
		for name, c := range lc.procs {
			c.Process.Kill()
			c.Wait()
			if t.Failed() {
				t.Logf("--- log of %s ---\n%s", name, lc.logs[name])
			}
		}
	})
	return lc
}

func (lc *localCluster) start(name string) {
	args := []string{"host", "--config", lc.conf, "--node", name}
	if name == "director" {
		args = []string{"witness", "--config", lc.conf}
	}
	cmd := exec.Command(tandemBin, args...)
	var buf processLog
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		lc.t.Fatal(err)
	}
	lc.procs[name], lc.logs[name] = cmd, &buf
}

// stop sends SIGTERM and expects a clean exit.
func (lc *localCluster) stop(name string) {
	c := lc.procs[name]
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			lc.t.Errorf("%s exited with %v after SIGTERM\n%s", name, err, lc.logs[name])
		}
	case <-time.After(20 * time.Second):
		c.Process.Kill()
		lc.t.Errorf("%s did not exit within 20s of SIGTERM", name)
	}
	delete(lc.procs, name)
}

func (lc *localCluster) status() (status.Report, int) {
	cmd := exec.Command(tandemBin, "status", "--config", lc.conf, "--output", "json")
	out, err := cmd.Output()
	var r status.Report
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		lc.t.Fatalf("status output %q: %v (%v)", out, jerr, err)
	}
	return r, cmd.ProcessState.ExitCode()
}

func (lc *localCluster) expect(online []string, quorum bool) {
	lc.t.Helper()
	poll.Until(lc.t, 30*time.Second, 200*time.Millisecond, func() error {
		r, code := lc.status()
		var got []string
		for _, n := range append(r.Nodes, *r.Witness) {
			if n.Online {
				got = append(got, n.Name)
			}
		}
		if strings.Join(got, " ") != strings.Join(online, " ") || r.Quorum != quorum {
			return fmt.Errorf("online %v quorum %v, want %v %v", got, r.Quorum, online, quorum)
		}
		if wantCode := map[bool]int{true: 0, false: 1}[quorum]; code != wantCode {
			return fmt.Errorf("status exit code %d, want %d", code, wantCode)
		}
		return nil
	})
}

func rssKB(pid int) int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int
			fmt.Sscanf(strings.TrimPrefix(l, "VmRSS:"), "%d", &kb)
			return kb
		}
	}
	return 0
}

func TestThreeProcessCluster(t *testing.T) {
	lc := newLocalCluster(t)
	begin := time.Now()
	for _, n := range []string{"holly", "benji", "director"} {
		lc.start(n)
	}
	lc.expect([]string{"holly", "benji", "director"}, true)
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if !strings.Contains(lc.logs["holly"].String(), "cluster has quorum") {
			return errors.New("holly has not logged quorum")
		}
		return nil
	})
	t.Logf("three processes to quorum (as holly logged it, plus polling): %s; holly RSS %d kB",
		time.Since(begin).Round(time.Millisecond), rssKB(lc.procs["holly"].Process.Pid))

	out, _ := exec.Command(tandemBin, "status", "--config", lc.conf).Output()
	for _, want := range []string{"Cluster name: " + daemontest.Name, "partition with quorum (3 of 3 voters online)", "Online: [ benji holly ]", "Witness: director Online", "holly: tandem: active, bus: active"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("status text lacks %q:\n%s", want, out)
		}
	}

	lc.stop("benji")
	lc.expect([]string{"holly", "director"}, true)
	lc.stop("director")
	lc.expect([]string{"holly"}, false)
	out, _ = exec.Command(tandemBin, "status", "--config", lc.conf).Output()
	for _, want := range []string{"partition WITHOUT quorum (1 of 3 voters online)", "OFFLINE: [ benji ]", "Witness: director OFFLINE"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("status text lacks %q:\n%s", want, out)
		}
	}
	lc.stop("holly")
	r, code := lc.status()
	if code != 1 || r.Quorum || r.Unreachable == "" {
		t.Errorf("with everything down: exit %d, report %+v", code, r)
	}
}

func TestDaemonExitCodes(t *testing.T) {
	lc := newLocalCluster(t)
	run := func(args ...string) (int, string) {
		cmd := exec.Command(tandemBin, args...)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	bad := filepath.Join(lc.dir, "bad.toml")
	os.WriteFile(bad, []byte("[cluster]\nname = \"x\"\n[[node]]\nnme = \"a\"\n"), 0o644)
	noKey := filepath.Join(lc.dir, "nokey.toml")
	src, _ := os.ReadFile(lc.conf)
	f, _ := config.Load(lc.conf)
	os.WriteFile(noKey, bytes.Replace(src, []byte(f.Topology.TLS.Dir), []byte(filepath.Join(lc.dir, "missing-pki")), 1), 0o644)
	badDir := filepath.Join(lc.dir, "baddir.toml")
	os.WriteFile(filepath.Join(lc.dir, "afile"), nil, 0o644)
	os.WriteFile(badDir, bytes.Replace(src, []byte(filepath.Join(lc.dir, "data")), []byte(filepath.Join(lc.dir, "afile")), 1), 0o644)

	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"host", "--config", bad, "--node", "a"}, ExitConfig, "bad.toml:4: unknown key \"node.nme\""},
		{[]string{"host", "--config", lc.conf, "--node", "nobody"}, ExitUnknownNode, "unknown member \"nobody\""},
		{[]string{"host", "--config", lc.conf, "--node", "director"}, ExitConfig, "is the witness"},
		{[]string{"host", "--config", noKey, "--node", "holly"}, ExitCredentials, "tandem pki init"},
		{[]string{"host", "--config", badDir, "--node", "holly"}, ExitDataDir, "data_dir"},
	}
	for _, c := range cases {
		code, out := run(c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("tandem %v: exit %d (want %d), output:\n%s(want %q)", c.args, code, c.code, out, c.want)
		}
	}
	// Port in use: holly runs, a second holly cannot start.
	lc.start("holly")
	poll.Until(t, 20*time.Second, 100*time.Millisecond, func() error {
		if !strings.Contains(lc.logs["holly"].String(), "bus started") {
			return errors.New("holly not started")
		}
		return nil
	})
	code, out := run("host", "--config", lc.conf, "--node", "holly")
	if code != ExitPortInUse || !strings.Contains(out, "port in use") {
		t.Errorf("second holly: exit %d:\n%s", code, out)
	}
}

func TestConfigValidateCommand(t *testing.T) {
	cmd := exec.Command(tandemBin, "config", "validate", "../../cluster.toml")
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "../../cluster.toml: valid: cluster \"mycluster\", 2 nodes, witness director, 3 resources, 3 constraints\n" {
		t.Errorf("valid file: got %v\n%s\nwant it valid, every agent's parameters checked (no note)", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[cluster]\nname = \"x\"\n[[node]]\nname = \"a\"\naddress = \"1.2.3\"\n[[node]]\nname = \"b\"\naddress = \"198.18.0.2\"\n"), 0o644)
	cmd = exec.Command(tandemBin, "config", "validate", bad)
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() == 0 {
		t.Errorf("invalid file accepted:\n%s", out)
	}
	for _, want := range []string{"bad.toml:5: node \"a\": address \"1.2.3\" is not an IP address", "needs a witness"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// The agents check the file's parameters against their own meta-data: a
// VIP that is not an address and a misspelt parameter are reported at
// their lines, in the agent's words; an agent with no plugin here is a
// note, not a problem.
func TestConfigValidateAsksTheAgents(t *testing.T) {
	src := `[cluster]
name = "t"
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[witness]
name = "director"
address = "198.18.0.30"

[[resource]]
id = "v"
agent = "vip"
[resource.params]
ip = "198.18.0"
cidr = "24"

[[resource]]
id = "w"
agent = "acme:widget"
params = { size = 3 }
`
	path := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tandemBin, "config", "validate", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		path + `:17: resource "v": ip "198.18.0": not an IP address`,
		path + `:18: resource "v": unknown parameter "cidr": did you mean cidr_netmask?`,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if want := `Note: resource "w": the parameters of acme:widget were not checked: `; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
	// --no-agents checks the file alone.
	out, err := exec.Command(tandemBin, "config", "validate", "--no-agents", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid: cluster") {
		t.Errorf("--no-agents: got %v\n%s\nwant the file valid", err, out)
	}
}
