package ocf_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// The agents under testdata/root run through the real plugin: the
// tandem-plugin-ocf binary, launched as the host launches it.

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

func TestMain(m *testing.M) {
	if os.Getenv(envFakeHost) != "" {
		fakeHost()
		return
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// plugin launches tandem-plugin-ocf with OCF_ROOT root and a state
// directory of the test's own.
func plugin(t *testing.T, root string) *sdk.Process {
	t.Helper()
	p, _ := pluginState(t, root)
	return p
}

// pluginState is plugin, and the plugin's state directory.
func pluginState(t *testing.T, root string) (*sdk.Process, string) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	return sdktest.Launch(t, pluginBin(t), "OCF_ROOT="+root, "TANDEM_OCF_STATE_DIR="+state), state
}

// writeAgent writes an OCF agent script into OCF_ROOT root as
// ocf:PROVIDER:TYPE.
func writeAgent(t *testing.T, root, provider, typ, script string) {
	t.Helper()
	dir := filepath.Join(root, "resource.d", provider)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, typ), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// readEnv reads the environment an agent dumped with env(1).
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

// pluginBin builds tandem-plugin-ocf once.
func pluginBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "ocf-plugin")
		if binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "tandem-plugin-ocf"), "github.com/tandem-ha/tandem/plugins/ocf/cmd/tandem-plugin-ocf").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "tandem-plugin-ocf")
}

