package sdk_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// The test binary doubles as a plugin: with envMode set it serves memAgent
// instead of running tests, so the tests below launch a real subprocess.
const envMode = "TANDEM_SDK_TEST_PLUGIN"

// Keep the main goroutine on the main thread, so that the locked goroutine
// of TestPluginSurvivesLaunchingThreadExit runs on another thread, which
// ends with it (the main thread never ends).
func init() { runtime.LockOSThread() }

func TestMain(m *testing.M) {
	switch mode := os.Getenv(envMode); mode {
	case "":
		os.Exit(m.Run())
	case "stdout":
		fmt.Println("hello from a chatty plugin")
		sdk.Serve(&memAgent{})
	case "api2":
		sdk.Serve(&memAgent{api: []string{"2.0.0"}})
	case "promote":
		sdk.Serve(&promAgent{})
	case "promotefile":
		sdk.Serve(&promAgent{file: os.Getenv(envRoleFile)})
	case "fakehost":
		fakeHost()
	default:
		sdk.Serve(&memAgent{})
	}
}

// memAgent keeps its resources in memory: enough to exercise every call.
type memAgent struct {
	api     []string
	mu      sync.Mutex
	running map[string]bool
}

var (
	_ sdk.Agent  = (*memAgent)(nil)
	_ sdk.Holder = (*memAgent)(nil)
)

func (a *memAgent) Info() sdk.Info {
	return sdk.Info{Name: "mem", Types: []string{"mem"}, Version: "0.1.0", APIVersions: a.api}
}

func (a *memAgent) MetaData(t string) (sdk.MetaData, error) {
	if t != "mem" {
		return sdk.MetaData{}, fmt.Errorf("unknown agent type %q", t)
	}
	return sdk.MetaData{
		Type: "mem", Version: "0.1.0", ShortDesc: "a resource in memory", LongDesc: "for tests",
		Params: []sdk.ParamSpec{
			{Name: "size", Type: "integer", Required: true, Description: "how big", Min: "1", Max: "64"},
			{Name: "kind", Type: "enum", Values: []string{"ram", "swap"}, Default: "ram", Description: "what kind"},
			{Name: "every", Type: "duration", Default: "200ms", Min: "1ms", Max: "10s", Unit: "ms", Description: "how often"},
		},
		Actions: []sdk.ActionSpec{
			{Name: "start", Timeout: 5 * time.Second}, {Name: "stop", Timeout: 5 * time.Second},
			{Name: "monitor", Timeout: 5 * time.Second, Interval: 10 * time.Second},
		},
	}, nil
}

func (a *memAgent) Validate(_ context.Context, req sdk.ValidateRequest) sdk.Result {
	if req.Params["size"] == "" {
		return sdk.Resultf(sdk.ErrArgs, "param size is required (mem agent)")
	}
	return sdk.Result{}
}

func (a *memAgent) set(id string, on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running == nil {
		a.running = map[string]bool{}
	}
	a.running[id] = on
}

func (a *memAgent) Start(_ context.Context, req sdk.Request) sdk.Result {
	slog.Warn("starting a mem resource", "resource", req.ResourceID)
	a.set(req.ResourceID, true)
	return sdk.Resultf(sdk.OK, "started on %s/%d, %d nodes known", req.Instance.Node, req.Instance.CloneIndex, len(req.Cluster.Nodes))
}

func (a *memAgent) Stop(_ context.Context, req sdk.Request) sdk.Result {
	a.set(req.ResourceID, false)
	return sdk.Result{}
}

func (a *memAgent) Monitor(ctx context.Context, req sdk.Request) sdk.Result {
	if req.Params["sleep"] != "" {
		d, _ := time.ParseDuration(req.Params["sleep"])
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return sdk.Resultf(sdk.ErrGeneric, "monitor: %v", ctx.Err())
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running[req.ResourceID] {
		return sdk.Result{}
	}
	return sdk.Result{Code: sdk.NotRunning}
}

func (a *memAgent) Hold(_ context.Context, req sdk.HoldRequest) sdk.Result {
	if req.Until != 0 && req.Until < sdk.MonotonicNow() {
		return sdk.Resultf(sdk.ErrGeneric, "hold deadline already passed")
	}
	return sdk.Result{}
}

func launch(t *testing.T, mode string) (*sdk.Process, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: os.Args[0], Name: "mem", Env: []string{envMode + "=" + mode}})
	if p != nil {
		t.Cleanup(p.Kill)
	}
	return p, err
}

