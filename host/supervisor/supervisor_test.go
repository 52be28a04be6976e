package supervisor_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// The test binary plays three parts: the tests; a plugin when run under a
// tandem-plugin-* name (symlinks in a temporary plugin dir); and a tandem
// host when envHost names a plugin dir (for the SIGKILL test).
const (
	envHost  = "TANDEM_SUPERVISOR_TEST_HOST"
	envState = "TANDEM_SUPERVISOR_TEST_STATE"
)

func TestMain(m *testing.M) {
	switch name := strings.TrimPrefix(filepath.Base(os.Args[0]), sdk.PluginPrefix); {
	case name == "tplug":
		sdk.Serve(&testAgent{})
	case name == "chatty":
		fmt.Println("starting up!")
		sdk.Serve(&testAgent{})
	case os.Getenv(envHost) != "":
		hostMain(os.Getenv(envHost), os.Getenv(envState))
	}
	os.Exit(m.Run())
}

// pluginDir makes a plugin dir holding the test binary under each name.
func pluginDir(t testing.TB, names ...string) string {
	dir := t.TempDir()
	for _, n := range names {
		if err := os.Symlink(os.Args[0], filepath.Join(dir, sdk.PluginPrefix+n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func start(t testing.TB, cfg supervisor.Config) *supervisor.Supervisor {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = sdktest.Logger(t)
	}
	if cfg.TimeoutGrace == 0 {
		cfg.TimeoutGrace = 200 * time.Millisecond
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = 20 * time.Millisecond
	}
	s, err := supervisor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkFor polls f until it returns nil or total has passed.
func status(t testing.TB, s *supervisor.Supervisor, name string) supervisor.Status {
	t.Helper()
	for _, st := range s.Plugins() {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("plugin status: got plugins %v, want one named %q", s.Plugins(), name)
	return supervisor.Status{}
}

func request(dir, id string, extra ...string) sdk.Request {
	params := map[string]string{"dir": dir}
	for i := 0; i+1 < len(extra); i += 2 {
		params[extra[i]] = extra[i+1]
	}
	return sdk.Request{ResourceID: id, Params: params, Instance: sdk.Instance{Node: "holly", CloneIndex: -1}}
}

func ops(t testing.TB, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "ops.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func mustRun(t testing.TB, s *supervisor.Supervisor, op string, req sdk.Request, want sdk.Code) supervisor.Outcome {
	t.Helper()
	out := s.Run(context.Background(), "tplug:file", op, req, 10*time.Second)
	if out.Code != want || out.TimedOut {
		t.Fatalf("%s %s: got %+v, want code %v, not timed out", op, req.ResourceID, out, want)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	s := start(t, supervisor.Config{Dir: pluginDir(t, "tplug")})
	state := t.TempDir()
	ctx := context.Background()

	if p, typ, err := s.Lookup("tplug:file"); err != nil || p != "tplug" || typ != "file" {
		t.Fatalf("Lookup(\"tplug:file\"): got plugin %q, type %q, err %v; want plugin \"tplug\", type \"file\", no error", p, typ, err)
	}
	if _, _, err := s.Lookup("tplug:dir"); err == nil || !strings.Contains(err.Error(), `plugin "tplug" does not provide agent type "dir" (it provides: file)`) {
		t.Fatalf("Lookup of a missing type: got error %v, want one containing %q", err, `plugin "tplug" does not provide agent type "dir" (it provides: file)`)
	}
	if _, _, err := s.Lookup("systemd:apache2"); !errors.Is(err, supervisor.ErrUnknownPlugin) || !strings.Contains(err.Error(), "plugins found: tplug") {
		t.Fatalf("Lookup of a missing plugin: got error %v, want %v containing %q", err, supervisor.ErrUnknownPlugin, "plugins found: tplug")
	}
	if out := s.Run(ctx, "systemd:apache2", bus.OpStart, request(state, "r"), time.Second); out.Code != sdk.ErrNotInstalled {
		t.Fatalf("start with a missing plugin: got %+v, want code %v", out, sdk.ErrNotInstalled)
	}

	out := s.Validate(ctx, "tplug:file", map[string]string{}, time.Second)
	if out.Code != sdk.ErrArgs || out.Message != "param dir is required (tplug)" {
		t.Fatalf("validate bad params: got %+v, want code %v, message %q", out, sdk.ErrArgs, "param dir is required (tplug)")
	}
	if out := s.Validate(ctx, "tplug:file", map[string]string{"dir": state}, time.Second); out.Code != sdk.OK {
		t.Fatalf("validate good params: got %+v, want code %v", out, sdk.OK)
	}
	md, err := s.MetaData(ctx, "tplug:file", time.Second)
	if err != nil || md.Type != "file" || md.Params[0].Name != "dir" {
		t.Fatalf("meta-data: got %+v (err %v), want type \"file\" with first param \"dir\", no error", md, err)
	}

	req := request(state, "r")
	mustRun(t, s, bus.OpProbe, req, sdk.NotRunning)
	mustRun(t, s, bus.OpStart, req, sdk.OK)
	mustRun(t, s, bus.OpMonitor, req, sdk.OK)
	mustRun(t, s, bus.OpReload, req, sdk.ErrUnimplemented)
	mustRun(t, s, bus.OpStop, req, sdk.OK)
	mustRun(t, s, bus.OpMonitor, req, sdk.NotRunning)
	if out := s.Run(ctx, "tplug:file", "migrate_to", req, time.Second); out.Code != sdk.ErrUnimplemented {
		t.Fatalf("unknown op: got %+v, want code %v", out, sdk.ErrUnimplemented)
	}

	st := status(t, s, "tplug")
	if st.State != supervisor.StateRunning || st.Pid <= 0 || st.APIVersion != sdk.APIVersion {
		t.Fatalf("status: got state %s, pid %d, API version %q; want state %s, pid > 0, API version %q", st.State, st.Pid, st.APIVersion, supervisor.StateRunning, sdk.APIVersion)
	}
	if got, want := st.String(), fmt.Sprintf("tplug: running, pid %d, restarts 0, version 0.0.1", st.Pid); got != want {
		t.Fatalf("status line %q, want %q", got, want)
	}
}

func TestCrashMidOperationRestartsPluginNotResource(t *testing.T) {
	s := start(t, supervisor.Config{Dir: pluginDir(t, "tplug")})
	state := t.TempDir()
	mustRun(t, s, bus.OpStart, request(state, "r"), sdk.OK)
	pid := status(t, s, "tplug").Pid

	// The plugin dies in the middle of this monitor; the call is retried
	// on the restarted plugin, which finds the resource running.
	out := mustRun(t, s, bus.OpMonitor, request(state, "r", "crash", "once"), sdk.OK)
	st := status(t, s, "tplug")
	if st.Restarts != 1 || st.Pid == pid || st.State != supervisor.StateRunning {
		t.Fatalf("after a crash: got %+v (outcome %+v); want running, restarts 1, a pid other than %d", st, out, pid)
	}
	if got := ops(t, state); got != "start r\n" {
		t.Fatalf("operations run on the resource: got %q, want %q (a plugin restart must not stop or start it)", got, "start r\n")
	}

	// A plugin that dies on every try: the operation fails, the host
	// carries on.
	out = s.Run(context.Background(), "tplug:file", bus.OpMonitor, request(state, "r", "crash", "always"), 10*time.Second)
	if out.Code != sdk.ErrGeneric || out.TimedOut || !strings.Contains(out.Message, `plugin "tplug" failed during the call twice`) {
		t.Fatalf("monitor that always crashes the plugin: got %+v, want code %v, not timed out, message containing %q", out, sdk.ErrGeneric, `plugin "tplug" failed during the call twice`)
	}
	mustRun(t, s, bus.OpMonitor, request(state, "r"), sdk.OK)
	if got := ops(t, state); got != "start r\n" {
		t.Fatalf("operations run on the resource: got %q, want %q", got, "start r\n")
	}
}

func TestHangTimesOutAndRestarts(t *testing.T) {
	s := start(t, supervisor.Config{Dir: pluginDir(t, "tplug")})
	state := t.TempDir()
	mustRun(t, s, bus.OpStart, request(state, "r"), sdk.OK)
	pid := status(t, s, "tplug").Pid

	out := s.Run(context.Background(), "tplug:file", bus.OpMonitor, request(state, "r", "hang", "1"), 300*time.Millisecond)
	if !out.TimedOut || out.Code != sdk.ErrGeneric || !strings.Contains(out.Message, "monitor tplug:file timed out after 300ms") {
		t.Fatalf("hung monitor: got %+v, want timed out, code %v, message containing %q", out, sdk.ErrGeneric, "monitor tplug:file timed out after 300ms")
	}
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if st := status(t, s, "tplug"); st.Restarts != 1 || st.State != supervisor.StateRunning || st.Pid == pid {
			return fmt.Errorf("plugin restart: got %+v, want running, restarts 1, a pid other than %d", st, pid)
		}
		return nil
	})
	if syscall.Kill(pid, 0) == nil && !zombie(pid) {
		t.Fatalf("hung plugin process %d: got still alive, want gone or a zombie", pid)
	}
	mustRun(t, s, bus.OpMonitor, request(state, "r"), sdk.OK)
	if got := ops(t, state); got != "start r\n" {
		t.Fatalf("operations run on the resource: got %q, want %q", got, "start r\n")
	}
}

func TestConcurrentMonitorsDoNotBlockEachOther(t *testing.T) {
	s := start(t, supervisor.Config{Dir: pluginDir(t, "tplug")})
	state := t.TempDir()
	mustRun(t, s, bus.OpStart, request(state, "r"), sdk.OK)
	const n = 100
	var wg sync.WaitGroup
	outs := make([]supervisor.Outcome, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = s.Run(context.Background(), "tplug:file", bus.OpMonitor, request(state, "r", "barrier", strconv.Itoa(n)), 30*time.Second)
		}()
	}
	wg.Wait()
	for i, out := range outs {
		if out.Code != sdk.OK {
			t.Fatalf("monitor %d: got %+v, want code %v", i, out, sdk.OK)
		}
	}
}

func TestStdoutBeforeHandshakeNamesPlugin(t *testing.T) {
	dir := pluginDir(t, "tplug", "chatty")
	s := start(t, supervisor.Config{Dir: dir, BackoffMin: time.Hour})
	st := status(t, s, "chatty")
	if st.State != supervisor.StateFailed || !strings.Contains(st.LastError, `plugin "chatty"`) ||
		!strings.Contains(st.LastError, "wrote to stdout before the handshake") || !strings.Contains(st.LastError, "starting up!") {
		t.Fatalf("chatty plugin status: got state %s, last error %q; want state %s, last error containing %q, %q and %q", st.State, st.LastError, supervisor.StateFailed, `plugin "chatty"`, "wrote to stdout before the handshake", "starting up!")
	}
	if !strings.HasPrefix(st.String(), "chatty: failed, restarts 0: plugin \"chatty\"") {
		t.Fatalf("status line: got %q, want prefix %q", st.String(), "chatty: failed, restarts 0: plugin \"chatty\"")
	}
	out := s.Run(context.Background(), "chatty", bus.OpMonitor, request(t.TempDir(), "r"), 5*time.Second)
	if out.Code != sdk.ErrGeneric || !strings.Contains(out.Message, `plugin "chatty" failed to start`) || out.Duration > 4*time.Second {
		t.Fatalf("operation on a plugin that cannot start: got %+v, want code %v, message containing %q, duration at most 4s (fail at once)", out, sdk.ErrGeneric, `plugin "chatty" failed to start`)
	}
	if status(t, s, "tplug").State != supervisor.StateRunning {
		t.Fatal("one bad plugin kept a good one from running")
	}
	// Launch killed the process on its error path.
	poll.Until(t, 5*time.Second, 20*time.Millisecond, func() error {
		if pids := children(filepath.Join(dir, sdk.PluginPrefix+"chatty")); len(pids) > 0 {
			return fmt.Errorf("chatty plugin processes: got %v still running, want none", pids)
		}
		return nil
	})
}

func TestPingFailureRestartsPlugin(t *testing.T) {
	s := start(t, supervisor.Config{Dir: pluginDir(t, "tplug"), PingInterval: 100 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	pid := status(t, s, "tplug").Pid
	// A stopped process answers nothing, not even pings.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if st := status(t, s, "tplug"); st.Restarts != 1 || st.State != supervisor.StateRunning || !strings.Contains(st.LastError, "no answer to a ping") {
			return fmt.Errorf("after failed pings: got state %s, restarts %d, last error %q; want state %s, restarts 1, last error containing %q", st.State, st.Restarts, st.LastError, supervisor.StateRunning, "no answer to a ping")
		}
		return nil
	})
}

func TestHoldReplayedToRestartedPlugin(t *testing.T) {
	s := start(t, supervisor.Config{Dir: pluginDir(t, "tplug")})
	state := t.TempDir()
	hold := sdk.HoldRequest{ResourceID: "vip", Params: map[string]string{"dir": state}, Until: sdk.MonotonicNow() + time.Hour}
	if out := s.Hold(context.Background(), "tplug:file", hold, 5*time.Second); out.Code != sdk.OK {
		t.Fatalf("hold: got %+v, want code %v", out, sdk.OK)
	}
	if err := syscall.Kill(status(t, s, "tplug").Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := ops(t, state); got != "hold vip\nhold vip\n" {
			return fmt.Errorf("holds seen by the plugins: got %q, want %q", got, "hold vip\nhold vip\n")
		}
		return nil
	})
	// Cancelled holds are not replayed.
	hold.Until = 0
	if out := s.Hold(context.Background(), "tplug:file", hold, 5*time.Second); out.Code != sdk.OK {
		t.Fatalf("cancel hold: got %+v, want code %v", out, sdk.OK)
	}
	killPlugin(t, s, 2)
	if got := ops(t, state); got != "hold vip\nhold vip\nhold vip\n" {
		t.Fatalf("holds seen by the plugins: got %q, want %q (a cancelled hold is not replayed)", got, "hold vip\nhold vip\nhold vip\n")
	}
}

// killPlugin kills the tplug plugin's process and waits until the
// supervisor runs it again, as its restarts'th restart.
func killPlugin(t *testing.T, s *supervisor.Supervisor, restarts int) {
	t.Helper()
	if err := syscall.Kill(status(t, s, "tplug").Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if st := status(t, s, "tplug"); st.Restarts != restarts || st.State != supervisor.StateRunning {
			return fmt.Errorf("plugin restart: got %+v, want running, restarts %d", st, restarts)
		}
		return nil
	})
}