// testRoot is testdata/root as an absolute path.
func testRoot(t *testing.T) string {
	root, err := filepath.Abs("testdata/root")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// copyRoot copies testdata/root into a temporary OCF_ROOT that a test may
// change.
func copyRoot(t *testing.T) string {
	dst := filepath.Join(t.TempDir(), "ocf")
	src := testRoot(t)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o755)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func request(id, agentType string, params map[string]string, timeout time.Duration) (context.Context, context.CancelFunc, sdk.Request) {
	d := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(context.Background(), d)
	return ctx, cancel, sdk.Request{ResourceID: id, AgentType: agentType, Params: params,
		Instance: sdk.Instance{Node: "node1", CloneIndex: -1}, Deadline: d}
}

func TestConformanceWellBehavedAgent(t *testing.T) {
	p := sdktest.LaunchBinary(t, pluginBin(t), "OCF_ROOT="+testRoot(t))
	state := filepath.Join(t.TempDir(), "well.state")
	sdktest.Conformance(t, p, sdktest.Resource{ID: "well", AgentType: "tandem:Well",
		Params: map[string]string{"state": state, "fake": "x"},
		Break:  func(sdk.Request) error { return os.Remove(state) }})
}

// The agent's environment is OCF's API 1.1: parameters as OCF_RESKEY_*,
// the instance, type and provider, the timeout in ms, the node and the
// clone index; nothing of Tandem's or go-plugin's own environment; no
// default the admin did not set (the agent applies its own).
func TestEnvironment(t *testing.T) {
	root := testRoot(t)
	p := plugin(t, root)
	state := filepath.Join(t.TempDir(), "well.state")
	ctx, cancel, req := request("web", "tandem:Well", map[string]string{"state": state, "fake": "it's \"quoted\" $HOME"}, 10*time.Second)
	defer cancel()
	req.Instance.CloneIndex = 2
	res, err := p.Start(ctx, req)
	if err != nil || res.Code != sdk.OK {
		t.Fatalf("start: %v %v", res, err)
	}
	data, err := os.ReadFile(state + ".env")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	want := map[string]string{
		"OCF_ROOT": root, "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1",
		"OCF_RESOURCE_INSTANCE": "web", "OCF_RESOURCE_TYPE": "Well", "OCF_RESOURCE_PROVIDER": "tandem",
		"OCF_RESKEY_state": state, "OCF_RESKEY_fake": `it's "quoted" $HOME`,
		"OCF_RESKEY_CRM_meta_on_node": "node1", "OCF_RESKEY_CRM_meta_clone": "2",
		"OCF_RESKEY_CRM_meta_interval": "0",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if ms, err := strconv.Atoi(env["OCF_RESKEY_CRM_meta_timeout"]); err != nil || ms <= 0 || ms > 10000 {
		t.Errorf("OCF_RESKEY_CRM_meta_timeout=%q, want the ms left of 10 s", env["OCF_RESKEY_CRM_meta_timeout"])
	}
	for k := range env {
		if strings.HasPrefix(k, "TANDEM_") && k != "TANDEM_OCF_ATTRS" || strings.HasPrefix(k, "PLUGIN_") || k == "OCF_RESKEY_count" {
			t.Errorf("%s passed to the agent", k)
		}
	}
	if !strings.Contains(":"+env["PATH"]+":", ":/usr/sbin:") {
		t.Errorf("PATH %q lacks /usr/sbin", env["PATH"])
	}
	if b, _ := os.ReadFile(state); strings.TrimSpace(string(b)) != "web" {
		t.Errorf("state file holds %q", b)
	}
	// A parameter name that cannot be an environment variable name is
	// refused before anything runs.
	req.Params = map[string]string{"state": state, "a=b": "x"}
	if res, _ := p.Start(ctx, req); res.Code != sdk.ErrGeneric || !strings.Contains(res.Message, `parameter name "a=b" cannot be passed as OCF_RESKEY_a=b`) {
		t.Errorf("start with a=b: %v", res)
	}
}

// dumpAgent writes each action's environment to $OCF_RESKEY_dir/ACTION.env.
const dumpAgent = `#!/bin/sh
case "$1" in
meta-data) cat <<END
<?xml version="1.0"?>
<resource-agent name="Dump" version="1.0">
<version>1.1</version>
<parameters><parameter name="dir"><content type="string"/></parameter></parameters>
<actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/><action name="monitor" timeout="20s" interval="10s"/>
<action name="promote" timeout="20s"/><action name="demote" timeout="20s"/><action name="meta-data" timeout="5s"/></actions>
</resource-agent>
END
	exit 0 ;;
esac
env > "$OCF_RESKEY_dir/$1.env"
case "$1" in
monitor) exit 7 ;;
start|stop|promote|demote) exit 0 ;;
esac
exit 3
`

// A clone instance's agent gets Pacemaker's clone meta: its index,
// clone-max and clone-node-max, promotable and the promoted limits (as
// promoted_max and the older master_max), globally_unique and notify
// false; a recurring monitor gets its interval in ms, a start, a probe and
// a stop 0; a primitive's agent gets no clone meta at all.
func TestEnvironmentOfACloneInstance(t *testing.T) {
	root := t.TempDir()
	writeAgent(t, root, "tandemtest", "Dump", dumpAgent)
	p, stateDir := pluginState(t, root)
	dir := t.TempDir()
	ctx, cancel, req := request("db", "tandemtest:Dump", map[string]string{"dir": dir}, 10*time.Second)
	defer cancel()
	req.Instance = sdk.Instance{Node: "n2", CloneIndex: 1,
		Clone: sdk.CloneMeta{ID: "db-clone", Max: 3, NodeMax: 1, Promotable: true, PromotedMax: 2, PromotedNodeMax: 1}}
	if res, err := p.Start(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("start: %v %v", res, err)
	}
	mon := req
	mon.Interval = 10 * time.Second
	if res, err := p.Monitor(ctx, mon); err != nil || res.Code != sdk.NotRunning {
		t.Fatalf("monitor: %v %v", res, err)
	}
	env := readEnv(t, filepath.Join(dir, "start.env"))
	want := map[string]string{
		"OCF_RESKEY_CRM_meta_interval": "0", "OCF_RESKEY_CRM_meta_on_node": "n2",
		"OCF_RESKEY_CRM_meta_clone": "1", "OCF_RESKEY_CRM_meta_clone_max": "3", "OCF_RESKEY_CRM_meta_clone_node_max": "1",
		"OCF_RESKEY_CRM_meta_globally_unique": "false", "OCF_RESKEY_CRM_meta_notify": "false",
		"OCF_RESKEY_CRM_meta_promotable": "true", "OCF_RESKEY_CRM_meta_promoted_max": "2", "OCF_RESKEY_CRM_meta_promoted_node_max": "1",
		"OCF_RESKEY_CRM_meta_master_max": "2", "OCF_RESKEY_CRM_meta_master_node_max": "1",
		"HA_SBIN_DIR": filepath.Join(stateDir, "bin"), "TANDEM_OCF_ATTRS": filepath.Join(stateDir, "attrs"),
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("start: %s=%q, want %q", k, env[k], v)
		}
	}
	if ms, err := strconv.Atoi(env["OCF_RESKEY_CRM_meta_timeout"]); err != nil || ms <= 0 || ms > 10000 {
		t.Errorf("start: OCF_RESKEY_CRM_meta_timeout=%q, want the ms left of 10 s", env["OCF_RESKEY_CRM_meta_timeout"])
	}
	if !strings.HasPrefix(env["PATH"], filepath.Join(stateDir, "bin")+":") {
		t.Errorf("start: PATH %q does not begin with the crm_attribute shim's directory", env["PATH"])
	}
	if got := readEnv(t, filepath.Join(dir, "monitor.env"))["OCF_RESKEY_CRM_meta_interval"]; got != "10000" {
		t.Errorf("recurring monitor: OCF_RESKEY_CRM_meta_interval=%q, want 10000", got)
	}

	// A plain clone says promotable false and nothing of promoted limits;
	// a primitive nothing of clones.
	req.Instance.Clone = sdk.CloneMeta{ID: "web-clone", Max: 2, NodeMax: 2}
	if res, err := p.Stop(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("stop: %v %v", res, err)
	}
	env = readEnv(t, filepath.Join(dir, "stop.env"))
	for k, v := range map[string]string{"OCF_RESKEY_CRM_meta_promotable": "false", "OCF_RESKEY_CRM_meta_clone_node_max": "2",
		"OCF_RESKEY_CRM_meta_promoted_max": "", "OCF_RESKEY_CRM_meta_interval": "0"} {
		if env[k] != v {
			t.Errorf("stop of a plain clone's instance: %s=%q, want %q", k, env[k], v)
		}
	}
	req.Instance = sdk.Instance{Node: "n2", CloneIndex: -1}
	if res, err := p.Start(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("start: %v %v", res, err)
	}
	for k := range readEnv(t, filepath.Join(dir, "start.env")) {
		if strings.Contains(k, "clone") || strings.Contains(k, "promot") || strings.Contains(k, "master") {
			t.Errorf("a primitive's start gets %s", k)
		}
	}
}

func TestMetaDataFromXML(t *testing.T) {
	p := plugin(t, testRoot(t))
	md, err := p.MetaData(context.Background(), "tandem:Well")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sdk.ParamSpec{}
	for _, s := range md.Params {
		got[s.Name] = s
	}
	check := func(name, typ, def string, required bool) {
		s, ok := got[name]
		if !ok || s.Type != typ || s.Default != def || s.Required != required {
			t.Errorf("param %s: %+v; want type %s default %q required %v", name, s, typ, def, required)
		}
	}
	check("state", "string", "", true)
	check("fake", "string", "dummy", false)
	check("count", "integer", "3", false)
	check("mode", "enum", "fast", false)
	check("flag", "boolean", "false", false)
	check("odd", "string", "none", false) // an integer whose default is not: read as text
	if v := got["mode"].Values; strings.Join(v, ",") != "fast,slow" {
		t.Errorf("mode values %v", v)
	}
	if d := got["state"].Description; !strings.Contains(d, "State file") || !strings.Contains(d, "unique") {
		t.Errorf("state described as %q", d)
	}
	var acts []string
	for _, a := range md.Actions {
		acts = append(acts, fmt.Sprintf("%s %s/%s", a.Name, a.Timeout, a.Interval))
	}
	if got, want := strings.Join(acts, ", "), "start 20s/0s, stop 30s/0s, monitor 20s/10s, reload 20s/0s, meta-data 5s/0s, validate 20s/0s"; got != want {
		t.Errorf("actions %s, want %s", got, want)
	}
	if md.ShortDesc != "Test agent: a state file" || md.Version != "1.1" || md.Type != "tandem:Well" {
		t.Errorf("meta-data %q %q %q", md.Type, md.Version, md.ShortDesc)
	}
}

// Validate checks the parameters against the meta-data (did-you-mean,
// required, types, select values), then runs validate-all.
func TestValidate(t *testing.T) {
	p := plugin(t, testRoot(t))
	state := filepath.Join(t.TempDir(), "s")
	cases := []struct {
		params map[string]string
		code   sdk.Code
		msg    string
	}{
		{map[string]string{"stat": state}, sdk.ErrNotConfigured, `unknown parameter "stat": did you mean state?`},
		{map[string]string{}, sdk.ErrNotConfigured, "state is required: State file"},
		{map[string]string{"state": state, "count": "many"}, sdk.ErrNotConfigured, `count "many": must be an integer`},
		{map[string]string{"state": state, "mode": "fsat"}, sdk.ErrNotConfigured, `mode "fsat"`},
		{map[string]string{"state": state, "flag": "maybe"}, sdk.ErrNotConfigured, `flag "maybe"`},
		{map[string]string{"state": "/nonexistent/dir/s"}, sdk.ErrNotConfigured, "ocf:tandem:Well validate-all: OCF_ERR_CONFIGURED (not configured): directory /nonexistent/dir of the state file does not exist"},
		{map[string]string{"state": state, "odd": "whatever", "mode": "slow", "flag": "yes", "count": "7"}, sdk.OK, ""},
	}
	for _, tc := range cases {
		res, err := p.Validate(context.Background(), sdk.ValidateRequest{AgentType: "tandem:Well", Params: tc.params})
		if err != nil || res.Code != tc.code || !strings.Contains(res.Message, tc.msg) {
			t.Errorf("validate %v: %v %q, %v; want %v %q", tc.params, res.Code, res.Message, err, tc.code, tc.msg)
		}
	}
	// A validate-all slower than the host's validation budget is cut off
	// in time to answer, and is no verdict.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	res, err := p.Validate(ctx, sdk.ValidateRequest{AgentType: "tandem:Well", Params: map[string]string{"state": state, "validate_sleep": "600"}})
	if err != nil || res.Code != sdk.OK || !strings.Contains(res.Message, "ocf:tandem:Well validate-all did not finish within") {
		t.Errorf("a slow validate-all: %v %v", res, err)
	}
	// An agent without validate-all: the meta-data's checks only.
	res, err = p.Validate(context.Background(), sdk.ValidateRequest{AgentType: "tandem:Failing", Params: map[string]string{"code": "0"}})
	if err != nil || res.Code != sdk.OK || !strings.Contains(res.Message, "has no validate-all") {
		t.Errorf("validate Failing: %v %v", res, err)
	}
}

func TestReload(t *testing.T) {
	p := plugin(t, testRoot(t))
	state := filepath.Join(t.TempDir(), "s")
	ctx, cancel, req := request("r", "tandem:Well", map[string]string{"state": state, "fake": "two"}, 10*time.Second)
	defer cancel()
	if res, err := p.Reload(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("reload: %v %v", res, err)
	}
	if b, _ := os.ReadFile(state + ".reload"); string(b) != "fake=two\n" {
		t.Errorf("reload saw %q", b)
	}
	req.AgentType = "tandem:Failing"
	if res, _ := p.Reload(ctx, req); res.Code != sdk.ErrUnimplemented {
		t.Errorf("reload of an agent without reload: %v", res)
	}
}

// Exit codes map to the host's results, with the agent's exit reason.
func TestExitCodes(t *testing.T) {
	p := plugin(t, testRoot(t))
	reason := "the frobnicator is broken"
	cases := []struct {
		exit    int
		action  string
		code    sdk.Code
		message string
	}{
		{0, "start", sdk.OK, ""},
		{0, "monitor", sdk.OK, ""},
		{1, "start", sdk.ErrGeneric, "ocf:tandem:Failing start: OCF_ERR_GENERIC (error): " + reason + " (code 1)"},
		{2, "start", sdk.ErrArgs, "OCF_ERR_ARGS (invalid parameter): " + reason},
		{3, "start", sdk.ErrUnimplemented, "OCF_ERR_UNIMPLEMENTED (unimplemented feature)"},
		{4, "start", sdk.ErrPerm, "OCF_ERR_PERM (insufficient privileges)"},
		{5, "start", sdk.ErrNotInstalled, "OCF_ERR_INSTALLED (not installed)"},
		{6, "start", sdk.ErrNotConfigured, "OCF_ERR_CONFIGURED (not configured)"},
		{7, "monitor", sdk.NotRunning, reason},
		{7, "start", sdk.ErrGeneric, "start: OCF_NOT_RUNNING"},
		{8, "monitor", sdk.RunningPromoted, reason},
		{8, "start", sdk.ErrGeneric, "start: OCF_RUNNING_PROMOTED (running promoted) (running promoted): " + reason},
		{9, "monitor", sdk.FailedPromoted, "monitor: OCF_FAILED_PROMOTED (failed promoted): " + reason},
		{9, "start", sdk.ErrGeneric, "OCF_FAILED_PROMOTED (failed promoted) (failed in the promoted role)"},
		{190, "monitor", sdk.Degraded, reason},
		{191, "monitor", sdk.RunningPromoted, "degraded (OCF_DEGRADED_PROMOTED): " + reason},
		{127, "monitor", sdk.ErrGeneric, "monitor: exit 127 (not an OCF exit code): " + reason},
	}
	for _, tc := range cases {
		ctx, cancel, req := request("f", "tandem:Failing", map[string]string{"code": strconv.Itoa(tc.exit)}, 10*time.Second)
		var res sdk.Result
		var err error
		if tc.action == "start" {
			res, err = p.Start(ctx, req)
		} else {
			res, err = p.Monitor(ctx, req)
		}
		cancel()
		if err != nil || res.Code != tc.code || !strings.Contains(res.Message, tc.message) {
			t.Errorf("%s exiting %d: %v %q, %v; want %v %q", tc.action, tc.exit, res.Code, res.Message, err, tc.code, tc.message)
		}
	}
}

// dead says whether pid is gone or a zombie.
func dead(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// An agent that never exits is killed at the action's deadline with all
// it forked (its process group), and the action fails as timed out.
func TestHangingAgentKilledWithItsGroup(t *testing.T) {
	p := plugin(t, testRoot(t))
	pids := filepath.Join(t.TempDir(), "pids")
	_, cancel, req := request("h", "tandem:Hanging", map[string]string{"pids": pids}, 3*time.Second)
	defer cancel()
	// The call itself may wait longer than the action: the plugin answers
	// once it killed the agent.
	ctx, cancelCall := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelCall()
	started := time.Now()
	res, err := p.Start(ctx, req)
	took := time.Since(started)
	if err != nil || res.Code != sdk.ErrGeneric || !strings.Contains(res.Message, "ocf:tandem:Hanging start timed out after") || !strings.Contains(res.Message, "process group was killed") {
		t.Fatalf("start: %v %v", res, err)
	}
	t.Logf("start answered after %s: %s", took.Round(time.Millisecond), res.Message)
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		t.Fatalf("pids file %q", b)
	}
	for _, f := range fields {
		pid, _ := strconv.Atoi(f)
		for end := time.Now().Add(10 * time.Second); !dead(pid); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("pid %d (of %v: the agent and its child) still alive", pid, fields)
			}
		}
	}
}