func TestLaunchRoundTrip(t *testing.T) {
	p, err := launch(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid <= 0 || p.APIVersion != sdk.APIVersion || p.PluginInfo.Name != "mem" {
		t.Fatalf("process: pid %d api %q info %+v", p.Pid, p.APIVersion, p.PluginInfo)
	}
	ctx := context.Background()
	md, err := p.MetaData(ctx, "mem")
	if err != nil || len(md.Params) != 3 || md.Params[0].Name != "size" || md.Actions[2].Interval != 10*time.Second {
		t.Fatalf("meta-data %+v, %v", md, err)
	}
	// What sdk.ParseParams reads crosses the wire too.
	if p := md.Params[0]; p.Min != "1" || p.Max != "64" {
		t.Errorf("integer bounds after the wire: %+v", p)
	}
	if p := md.Params[1]; len(p.Values) != 2 || p.Values[1] != "swap" || p.Default != "ram" {
		t.Errorf("enum values after the wire: %+v", p)
	}
	if p := md.Params[2]; p.Unit != "ms" || p.Min != "1ms" || p.Max != "10s" {
		t.Errorf("duration unit and bounds after the wire: %+v", p)
	}
	if _, err := p.MetaData(ctx, "nope"); !errors.Is(err, sdk.ErrNoMetaData) || !strings.Contains(err.Error(), `unknown agent type "nope"`) {
		t.Fatalf("meta-data of an unknown type: %v", err)
	}
	res, err := p.Validate(ctx, sdk.ValidateRequest{AgentType: "mem"})
	if err != nil || res.Code != sdk.ErrArgs || res.Message != "param size is required (mem agent)" {
		t.Fatalf("validate without size: %+v, %v", res, err)
	}
	req := sdk.Request{
		ResourceID: "r1", AgentType: "mem", Params: map[string]string{"size": "1"},
		Instance: sdk.Instance{Node: "holly", CloneIndex: 2}, Deadline: time.Now().Add(5 * time.Second),
		Cluster: &sdk.ClusterView{Nodes: []sdk.NodeView{{Name: "holly"}, {Name: "benji"}}},
	}
	steps := []struct {
		op   func(context.Context, sdk.Request) (sdk.Result, error)
		want sdk.Code
		name string
	}{
		{p.Monitor, sdk.NotRunning, "monitor before start"},
		{p.Start, sdk.OK, "start"},
		{p.Monitor, sdk.OK, "monitor after start"},
		{p.Reload, sdk.ErrUnimplemented, "reload"},
		{p.Stop, sdk.OK, "stop"},
		{p.Monitor, sdk.NotRunning, "monitor after stop"},
	}
	for _, s := range steps {
		res, err := s.op(ctx, req)
		if err != nil || res.Code != s.want {
			t.Fatalf("%s: %+v, %v; want code %v", s.name, res, err, s.want)
		}
		if s.name == "start" && res.Message != "started on holly/2, 2 nodes known" {
			t.Fatalf("start message %q: the request did not cross the wire intact", res.Message)
		}
	}
	if res, err := p.Hold(ctx, sdk.HoldRequest{ResourceID: "r1", Until: sdk.MonotonicNow() + time.Second}); err != nil || res.Code != sdk.OK {
		t.Fatalf("hold: %+v, %v", res, err)
	}
	if res, err := p.Hold(ctx, sdk.HoldRequest{ResourceID: "r1", Until: sdk.MonotonicNow() - time.Second}); err != nil || res.Code != sdk.ErrGeneric {
		t.Fatalf("hold in the past: %+v, %v (host and plugin must share CLOCK_MONOTONIC)", res, err)
	}
	if err := p.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDeadlineReachesAgent(t *testing.T) {
	p, err := launch(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	req := sdk.Request{ResourceID: "r", AgentType: "mem", Params: map[string]string{"sleep": "1m"}, Deadline: time.Now().Add(200 * time.Millisecond)}
	res, err := p.Monitor(context.Background(), req)
	if err != nil || res.Code != sdk.ErrGeneric || !strings.Contains(res.Message, "deadline exceeded") {
		t.Fatalf("monitor past its deadline: %+v, %v", res, err)
	}
}

func TestStdoutBeforeHandshakeNamesPlugin(t *testing.T) {
	_, err := launch(t, "stdout")
	if !errors.Is(err, sdk.ErrStdoutBeforeHandshake) {
		t.Fatalf("err = %v, want ErrStdoutBeforeHandshake", err)
	}
	for _, want := range []string{`plugin "mem"`, os.Args[0], "hello from a chatty plugin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestLaunchRefusesOtherMajorAPI(t *testing.T) {
	_, err := launch(t, "api2")
	if err == nil || !strings.Contains(err.Error(), "no common agent API major version: the plugin speaks 2.0.0, this tandem speaks 1.0.0") {
		t.Fatalf("err = %v", err)
	}
}

func TestNegotiateAPI(t *testing.T) {
	cases := []struct {
		host, plugin []string
		want         string
		err          string
	}{
		{[]string{"1.0.0"}, []string{"1.0.0"}, "1.0.0", ""},
		{[]string{"1.3.0"}, []string{"1.1.2"}, "1.1.2", ""},
		{[]string{"1.1.0"}, []string{"1.4.0", "2.0.0"}, "1.1.0", ""},
		{[]string{"1.2.0", "2.1.0"}, []string{"1.4.0", "2.0.0"}, "2.0.0", ""},
		{[]string{"1.0.0"}, []string{"2.0.0"}, "", "no common agent API major version"},
		{[]string{"1.0.0"}, nil, "", "reports no agent API version"},
		{[]string{"1.0.0"}, []string{"one"}, "", `plugin: API version "one" is not semver`},
	}
	for _, c := range cases {
		got, err := sdk.NegotiateAPI(c.host, c.plugin)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("NegotiateAPI(%v, %v) = %q, %v; want %q, %q", c.host, c.plugin, got, err, c.want, c.err)
		}
	}
}

func TestMonotonicNowAdvances(t *testing.T) {
	a := sdk.MonotonicNow()
	time.Sleep(time.Millisecond)
	if b := sdk.MonotonicNow(); b <= a || a <= 0 {
		t.Fatalf("MonotonicNow %v then %v", a, b)
	}
}

// records collects log records.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *records) WithAttrs(as []slog.Attr) slog.Handler { return &withAttrs{r, as} }
func (r *records) WithGroup(string) slog.Handler         { return r }

type withAttrs struct {
	*records
	attrs []slog.Attr
}

func (w *withAttrs) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(w.attrs...)
	return w.records.Handle(ctx, rec)
}

func TestPluginLogReachesHostLogUnderItsName(t *testing.T) {
	recs := &records{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: os.Args[0], Name: "mem", Env: []string{envMode + "=serve"}, Logger: slog.New(recs)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if res, err := p.Start(ctx, sdk.Request{ResourceID: "r9", Cluster: &sdk.ClusterView{}}); err != nil || res.Code != sdk.OK {
		t.Fatalf("start: %+v %v", res, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs.mu.Lock()
		for _, r := range recs.recs {
			if r.Message != "starting a mem resource" {
				continue
			}
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			recs.mu.Unlock()
			if r.Level != slog.LevelWarn || attrs["plugin"] != "mem" || attrs["resource"] != "r9" {
				t.Fatalf("plugin log line arrived as %v %q %v", r.Level, r.Message, attrs)
			}
			return
		}
		recs.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the plugin's log line never reached the host's logger")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A host goroutine that ends while locked to its thread takes the thread
// with it; a plugin forked from that thread would get its parent-death
// signal while the host lives on. Launch forks from a thread of its own.
func TestPluginSurvivesLaunchingThreadExit(t *testing.T) {
	type launched struct {
		p   *sdk.Process
		err error
	}
	ch := make(chan launched)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		p, err := launch(t, "serve")
		ch <- launched{p, err}
	}()
	l := <-ch
	if l.err != nil {
		t.Fatal(l.err)
	}
	// The plugin would be gone within a second (its SIGTERM handler waits
	// that long for the parent pid to change); watch a bit longer.
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if l.p.Exited() {
			t.Fatal("the plugin exited after the thread that launched it ended")
		}
	}
	if err := l.p.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// promAgent is memAgent with a Promoted role: a primary/replica in memory.
type promAgent struct {
	memAgent
	promoted map[string]bool
	file     string // when set, each role change is written there too
}

var _ sdk.Promoter = (*promAgent)(nil)

func (a *promAgent) setRole(id string, on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.promoted == nil {
		a.promoted = map[string]bool{}
	}
	a.promoted[id] = on
	if a.file != "" {
		_ = os.WriteFile(a.file, []byte(fmt.Sprintf("%s promoted=%v\n", id, on)), 0o644)
	}
}

// roleKey is an instance's: the resource and its node and clone index.
func roleKey(req sdk.Request) string {
	return fmt.Sprintf("%s %s/%d", req.ResourceID, req.Instance.Node, req.Instance.CloneIndex)
}

func (a *promAgent) Promote(_ context.Context, req sdk.Request) sdk.Result {
	a.setRole(roleKey(req), true)
	return sdk.Result{}
}

func (a *promAgent) Demote(_ context.Context, req sdk.Request) sdk.Result {
	a.setRole(roleKey(req), false)
	return sdk.Result{}
}

func (a *promAgent) Monitor(ctx context.Context, req sdk.Request) sdk.Result {
	res := a.memAgent.Monitor(ctx, req)
	a.mu.Lock()
	defer a.mu.Unlock()
	if res.Code != sdk.OK {
		return res
	}
	score := 5
	if a.promoted[roleKey(req)] {
		score, res.Code = 10, sdk.RunningPromoted
	}
	res.PromotionScore = &score
	return res
}

// Promote, demote and the promotion score cross the wire; an agent
// without them answers ErrUnimplemented, and its monitor sets no score.
func TestPromoteRoundTrip(t *testing.T) {
	ctx := context.Background()
	req := sdk.Request{ResourceID: "db", AgentType: "mem", Params: map[string]string{"size": "1"},
		Instance: sdk.Instance{Node: "holly", CloneIndex: 0}, Deadline: time.Now().Add(5 * time.Second),
		Cluster: &sdk.ClusterView{Nodes: []sdk.NodeView{{Name: "holly"}}}}
	p, err := launch(t, "promote")
	if err != nil {
		t.Fatal(err)
	}
	score := func(r sdk.Result) int {
		if r.PromotionScore == nil {
			return -1
		}
		return *r.PromotionScore
	}
	for _, s := range []struct {
		op    func(context.Context, sdk.Request) (sdk.Result, error)
		want  sdk.Code
		score int // -1: none
		name  string
	}{
		{p.Start, sdk.OK, -1, "start"},
		{p.Monitor, sdk.OK, 5, "monitor unpromoted"},
		{p.Promote, sdk.OK, -1, "promote"},
		{p.Monitor, sdk.RunningPromoted, 10, "monitor promoted"},
		{p.Demote, sdk.OK, -1, "demote"},
		{p.Monitor, sdk.OK, 5, "monitor demoted"},
		{p.Stop, sdk.OK, -1, "stop"},
	} {
		res, err := s.op(ctx, req)
		if err != nil || res.Code != s.want || score(res) != s.score {
			t.Fatalf("%s: %+v (score %d), %v; want code %v, score %d", s.name, res, score(res), err, s.want, s.score)
		}
	}
	plain, err := launch(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []func(context.Context, sdk.Request) (sdk.Result, error){plain.Promote, plain.Demote} {
		if res, err := op(ctx, req); err != nil || res.Code != sdk.ErrUnimplemented {
			t.Fatalf("promote or demote without Promoter: %+v, %v; want ErrUnimplemented", res, err)
		}
	}
	if _, err := plain.Start(ctx, req); err != nil {
		t.Fatal(err)
	}
	if res, err := plain.Monitor(ctx, req); err != nil || res.PromotionScore != nil {
		t.Fatalf("monitor without a promotion score: %+v, %v", res, err)
	}
}

// A hold on the promoted role: when it lapses, the SDK demotes that very
// instance by itself (the host that renewed it is frozen or cut off); a
// cancelled hold never lapses; an agent without promote and demote cannot
// have its role held.
func TestPromotedHoldLapseDemotes(t *testing.T) {
	ctx := context.Background()
	req := sdk.Request{ResourceID: "db", AgentType: "mem", Params: map[string]string{"size": "1"},
		Instance: sdk.Instance{Node: "holly", CloneIndex: 1}, Deadline: time.Now().Add(5 * time.Second),
		Cluster: &sdk.ClusterView{Nodes: []sdk.NodeView{{Name: "holly"}}}}
	hold := func(p *sdk.Process, until time.Duration) sdk.Result {
		t.Helper()
		res, err := p.Hold(ctx, sdk.HoldRequest{ResourceID: "db", AgentType: "mem", Params: req.Params, Until: until,
			Role: sdk.HoldPromoted, Instance: req.Instance})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	promoted := func(p *sdk.Process) bool {
		t.Helper()
		res, err := p.Monitor(ctx, req)
		if err != nil || (res.Code != sdk.OK && res.Code != sdk.RunningPromoted) {
			t.Fatalf("monitor: %+v, %v", res, err)
		}
		return res.Code == sdk.RunningPromoted
	}
	p, err := launch(t, "promote")
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []func(context.Context, sdk.Request) (sdk.Result, error){p.Start, p.Promote} {
		if res, err := op(ctx, req); err != nil || res.Code != sdk.OK {
			t.Fatalf("%+v, %v", res, err)
		}
	}
	if res := hold(p, sdk.MonotonicNow()+time.Hour); res.Code != sdk.OK || !promoted(p) {
		t.Fatalf("hold for an hour: %+v, promoted %v", res, promoted(p))
	}
	// Shortened, then not renewed: it lapses and the instance is demoted.
	set := sdk.MonotonicNow()
	if res := hold(p, set+200*time.Millisecond); res.Code != sdk.OK {
		t.Fatalf("hold: %+v", res)
	}
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if promoted(p) {
			return errors.New("still promoted after its hold lapsed")
		}
		return nil
	})
	t.Logf("demoted %s after a 200ms hold was given", (sdk.MonotonicNow() - set).Round(time.Millisecond))
	if res, err := p.Monitor(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("the instance stopped with its role: %+v, %v", res, err)
	}

	// Cancelled before it lapses: it stays promoted.
	if res, err := p.Promote(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("promote: %+v, %v", res, err)
	}
	hold(p, sdk.MonotonicNow()+200*time.Millisecond)
	if res := hold(p, 0); res.Code != sdk.OK {
		t.Fatalf("cancelling the hold: %+v", res)
	}
	time.Sleep(500 * time.Millisecond) // past the cancelled deadline: nothing may happen
	if !promoted(p) {
		t.Fatal("demoted after its hold was cancelled")
	}

	plain, err := launch(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if res := hold(plain, sdk.MonotonicNow()+time.Hour); res.Code != sdk.ErrUnimplemented {
		t.Fatalf("a promoted hold on an agent without promote: %+v, want ErrUnimplemented", res)
	}
}

// envRoleFile is where the "promotefile" plugin writes its role changes.
const envRoleFile = "TANDEM_SDK_TEST_ROLE_FILE"

// fakeHost makes the test binary a host that launches itself as the
// "promotefile" plugin, starts and promotes instance holly/0 of db, holds
// its promoted role for an hour, says "ready" and waits to be killed.
func fakeHost() {
	fail := func(err error) { fmt.Println("error:", err); os.Exit(1) }
	ctx := context.Background()
	p, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: os.Args[0], Name: "mem", Env: []string{envMode + "=promotefile"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fail(err)
	}
	req := sdk.Request{ResourceID: "db", AgentType: "mem", Params: map[string]string{"size": "1"},
		Instance: sdk.Instance{Node: "holly", CloneIndex: 0}, Deadline: time.Now().Add(30 * time.Second),
		Cluster: &sdk.ClusterView{Nodes: []sdk.NodeView{{Name: "holly"}}}}
	for _, op := range []func(context.Context, sdk.Request) (sdk.Result, error){p.Start, p.Promote} {
		if res, err := op(ctx, req); err != nil || res.Code != sdk.OK {
			fail(fmt.Errorf("%v %v", res, err))
		}
	}
	res, err := p.Hold(ctx, sdk.HoldRequest{ResourceID: "db", AgentType: "mem", Params: req.Params, Until: sdk.MonotonicNow() + time.Hour,
		Role: sdk.HoldPromoted, Instance: req.Instance})
	if err != nil || res.Code != sdk.OK {
		fail(fmt.Errorf("hold: %v %v", res, err))
	}
	fmt.Println("ready")
	select {}
}

// When the host dies, the plugin demotes the instances whose promoted
// role it holds before it exits: an hour's hold does not keep them
// promoted with nobody left to renew it.
func TestHostDeathDemotesHeldRoles(t *testing.T) {
	file := filepath.Join(t.TempDir(), "role")
	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), envMode+"=fakehost", envRoleFile+"="+file)
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = host.Process.Kill(); _ = host.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("fake host: %q", line)
	}
	if data, err := os.ReadFile(file); err != nil || string(data) != "db holly/0 promoted=true\n" {
		t.Fatalf("role after the promote: %q, %v", data, err)
	}
	if err := host.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	killed := time.Now()
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if data, _ := os.ReadFile(file); string(data) != "db holly/0 promoted=false\n" {
			return fmt.Errorf("role after the host died: %q", data)
		}
		return nil
	})
	t.Logf("held role demoted %s after its host was killed", time.Since(killed).Round(time.Millisecond))
}
