package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/e2e/priv"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// rig is a real HAProxy run by the agent as its own master-worker process
// (unit = ""), on loopback: the frontend on 127.0.0.1, the "nodes" holly
// and benji as small HTTP servers on 127.0.0.2 and 127.0.0.3 (same port).
type rig struct {
	agent    *Agent
	dir      string
	front    string // 127.0.0.1:port
	params   map[string]string
	view     *sdk.ClusterView
	backends map[string]*http.Server
}

func newRig(t *testing.T) *rig {
	t.Helper()
	priv.Require(t, "haproxy")
	r := &rig{dir: t.TempDir(), backends: map[string]*http.Server{}}
	r.agent = NewWith(Options{StateDir: r.dir})
	t.Cleanup(r.agent.Close)
	port := r.startBackends(t)
	r.front = "127.0.0.1:" + strconv.Itoa(freePort(t, "127.0.0.1"))
	r.params = map[string]string{
		"bind": r.front, "backend_clone": "httpd-clone", "backend_port": strconv.Itoa(port),
		"unit": "", "check_interval": "200ms", "rise": "1", "fall": "2",
	}
	r.view = &sdk.ClusterView{
		Nodes: []sdk.NodeView{
			{Name: "holly", Address: "127.0.0.2", Online: true},
			{Name: "benji", Address: "127.0.0.3", Online: true},
		},
		Active: map[string][]string{"httpd-clone": {"benji", "holly"}},
	}
	t.Cleanup(func() {
		// Stop through the agent; if that fails, kill by the pid file, so
		// that no HAProxy outlives the test.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if res := r.agent.Stop(ctx, r.req()); res.Code != sdk.OK {
			t.Errorf("cleanup stop: %v %q", res.Code, res.Message)
			if b, err := os.ReadFile(filepath.Join(r.dir, "haproxy.pid")); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
	return r
}

// freePort returns a port nobody listens on at host just now.
func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startBackends serves "Hello Holly" on 127.0.0.2:P and "Hello Benji" on
// 127.0.0.3:P, and returns P.
func (r *rig) startBackends(t *testing.T) int {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		l1, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.3:"+strconv.Itoa(port))
		if err != nil {
			l1.Close()
			continue
		}
		for name, l := range map[string]net.Listener{"holly": l1, "benji": l2} {
			body := "Hello " + strings.ToUpper(name[:1]) + name[1:] + "\n"
			s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
			r.backends[name] = s
			go s.Serve(l)
			t.Cleanup(func() { s.Close() })
		}
		return port
	}
	t.Fatal("no port free on both 127.0.0.2 and 127.0.0.3")
	return 0
}

func (r *rig) req() sdk.Request {
	params := map[string]string{}
	for k, v := range r.params {
		params[k] = v
	}
	return sdk.Request{ResourceID: "haproxy", AgentType: Name, Params: params,
		Instance: sdk.Instance{Node: "holly", CloneIndex: 0}, Deadline: time.Now().Add(30 * time.Second), Cluster: r.view}
}

type action func(context.Context, sdk.Request) sdk.Result

func (r *rig) do(t *testing.T, name string, f action, want sdk.Code) sdk.Result {
	t.Helper()
	req := r.req()
	ctx, cancel := context.WithDeadline(context.Background(), req.Deadline)
	defer cancel()
	res := f(ctx, req)
	if res.Code != want {
		t.Fatalf("%s: %v %q; want %v", name, res.Code, res.Message, want)
	}
	t.Logf("%s: %s", name, res.Message)
	return res
}

func (r *rig) workerPID(t *testing.T) int {
	t.Helper()
	pid, err := stats{filepath.Join(r.dir, "haproxy.sock")}.pid(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

var client = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

// get makes one request through HAProxy, on a new connection.
func get(url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return strings.TrimSpace(string(b)), nil
}

// answers makes n requests and counts the answers by body.
func answers(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		body, err := get(url)
		if err != nil {
			body = "error: " + err.Error()
		}
		got[body]++
	}
	return got
}

// bothServe waits until the balancer alternates between both nodes.
func (r *rig) bothServe(t *testing.T) {
	t.Helper()
	poll.Until(t, 15*time.Second, 100*time.Millisecond, func() error {
		got := answers(t, "http://"+r.front+"/", 4)
		if got["Hello Holly"] != 2 || got["Hello Benji"] != 2 {
			return fmt.Errorf("4 requests: %v; want 2 from each node", got)
		}
		return nil
	})
}

func TestConformance(t *testing.T) {
	r := newRig(t)
	sdktest.Conformance(t, sdktest.Serve(t, r.agent), sdktest.Resource{
		ID: "haproxy", AgentType: Name, Params: r.params, Cluster: r.view,
		Instance: sdk.Instance{Node: "holly", CloneIndex: 0},
	})
}

// The plugin binary launched as tandem launches it, through the real
// master-worker HAProxy.
func TestConformancePluginBinary(t *testing.T) {
	r := newRig(t)
	bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/haproxy/cmd/tandem-plugin-haproxy")
	p := sdktest.LaunchBinary(t, bin, "TANDEM_HAPROXY_STATE_DIR="+r.dir)
	sdktest.Conformance(t, p, sdktest.Resource{
		ID: "haproxy", AgentType: Name, Params: r.params, Cluster: r.view,
		Instance: sdk.Instance{Node: "holly", CloneIndex: 0},
		// A fault: the HAProxy master killed behind the agent's back.
		Break: func(sdk.Request) error {
			b, err := os.ReadFile(filepath.Join(r.dir, "haproxy.pid"))
			if err != nil {
				return err
			}
			master, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return err
			}
			if err := syscall.Kill(master, syscall.SIGKILL); err != nil {
				return err
			}
			for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				if syscall.Kill(master, 0) != nil {
					return nil
				}
			}
			return fmt.Errorf("haproxy master %d still there 10 s after SIGKILL", master)
		},
	})
}