// Megabytes of output cost no memory and do not bury the exit reason;
// meta-data beyond its cap is refused.
func TestNoisyAgent(t *testing.T) {
	root := copyRoot(t)
	p := plugin(t, root)
	ctx, cancel, req := request("n", "tandem:Noisy", nil, 20*time.Second)
	defer cancel()
	before := peakRSS(t, p.Pid)
	res, err := p.Start(ctx, req)
	if err != nil || res.Code != sdk.ErrGeneric || !strings.HasSuffix(res.Message, "OCF_ERR_GENERIC (error): noisy start failed at the end") {
		t.Fatalf("start: %v %q", err, res.Message)
	}
	// 16 MiB of output; the plugin keeps 64 KiB of it.
	after := peakRSS(t, p.Pid)
	t.Logf("plugin peak RSS %d KiB before, %d KiB after 16 MiB of output; message %d bytes", before, after, len(res.Message))
	if after-before > 8<<10 {
		t.Errorf("the plugin's peak RSS grew by %d KiB reading 16 MiB of output", after-before)
	}
	if len(res.Message) > 2048 {
		t.Errorf("message of %d bytes", len(res.Message))
	}
	if err := os.WriteFile(filepath.Join(root, "noisy-meta-data"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = p.MetaData(context.Background(), "tandem:Noisy")
	if err == nil || !strings.Contains(err.Error(), "ocf:tandem:Noisy meta-data: more than the 1024 KiB allowed") {
		t.Fatalf("meta-data of 3 MB: %v", err)
	}
}

// peakRSS is a process's peak resident set size in KiB (VmHWM).
func peakRSS(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// Meta-data that is not well-formed, that holds an entity bomb, or that
// nests 100000 deep is refused with the agent's name; validate says so.
func TestMalformedMetaData(t *testing.T) {
	p := plugin(t, testRoot(t))
	for _, tc := range []struct{ typ, want string }{
		{"BadXML", "ocf:tandem:BadXML meta-data is not a resource-agent XML document: XML syntax error"},
		{"Bomb", "ocf:tandem:Bomb meta-data is not a resource-agent XML document: XML syntax error on line 14: invalid character entity &lol9;"},
		{"Deep", "ocf:tandem:Deep meta-data is not a resource-agent XML document: line 1: elements nested more than 32 deep"},
	} {
		_, err := p.MetaData(context.Background(), "tandem:"+tc.typ)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.typ, err, tc.want)
		}
		res, err := p.Validate(context.Background(), sdk.ValidateRequest{AgentType: "tandem:" + tc.typ})
		if err != nil || res.Code != sdk.ErrGeneric || !strings.Contains(res.Message, tc.want) {
			t.Errorf("validate %s: %v %v", tc.typ, res, err)
		}
	}
}

// Meta-data that never comes is given up after its 5 s, killing the
// agent; a validation waits for it only as long as it has.
func TestHangingMetaData(t *testing.T) {
	root := copyRoot(t)
	if err := os.WriteFile(filepath.Join(root, "hang-meta-data"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := plugin(t, root)
	_, err := p.MetaData(context.Background(), "tandem:Hanging")
	if err == nil || !strings.Contains(err.Error(), "ocf:tandem:Hanging meta-data: no answer within 5") {
		t.Fatalf("meta-data: %v", err)
	}
	// Validation has less time than that (the host gives it 1.5 s): no
	// verdict, in time.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	res, err := p.Validate(ctx, sdk.ValidateRequest{AgentType: "tandem:Hanging", Params: map[string]string{"pids": "/tmp/x"}})
	if err != nil || res.Code != sdk.OK || !strings.Contains(res.Message, "ocf:tandem:Hanging meta-data did not come within the time validation has") {
		t.Errorf("validate: %v %v", res, err)
	}
}

// Agents outside OCF_ROOT are refused, naming the agent, and nothing
// runs: names that are paths, symlinks out of the tree (of the script or
// of its provider's directory). A missing agent is not installed (and not
// running).
func TestAgentsOutsideTheTreeRefused(t *testing.T) {
	root := copyRoot(t)
	outside := t.TempDir()
	marker := filepath.Join(outside, "ran")
	script := "#!/bin/sh\ntouch " + marker + "\nexit 0\n"
	if err := os.WriteFile(filepath.Join(outside, "agent"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "resource.d", "evil"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "agent"), filepath.Join(root, "resource.d", "evil", "agent")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "resource.d", "elsewhere")); err != nil {
		t.Fatal(err)
	}
	// Scripts and directories others than root could change.
	if err := os.MkdirAll(filepath.Join(root, "resource.d", "open"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "resource.d", "open", "agent"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "resource.d", "open", "agent"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "resource.d", "opendir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "resource.d", "opendir", "agent"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "resource.d", "opendir"), 0o777); err != nil {
		t.Fatal(err)
	}
	// A link that stays inside the tree is fine.
	if err := os.Symlink("../tandem/Well", filepath.Join(root, "resource.d", "evil", "Well")); err != nil {
		t.Fatal(err)
	}
	p := plugin(t, root)
	for _, tc := range []struct {
		typ  string
		code sdk.Code
		want string
	}{
		{"../../bin:sh", sdk.ErrNotConfigured, `agent "ocf:../../bin:sh" is not ocf:PROVIDER:TYPE: the provider and the type are file names under OCF_ROOT/resource.d`},
		{"..:sh", sdk.ErrNotConfigured, `agent "ocf:..:sh" is not ocf:PROVIDER:TYPE`},
		{"tandem:../../../../bin/sh", sdk.ErrNotConfigured, "never paths"},
		{"tandem:.hidden", sdk.ErrNotConfigured, "not starting with '.'"},
		{"sh", sdk.ErrNotConfigured, `agent "ocf:sh" is not ocf:PROVIDER:TYPE`},
		{"evil:agent", sdk.ErrNotConfigured, "ocf:evil:agent: " + filepath.Join(root, "resource.d/evil/agent") + " resolves to " + filepath.Join(outside, "agent") + ", outside OCF_ROOT"},
		{"elsewhere:agent", sdk.ErrNotConfigured, "ocf:elsewhere:agent: " + filepath.Join(root, "resource.d/elsewhere/agent") + " resolves to " + filepath.Join(outside, "agent") + ", outside OCF_ROOT"},
		{"open:agent", sdk.ErrPerm, "ocf:open:agent: " + filepath.Join(root, "resource.d/open/agent") + " is writable by its group or others (mode 0777)"},
		{"opendir:agent", sdk.ErrPerm, "ocf:opendir:agent: " + filepath.Join(root, "resource.d/opendir") + " is writable by its group or others (mode 0777)"},
		{"heartbeat:Nope", sdk.ErrNotInstalled, "ocf:heartbeat:Nope is not installed on this node: no " + filepath.Join(root, "resource.d/heartbeat/Nope") + " (install the package that provides it: resource-agents)"},
	} {
		ctx, cancel, req := request("x", tc.typ, map[string]string{"state": filepath.Join(outside, "s")}, 5*time.Second)
		res, err := p.Validate(ctx, sdk.ValidateRequest{AgentType: tc.typ, Params: req.Params})
		if err != nil || res.Code != tc.code || !strings.Contains(res.Message, tc.want) {
			t.Errorf("validate ocf:%s: %v %q; want %v %q", tc.typ, res.Code, res.Message, tc.code, tc.want)
		}
		if res, _ := p.Start(ctx, req); res.Code != tc.code || !strings.Contains(res.Message, tc.want) {
			t.Errorf("start ocf:%s: %v %q", tc.typ, res.Code, res.Message)
		}
		if _, err := p.MetaData(ctx, tc.typ); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("meta-data ocf:%s: %v", tc.typ, err)
		}
		res, _ = p.Monitor(ctx, req)
		if want := map[sdk.Code]sdk.Code{sdk.ErrNotInstalled: sdk.NotRunning}[tc.code]; want != 0 && res.Code != want {
			t.Errorf("monitor of a missing agent ocf:%s: %v, want not running", tc.typ, res)
		} else if want == 0 && res.Code != tc.code {
			t.Errorf("monitor ocf:%s: %v", tc.typ, res)
		}
		cancel()
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the agent outside OCF_ROOT was run")
	}
	ctx, cancel, req := request("x", "evil:Well", map[string]string{"state": filepath.Join(outside, "s")}, 5*time.Second)
	defer cancel()
	if res, err := p.Start(ctx, req); err != nil || res.Code != sdk.OK {
		t.Errorf("a link inside the tree: %v %v", res, err)
	}
}

// The real ocf:heartbeat:Dummy of Debian's resource-agents package, through
// the bridge. It skips without the package, unless TANDEM_REQUIRE_PRIV=1
// (CI installs it).
func TestHeartbeatDummy(t *testing.T) {
	if _, err := os.Stat("/usr/lib/ocf/resource.d/heartbeat/Dummy"); err != nil {
		if os.Getenv("TANDEM_REQUIRE_PRIV") == "1" {
			t.Fatalf("TANDEM_REQUIRE_PRIV=1 but resource-agents is not installed (apt-get install resource-agents): %v", err)
		}
		t.Skipf("resource-agents not installed: %v", err)
	}
	p := plugin(t, "/usr/lib/ocf")
	state := filepath.Join(t.TempDir(), "dummy.state")
	sdktest.Conformance(t, p, sdktest.Resource{ID: "dummy", AgentType: "heartbeat:Dummy", Params: map[string]string{"state": state}})

	ctx, cancel, req := request("dummy", "heartbeat:Dummy", map[string]string{"state": state}, 20*time.Second)
	defer cancel()
	var took []string
	timed := func(name string, f func(context.Context, sdk.Request) (sdk.Result, error)) sdk.Result {
		t.Helper()
		begin := time.Now()
		res, err := f(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		took = append(took, fmt.Sprintf("%s %s", name, time.Since(begin).Round(time.Millisecond)))
		return res
	}
	if res := timed("start", p.Start); res.Code != sdk.OK {
		t.Fatalf("start: %v", res)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("Dummy started but: %v", err)
	}
	if res := timed("monitor", p.Monitor); res.Code != sdk.OK {
		t.Fatalf("monitor: %v", res)
	}
	if res := timed("stop", p.Stop); res.Code != sdk.OK {
		t.Fatalf("stop: %v", res)
	}
	if res := timed("monitor", p.Monitor); res.Code != sdk.NotRunning {
		t.Fatalf("monitor after stop: %v", res)
	}
	t.Logf("through the bridge: %s", strings.Join(took, ", "))
	res, _ := p.Validate(ctx, sdk.ValidateRequest{AgentType: "heartbeat:Dummy", Params: map[string]string{"stat": state}})
	if res.Code != sdk.ErrNotConfigured || !strings.Contains(res.Message, `unknown parameter "stat": did you mean state?`) {
		t.Errorf("validate with a typo: %v", res)
	}
	res, _ = p.Validate(ctx, sdk.ValidateRequest{AgentType: "heartbeat:Dummy", Params: map[string]string{"state": "/nonexistent/dir/dummy.state"}})
	if res.Code != sdk.ErrArgs || !strings.Contains(res.Message, `ocf:heartbeat:Dummy validate-all: OCF_ERR_ARGS (invalid parameter)`) {
		t.Errorf("validate-all with a state file in a missing directory: %v", res)
	}
	md, err := p.MetaData(ctx, "heartbeat:Dummy")
	if err != nil || len(md.Params) != 2 || md.Params[0].Name != "state" {
		t.Errorf("meta-data: %+v %v", md, err)
	}
}

// A daemon the agent started that keeps its output open does not hold the
// start (the pipes are closed 500 ms after the agent exits), and a start
// that succeeded leaves the daemon running.
func TestDaemonHoldingTheOutput(t *testing.T) {
	p := plugin(t, testRoot(t))
	pidfile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel, req := request("d", "tandem:Daemon", map[string]string{"pidfile": pidfile}, 20*time.Second)
	defer cancel()
	started := time.Now()
	res, err := p.Start(ctx, req)
	if err != nil || res.Code != sdk.OK {
		t.Fatalf("start: %v %v", res, err)
	}
	t.Logf("start answered after %s", time.Since(started).Round(time.Millisecond))
	b, _ := os.ReadFile(pidfile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || dead(pid) {
		t.Fatalf("the daemon (pid %q) did not survive its start", b)
	}
	if res, _ := p.Monitor(ctx, req); res.Code != sdk.OK {
		t.Errorf("monitor: %v", res)
	}
	if res, _ := p.Stop(ctx, req); res.Code != sdk.OK {
		t.Errorf("stop: %v", res)
	}
	for end := time.Now().Add(10 * time.Second); !dead(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the daemon %d outlived its stop", pid)
		}
	}
}

// OCF_RESKEY_CRM_meta_interval tells a probe from a recurring monitor, as
// under Pacemaker: resource-agents' ocf_is_probe is true for a monitor of
// interval 0, and ocf:heartbeat:Dummy says why it is not running only in a
// recurring monitor (a probe finding it stopped is no failure).
func TestHeartbeatDummyProbeAndMonitor(t *testing.T) {
	if _, err := os.Stat("/usr/lib/ocf/resource.d/heartbeat/Dummy"); err != nil {
		if os.Getenv("TANDEM_REQUIRE_PRIV") == "1" {
			t.Fatalf("TANDEM_REQUIRE_PRIV=1 but resource-agents is not installed (apt-get install resource-agents): %v", err)
		}
		t.Skipf("resource-agents not installed: %v", err)
	}
	p := plugin(t, "/usr/lib/ocf")
	ctx, cancel, req := request("dummy", "heartbeat:Dummy", map[string]string{"state": filepath.Join(t.TempDir(), "dummy.state")}, 20*time.Second)
	defer cancel()
	probe, err := p.Monitor(ctx, req)
	if err != nil || probe.Code != sdk.NotRunning || strings.Contains(probe.Message, "No process state file found") {
		t.Errorf("probe (interval 0): %v %v; want not running, without Dummy's exit reason", probe, err)
	}
	req.Interval = 10 * time.Second
	mon, err := p.Monitor(ctx, req)
	if err != nil || mon.Code != sdk.NotRunning || !strings.Contains(mon.Message, "No process state file found") {
		t.Errorf("recurring monitor (10 s): %v %v; want not running, with Dummy's exit reason", mon, err)
	}
}

// A globally-unique clone's instance is told so
// (OCF_RESKEY_CRM_meta_globally_unique=true), with its own number.
func TestEnvironmentOfAUniqueCloneInstance(t *testing.T) {
	root := t.TempDir()
	writeAgent(t, root, "tandemtest", "Dump", dumpAgent)
	p, _ := pluginState(t, root)
	dir := t.TempDir()
	ctx, cancel, req := request("ip", "tandemtest:Dump", map[string]string{"dir": dir}, 10*time.Second)
	defer cancel()
	req.Instance = sdk.Instance{Node: "n1", CloneIndex: 2, Clone: sdk.CloneMeta{ID: "ip-clone", Max: 3, NodeMax: 1, GloballyUnique: true}}
	if res, err := p.Start(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("start: %v %v", res, err)
	}
	env := readEnv(t, filepath.Join(dir, "start.env"))
	for k, v := range map[string]string{"OCF_RESKEY_CRM_meta_globally_unique": "true", "OCF_RESKEY_CRM_meta_clone": "2", "OCF_RESKEY_CRM_meta_clone_max": "3"} {
		if env[k] != v {
			t.Errorf("start: %s=%q, want %q", k, env[k], v)
		}
	}
}