// A plugin process that answers a hold with ErrUnimplemented is not asked
// again (each renewal of a singleton's lease sends one, 4 times a second);
// once the plugin runs a new process, it is asked again.
func TestHoldNotAskedAgainOfAnAgentThatRefusedIt(t *testing.T) {
	s := start(t, supervisor.Config{Dir: pluginDir(t, "tplug")})
	state := t.TempDir()
	hold := sdk.HoldRequest{ResourceID: "db", Params: map[string]string{"dir": state, "hold": "unimplemented"}, Until: sdk.MonotonicNow() + time.Hour}
	for range 5 {
		if out := s.Hold(context.Background(), "tplug:file", hold, 5*time.Second); out.Code != sdk.ErrUnimplemented {
			t.Fatalf("hold: got %+v, want code %v", out, sdk.ErrUnimplemented)
		}
	}
	if got := ops(t, state); got != "hold refused db\n" {
		t.Fatalf("holds the plugin saw: %q, want the first only", got)
	}
	killPlugin(t, s, 1)
	for range 3 {
		if out := s.Hold(context.Background(), "tplug:file", hold, 5*time.Second); out.Code != sdk.ErrUnimplemented {
			t.Fatalf("hold after the restart: got %+v, want code %v", out, sdk.ErrUnimplemented)
		}
	}
	if got := ops(t, state); got != "hold refused db\nhold refused db\n" {
		t.Fatalf("holds the plugins saw: %q, want the first of each process", got)
	}
}