// Start renders the seed's listen section, HAProxy balances round robin
// to both nodes, monitor reports the servers, and a master killed behind
// the agent's back is a monitor failure.
func TestStartServesMonitorReportsKillDetected(t *testing.T) {
	r := newRig(t)
	r.do(t, "monitor before start", r.agent.Monitor, sdk.NotRunning)
	r.do(t, "start", r.agent.Start, sdk.OK)
	cfg, err := os.ReadFile(filepath.Join(r.dir, "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "\tserver holly 127.0.0.2:") || !strings.Contains(string(cfg), "balance roundrobin") {
		t.Fatalf("rendered config:\n%s", cfg)
	}
	r.bothServe(t)
	res := r.do(t, "monitor", r.agent.Monitor, sdk.OK)
	if !strings.Contains(res.Message, "holly UP") || !strings.Contains(res.Message, "benji UP") {
		t.Errorf("monitor message does not report both servers up: %q", res.Message)
	}
	b, _ := os.ReadFile(filepath.Join(r.dir, "haproxy.pid"))
	master, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(master, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if res := r.agent.Monitor(ctx, r.req()); res.Code != sdk.ErrGeneric {
			return fmt.Errorf("monitor after SIGKILL of the master: %v %q; want a failure", res.Code, res.Message)
		}
		return nil
	})
	r.do(t, "stop after the kill", r.agent.Stop, sdk.OK)
	r.do(t, "monitor after stop", r.agent.Monitor, sdk.NotRunning)
	r.do(t, "start again", r.agent.Start, sdk.OK)
	r.bothServe(t)
}

// An invalid configuration never replaces a working one: the error
// carries HAProxy's message, the file and the worker are unchanged, and
// HAProxy keeps serving.
func TestInvalidConfigKeepsRunning(t *testing.T) {
	r := newRig(t)
	r.do(t, "start", r.agent.Start, sdk.OK)
	r.bothServe(t)
	path := filepath.Join(r.dir, "haproxy.cfg")
	before, _ := os.ReadFile(path)
	pid := r.workerPID(t)

	r.params["user"] = "no-such-user-tandem"
	res := r.do(t, "reload with an unknown user", r.agent.Reload, sdk.ErrNotConfigured)
	if !strings.Contains(res.Message, "no-such-user-tandem") || !strings.Contains(res.Message, "haproxy -c") && !strings.Contains(res.Message, "-c -f") {
		t.Errorf("the refusal does not carry HAProxy's message: %q", res.Message)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(before) {
		t.Errorf("the refused configuration replaced the running one")
	}
	if _, err := os.Stat(path + ".next"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("candidate file left behind: %v", err)
	}
	if got := r.workerPID(t); got != pid {
		t.Errorf("worker pid %d → %d: HAProxy was reloaded", pid, got)
	}
	r.bothServe(t)
	delete(r.params, "user")
	r.do(t, "monitor", r.agent.Monitor, sdk.OK)

	// An admin's file: validate refuses it, start refuses it.
	bad := filepath.Join(r.dir, "admin.cfg")
	if err := os.WriteFile(bad, []byte("global\n\tnonsense-keyword 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v := r.agent.Validate(context.Background(), sdk.ValidateRequest{AgentType: Name, Params: map[string]string{"config": bad, "unit": ""}})
	if v.Code != sdk.ErrNotConfigured || !strings.Contains(v.Message, "nonsense-keyword") {
		t.Errorf("validate of a bad admin file: %v %q", v.Code, v.Message)
	}
}

// Graceful reloads: a client making one request per new connection
// (bounded: at most 20000 requests, 60 s) while the agent reloads HAProxy
// 20 times sees no failure.
func TestGracefulReload(t *testing.T) {
	r := newRig(t)
	r.do(t, "start", r.agent.Start, sdk.OK)
	r.bothServe(t)
	const reloads = 20
	stop := make(chan struct{})
	type tally struct {
		ok, failed int
		firstErr   error
	}
	done := make(chan tally)
	go func() {
		var c tally
		end := time.Now().Add(60 * time.Second)
		for i := 0; i < 20000 && time.Now().Before(end); i++ {
			select {
			case <-stop:
				done <- c
				return
			default:
			}
			if _, err := get("http://" + r.front + "/"); err != nil {
				c.failed++
				if c.firstErr == nil {
					c.firstErr = err
				}
			} else {
				c.ok++
			}
		}
		done <- c
	}()
	var took []time.Duration
	for i := 0; i < reloads; i++ {
		res := r.do(t, fmt.Sprintf("reload %d", i+1), r.agent.Reload, sdk.OK)
		if i := strings.Index(res.Message, "reloaded in "); i >= 0 {
			f := strings.Fields(res.Message[i+len("reloaded in "):])
			if d, err := time.ParseDuration(strings.TrimRight(f[0], ";,")); err == nil {
				took = append(took, d)
			}
		}
		time.Sleep(50 * time.Millisecond) // let requests run between reloads
	}
	close(stop)
	c := <-done
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	if len(took) == reloads {
		t.Logf("reload time (master CLI reload → new worker answers on the stats socket): median %s, min %s, max %s", took[reloads/2], took[0], took[reloads-1])
	}
	t.Logf("%d reloads: %d requests answered, %d failed", reloads, c.ok, c.failed)
	if c.failed > 0 {
		t.Errorf("%d of %d requests failed during %d reloads; first: %v", c.failed, c.ok+c.failed, reloads, c.firstErr)
	}
	if c.ok < reloads {
		t.Errorf("only %d requests ran during the reloads", c.ok)
	}
}

// Notify takes a node that stopped running httpd-clone out of rotation at
// once through the runtime API (no reload, no waiting for checks), and
// puts it back when it runs again; a change of the node list reloads.
func TestNotifyMaintReady(t *testing.T) {
	r := newRig(t)
	// Holly does not run httpd yet: she starts held out.
	r.view.Active["httpd-clone"] = []string{"benji"}
	r.do(t, "start", r.agent.Start, sdk.OK)
	poll.Until(t, 10*time.Second, 100*time.Millisecond, func() error {
		if got := answers(t, "http://"+r.front+"/", 4); got["Hello Benji"] != 4 {
			return fmt.Errorf("4 requests with holly held out: %v", got)
		}
		return nil
	})
	pid := r.workerPID(t)

	r.view.Active["httpd-clone"] = []string{"benji", "holly"}
	res := r.do(t, "notify: holly runs httpd", r.agent.Notify, sdk.OK)
	if !strings.Contains(res.Message, "holly → ready") {
		t.Errorf("notify message: %q", res.Message)
	}
	r.bothServe(t)

	// Holly's Apache dies (the backend keeps listening here: only the
	// cluster's word takes her out). Every request goes to benji at once.
	r.view.Active["httpd-clone"] = []string{"benji"}
	began := time.Now()
	res = r.do(t, "notify: holly stopped httpd", r.agent.Notify, sdk.OK)
	t.Logf("notify (runtime API) took %s", time.Since(began).Round(time.Microsecond))
	if !strings.Contains(res.Message, "holly → maint") || !strings.Contains(res.Message, "holly MAINT") {
		t.Errorf("notify message: %q", res.Message)
	}
	if got := answers(t, "http://"+r.front+"/", 10); got["Hello Benji"] != 10 {
		t.Errorf("right after notify, 10 requests: %v; want all from benji", got)
	}
	// A node that left the cluster view's online set: same.
	r.view.Active["httpd-clone"] = []string{"benji", "holly"}
	r.view.Nodes[0].Online = false
	r.do(t, "notify: holly offline", r.agent.Notify, sdk.OK)
	if got := answers(t, "http://"+r.front+"/", 6); got["Hello Benji"] != 6 {
		t.Errorf("holly offline, 6 requests: %v", got)
	}
	if got := r.workerPID(t); got != pid {
		t.Errorf("worker %d → %d: state changes reloaded HAProxy", pid, got)
	}
	cfg, _ := os.ReadFile(filepath.Join(r.dir, "haproxy.cfg"))
	if !strings.Contains(string(cfg), "server holly 127.0.0.2:"+r.params["backend_port"]+" check disabled") {
		t.Errorf("the file does not keep holly held out for the next reload:\n%s", cfg)
	}
	r.view.Nodes[0].Online = true
	r.do(t, "notify: holly back", r.agent.Notify, sdk.OK)
	r.bothServe(t)

	// Monitor applies the view too.
	r.view.Active["httpd-clone"] = []string{"holly"}
	res = r.do(t, "monitor with benji gone", r.agent.Monitor, sdk.OK)
	if !strings.Contains(res.Message, "benji MAINT") {
		t.Errorf("monitor: %q", res.Message)
	}
	r.view.Active["httpd-clone"] = []string{"benji", "holly"}

	// A third node joins: a new server, so a (graceful) reload.
	r.view.Nodes = append(r.view.Nodes, sdk.NodeView{Name: "carol", Address: "127.0.0.4", Online: true})
	res = r.do(t, "notify: carol joins", r.agent.Notify, sdk.OK)
	if !strings.Contains(res.Message, "reloaded in") || !strings.Contains(res.Message, "carol MAINT") {
		t.Errorf("notify with a new node: %q", res.Message)
	}
	if got := r.workerPID(t); got == pid {
		t.Error("a new server did not reload HAProxy")
	}
	r.bothServe(t)
}

// Start returns only once HAProxy serves: the frontend open and the first
// health check of every server in rotation done, so that a dead backend
// gets no request after the start (a server is UP until its first check
// fails). The monitor then reports the resource degraded, naming the
// server that is DOWN, and OK again once it answers.
func TestStartWaitsForFirstChecksMonitorNamesDownServers(t *testing.T) {
	r := newRig(t)
	// Checks 2 s apart: HAProxy spreads the first ones over that interval,
	// so without the wait benji's would come up to 2 s after the start.
	r.params["check_interval"] = "2s"
	port := r.params["backend_port"]
	r.backends["benji"].Close() // benji's Apache is dead
	res := r.do(t, "start", r.agent.Start, sdk.OK)
	if !strings.Contains(res.Message, "DOWN: benji") {
		t.Errorf("start message does not name benji DOWN: %q", res.Message)
	}
	sn, err := stats{filepath.Join(r.dir, "haproxy.sock")}.snapshot(context.Background(), "apache")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sn.servers {
		if s.FirstCheckPending() {
			t.Errorf("start returned before the first check of %s: %+v", s.Name, s)
		}
	}
	if sn.frontends["apache"] != "OPEN" {
		t.Errorf("start returned with the frontend %q", sn.frontends["apache"])
	}
	if got := answers(t, "http://"+r.front+"/", 6); got["Hello Holly"] != 6 {
		t.Errorf("right after the start, 6 requests: %v; want all from holly (benji is dead)", got)
	}
	res = r.do(t, "monitor with benji dead", r.agent.Monitor, sdk.Degraded)
	if !strings.Contains(res.Message, "1 of 2 servers DOWN") || !strings.Contains(res.Message, "benji (L4CON") {
		t.Errorf("degraded monitor does not name benji: %q", res.Message)
	}
	// Benji's Apache is back: in rotation after its checks, monitor OK.
	l, err := net.Listen("tcp", "127.0.0.3:"+port)
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "Hello Benji\n") })}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	poll.Until(t, 20*time.Second, 200*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if res := r.agent.Monitor(ctx, r.req()); res.Code != sdk.OK {
			return fmt.Errorf("monitor: %v %q", res.Code, res.Message)
		}
		return nil
	})
	r.bothServe(t)
	// A frontend that does not accept connections (paused through the
	// runtime API) is a failure: HAProxy runs but does not serve.
	sock := stats{filepath.Join(r.dir, "haproxy.sock")}
	if _, err := sock.cmd(context.Background(), "disable frontend apache"); err != nil {
		t.Fatal(err)
	}
	res = r.do(t, "monitor with the frontend paused", r.agent.Monitor, sdk.ErrGeneric)
	if !strings.Contains(res.Message, "frontend does not accept connections: apache PAUSED") {
		t.Errorf("monitor with the frontend paused: %q", res.Message)
	}
	if _, err := sock.cmd(context.Background(), "enable frontend apache"); err != nil {
		t.Fatal(err)
	}
	r.do(t, "monitor with the frontend open again", r.agent.Monitor, sdk.OK)
}