// hostMain is the child "host" of TestHostKilledPluginExits: it launches
// the plugins in dir, puts a hold on a resource, reports the plugin's pid
// and waits to be killed.
func hostMain(dir, state string) {
	s, err := supervisor.New(supervisor.Config{Dir: dir})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	hold := sdk.HoldRequest{ResourceID: "held", Params: map[string]string{"dir": state}, Until: sdk.MonotonicNow() + time.Hour}
	if out := s.Hold(ctx, "tplug:file", hold, 5*time.Second); out.Code != sdk.OK {
		fmt.Println("ERROR hold", out.Message)
		os.Exit(1)
	}
	for _, st := range s.Plugins() {
		fmt.Println("PLUGIN", st.Pid)
	}
	select {}
}

func TestHostKilledPluginExits(t *testing.T) {
	dir, state := pluginDir(t, "tplug"), t.TempDir()
	host := exec.Command(os.Args[0])
	host.Env = append(os.Environ(), envHost+"="+dir, envState+"="+state)
	var hostLog bytes.Buffer
	host.Stderr = &hostLog
	defer func() {
		if t.Failed() {
			t.Logf("host's log:\n%s", hostLog.String())
		}
	}()
	stdout, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Process.Kill(); _ = host.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var pid int
	if _, scanErr := fmt.Sscanf(line, "PLUGIN %d", &pid); err != nil || scanErr != nil || pid <= 0 {
		t.Fatalf("host's first line: got %q (read error %v, scan error %v), want \"PLUGIN <pid>\" with pid > 0", line, err, scanErr)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })

	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	killed := time.Now()
	poll.Until(t, 2*time.Second, 10*time.Millisecond, func() error {
		if syscall.Kill(pid, 0) == nil && !zombie(pid) {
			return fmt.Errorf("plugin %d after its host was SIGKILLed: got still running, want gone or a zombie", pid)
		}
		return nil
	})
	t.Logf("plugin gone %v after its host was SIGKILLed", time.Since(killed).Round(time.Millisecond))
	if got := ops(t, state); got != "hold held\nstop held\n" {
		t.Fatalf("operations: got %q, want %q (a plugin whose host died must release its held resources)", got, "hold held\nstop held\n")
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("tandem-plugin-vip", 0o755)
	write("tandem-plugin-haproxy", 0o755)
	write("tandem-plugin-notexec", 0o644)
	write("tandem-plugin-vip.bak", 0o755)
	write("tandem-plugin-", 0o755)
	write("tandem", 0o755)
	if err := os.Mkdir(filepath.Join(dir, "tandem-plugin-adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, _, err := supervisor.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["vip"] != filepath.Join(dir, "tandem-plugin-vip") || got["haproxy"] == "" {
		t.Fatalf("Discover: got %v, want exactly vip (%s) and haproxy", got, filepath.Join(dir, "tandem-plugin-vip"))
	}
	if _, err := supervisor.New(supervisor.Config{Dir: filepath.Join(dir, "missing")}); err == nil || !strings.Contains(err.Error(), "plugin dir "+filepath.Join(dir, "missing")) {
		t.Fatalf("New with a missing dir: got error %v, want one containing %q", err, "plugin dir "+filepath.Join(dir, "missing"))
	}
}

// A plugin runs as root: one anybody could have written (mode 0777, owned
// by nobody) is not used, nor is any plugin of a directory others can
// write to.
func TestDiscoverRefusesPluginsOthersCanWrite(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"tandem-plugin-good": 0o755, "tandem-plugin-open": 0o777, "tandem-plugin-group": 0o775, "tandem-plugin-nobody": 0o755} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	owned := os.Geteuid() == 0
	if owned {
		// Only root can give a file away; as another user, the mode
		// cases are the test.
		if err := os.Chown(filepath.Join(dir, "tandem-plugin-nobody"), 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	got, refused, err := supervisor.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"open": "writable by its group or others (mode 0777)", "group": "writable by its group or others (mode 0775)"}
	if owned {
		want["nobody"] = "is owned by uid 65534, want root"
	}
	if len(got) != 4-len(want) || got["good"] == "" {
		t.Errorf("Discover used %v, want good only (and nobody when not root)", got)
	}
	for name, msg := range want {
		if err := refused[name]; err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: refused with %v, want %q", name, err, msg)
		}
		if got[name] != "" {
			t.Errorf("%s was used", name)
		}
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, _, err := supervisor.Discover(dir); err == nil || !strings.Contains(err.Error(), "plugin dir not trusted") {
		t.Errorf("Discover of a world-writable dir: %v, want refused", err)
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// children lists live processes of this test whose argv[0] is path.
func children(path string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.HasPrefix(string(cmd), path+"\x00") || zombie(pid) {
			continue
		}
		out = append(out, pid)
	}
	return out
}

func TestOnDemandLaunchesAtFirstUse(t *testing.T) {
	s := start(t, supervisor.Config{Dir: pluginDir(t, "tplug", "chatty"), OnDemand: true})
	for _, name := range []string{"tplug", "chatty"} {
		if st := status(t, s, name); st.State != supervisor.StateIdle || st.Pid != 0 {
			t.Fatalf("%s before any use: %+v, want idle with no process", name, st)
		}
	}
	// An agent type the plugin does not provide is found out at the launch
	// the call causes, and reported as not installed.
	out := s.Run(context.Background(), "tplug:nope", "monitor", request(t.TempDir(), "r0"), 10*time.Second)
	if out.Code != sdk.ErrNotInstalled || !strings.Contains(out.Message, `does not provide agent type "nope"`) {
		t.Fatalf("monitor of an unprovided type: got %+v, want code %v, message containing %q", out, sdk.ErrNotInstalled, `does not provide agent type "nope"`)
	}
	if st := status(t, s, "tplug"); st.State != supervisor.StateRunning || st.Pid == 0 {
		t.Fatalf("tplug after a call: %+v, want running", st)
	}
	state := t.TempDir()
	mustRun(t, s, "start", request(state, "r1"), sdk.OK)
	mustRun(t, s, "monitor", request(state, "r1"), sdk.OK)
	if st := status(t, s, "chatty"); st.State != supervisor.StateIdle {
		t.Fatalf("chatty, never used: %+v, want idle", st)
	}
	if _, _, err := s.Lookup("tplug:nope"); err == nil {
		t.Fatal("Lookup of an unprovided type passed once the plugin had said what it provides")
	}
}

func TestOnDemandIdleAtClose(t *testing.T) {
	s := start(t, supervisor.Config{Dir: pluginDir(t, "tplug"), OnDemand: true})
	s.Close()
	out := s.Run(context.Background(), "tplug:file", "monitor", request(t.TempDir(), "r1"), 5*time.Second)
	if out.Code == sdk.OK || !strings.Contains(out.Message, supervisor.ErrClosed.Error()) {
		t.Fatalf("a call after Close: got %+v, want a code other than %v, message containing %q", out, sdk.OK, supervisor.ErrClosed.Error())
	}
	if st := status(t, s, "tplug"); st.Pid != 0 {
		t.Fatalf("after Close: got %+v with pid %d, want no process launched (pid 0)", st, st.Pid)
	}
}

// Every file of the plugin dir that is not used says why.
func TestScanSaysWhyEachFileIsUnused(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"tandem-plugin-vip": 0o755, "tandem-plugin-notexec": 0o644,
		"tandem-plugin-Upper": 0o755, "tandem-plugin-vip.bak": 0o755, "README": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "tandem-plugin-adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	found, unused, err := supervisor.Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found["vip"] == "" {
		t.Errorf("found %v, want vip only", found)
	}
	want := map[string]string{
		"README":                "not named tandem-plugin-NAME",
		"tandem-plugin-Upper":   `"Upper" is not a plugin name (lower-case letters, digits, - and _, starting with a letter or digit)`,
		"tandem-plugin-vip.bak": `"vip.bak" is not a plugin name`,
		"tandem-plugin-notexec": "not executable (mode 0644; chmod 755 it)",
		"tandem-plugin-adir":    "not a regular file",
	}
	got := map[string]string{}
	for _, u := range unused {
		got[u.File] = u.Why
	}
	if len(got) != len(want) {
		t.Errorf("unused %v, want %d files", got, len(want))
	}
	for f, w := range want {
		if !strings.Contains(got[f], w) {
			t.Errorf("%s: why %q, want %q", f, got[f], w)
		}
	}
}

// A plugin that fails its handshake is retried with backoff up to
// MaxLaunchFailures times, then reported broken, and launched again only
// once its file changes.
func TestBrokenPluginWaitsForItsFileToChange(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(t.TempDir(), "launches")
	script := func(extra string) {
		path := filepath.Join(dir, sdk.PluginPrefix+"bad")
		tmp := path + ".new"
		body := fmt.Sprintf("#!/bin/sh\necho x >> %s\n%sexit 1\n", count, extra)
		if err := os.WriteFile(tmp, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	launches := func() int {
		b, _ := os.ReadFile(count)
		return strings.Count(string(b), "x")
	}
	script("")
	s := start(t, supervisor.Config{Dir: dir, BackoffMin: 10 * time.Millisecond, MaxLaunchFailures: 3, BrokenPoll: 20 * time.Millisecond})
	poll.Until(t, 20*time.Second, 10*time.Millisecond, func() error {
		if st := status(t, s, "bad"); st.State != supervisor.StateBroken {
			return fmt.Errorf("state %s (%s), %d launches", st.State, st.LastError, launches())
		}
		return nil
	})
	st := status(t, s, "bad")
	if !strings.Contains(st.LastError, "broken: 3 launches in a row failed") || !strings.Contains(st.String(), "bad: broken") {
		t.Errorf("status %q", st.String())
	}
	if n := launches(); n != 3 {
		t.Errorf("%d launches before broken, want 3", n)
	}
	out := s.Run(context.Background(), "bad", bus.OpMonitor, request(t.TempDir(), "r"), 5*time.Second)
	if out.Code != sdk.ErrGeneric || !strings.Contains(out.Message, "broken") || launches() != 3 {
		t.Errorf("an operation on a broken plugin: %+v after %d launches, want it refused at once without a launch", out, launches())
	}
	script("true\n") // replaced: launched again
	poll.Until(t, 20*time.Second, 10*time.Millisecond, func() error {
		if n := launches(); n <= 3 {
			return fmt.Errorf("%d launches after the file changed", n)
		}
		return nil
	})
}
