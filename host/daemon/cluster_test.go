package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// testCluster runs holly, benji and the witness director in this process,
// each a full member (bus, plugins as real subprocesses, resource manager,
// coordinator), with the SDK's example plugin ("example:process") as the
// resource agent.
type testCluster struct {
	t       *testing.T
	dir     string
	conf    string
	cancels map[string]context.CancelFunc
	done    map[string]chan error
	plugins string
}

func newTestCluster(t *testing.T, resources string) *testCluster {
	t.Helper()
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/sdk/example/cmd/tandem-plugin-example")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plugins, "tandem-plugin-example"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	secret, err := bus.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "cluster.key")
	if err := bus.WriteSecret(key, secret, false); err != nil {
		t.Fatal(err)
	}
	ports := bustest.FreePorts(t, 6)
	conf := fmt.Sprintf(`[cluster]
name = "inproc"
[bus]
data_dir = %q
credentials = %q
[[node]]
name = "holly"
address = "127.0.0.1"
client_port = %d
cluster_port = %d
[[node]]
name = "benji"
address = "127.0.0.1"
client_port = %d
cluster_port = %d
[witness]
name = "director"
address = "127.0.0.1"
client_port = %d
cluster_port = %d
`, filepath.Join(dir, "data"), key, ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]) + strings.ReplaceAll(resources, "STATE", filepath.Join(dir, "state"))
	path := filepath.Join(dir, "cluster.toml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	tc := &testCluster{t: t, dir: dir, conf: path, cancels: map[string]context.CancelFunc{}, done: map[string]chan error{}, plugins: plugins}
	t.Cleanup(func() {
		for n := range tc.cancels {
			tc.stop(n)
		}
		// Whatever a failed test left running.
		for _, p := range tc.pids("") {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	})
	return tc
}

func (tc *testCluster) start(name string) {
	tc.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o := Options{ConfigPath: tc.conf, Node: name, Witness: name == "director", PluginDir: tc.plugins,
		DataDir: filepath.Join(tc.dir, "data", name), Logger: bustest.Logger().With("test-member", name)}
	if name == "director" {
		o.Node = ""
	}
	go func() { done <- Run(ctx, o) }()
	tc.cancels[name], tc.done[name] = cancel, done
}

// stop shuts a member down cleanly (its resources are stopped first).
func (tc *testCluster) stop(name string) {
	cancel, ok := tc.cancels[name]
	if !ok {
		return
	}
	cancel()
	select {
	case err := <-tc.done[name]:
		if err != nil {
			tc.t.Errorf("%s: %v", name, err)
		}
	case <-time.After(60 * time.Second):
		tc.t.Errorf("%s did not stop within 60 s", name)
	}
	delete(tc.cancels, name)
}

// pids lists the live processes of the example resources; node "" for
// every node. Keys are "<node>/<resource>".
func (tc *testCluster) pids(node string) map[string]int {
	out := map[string]int{}
	root := filepath.Join(tc.dir, "state")
	nodes, _ := os.ReadDir(root)
	for _, n := range nodes {
		if node != "" && n.Name() != node {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(root, n.Name()))
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(root, n.Name(), f.Name()))
			if err != nil {
				continue
			}
			pid, err := strconv.Atoi(strings.Fields(string(data) + " x")[0])
			if err != nil || syscall.Kill(pid, 0) != nil {
				continue
			}
			if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(st), ") Z ") {
				continue // a zombie is dead
			}
			res, _, _ := strings.Cut(strings.TrimSuffix(f.Name(), ".pid"), ":")
			out[n.Name()+"/"+res] = pid
		}
	}
	return out
}

// where lists the nodes a resource's process runs on.
func (tc *testCluster) where(resource string) []string {
	var nodes []string
	for k := range tc.pids("") {
		n, r, _ := strings.Cut(k, "/")
		if r == resource {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 2 && nodes[0] > nodes[1] {
		nodes[0], nodes[1] = nodes[1], nodes[0]
	}
	return nodes
}

func (tc *testCluster) conn() *bus.Conn {
	tc.t.Helper()
	var c *bus.Conn
	bustest.CheckFor(tc.t, 30*time.Second, 100*time.Millisecond, func() (err error) {
		c, err = connectClient(tc.conf)
		return err
	})
	tc.t.Cleanup(c.Close)
	return c
}

const scenario = `
[[resource]]
id = "sleeper"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
meta = { migration-threshold = "2" }
[[resource.op]]
name = "monitor"
interval = "500ms"
[[resource.op]]
name = "stop"
timeout = "10s"

[[resource]]
id = "worker"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[[resource.op]]
name = "monitor"
interval = "500ms"
[resource.clone]

[[order]]
first = "worker-clone"
then = "sleeper"

[[colocation]]
rsc = "sleeper"
with = "worker-clone"
score = "INFINITY"
`

// The cluster converges from cold, restarts a resource killed behind its
// back (counting the failure), moves the singleton once it failed
// migration-threshold times, and moves it when its node leaves.
func TestClusterRunsAndRecoversResources(t *testing.T) {
	tc := newTestCluster(t, scenario)
	for _, n := range []string{"holly", "benji", "director"} {
		tc.start(n)
	}
	c := tc.conn()
	converged := func(within time.Duration) string {
		t.Helper()
		var holder string
		bustest.CheckFor(t, within, 50*time.Millisecond, func() error {
			w, s := tc.where("worker"), tc.where("sleeper")
			if len(w) != 2 || len(s) != 1 {
				return fmt.Errorf("worker on %v, sleeper on %v", w, s)
			}
			holder = s[0]
			// ... and the nodes say so (the start is over).
			return tc.reported(c, map[string]string{holder + "/sleeper": bus.StateStarted,
				"holly/worker": bus.StateStarted, "benji/worker": bus.StateStarted})
		})
		return holder
	}
	begin := time.Now()
	holder := converged(60 * time.Second)
	t.Logf("cold start to every resource running: %s (sleeper on %s)", time.Since(begin).Round(time.Millisecond), holder)

	// Killed behind the cluster's back: the monitor notices, the failure
	// is counted, and it is started again where it was (1 < threshold 2).
	pid := tc.pids(holder)[holder+"/sleeper"]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	bustest.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		p, ok := tc.pids(holder)[holder+"/sleeper"]
		if !ok || p == pid {
			return fmt.Errorf("sleeper not restarted on %s (processes %v)", holder, tc.pids(""))
		}
		return nil
	})
	t.Logf("killed -> running again on the same node: %s", time.Since(killed).Round(time.Millisecond))
	store, err := failures.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	bustest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		recs, err := store.List(context.Background())
		if err != nil || len(recs) != 1 || recs[0].Resource != "sleeper" || recs[0].Node != holder || recs[0].Count != 1 {
			return fmt.Errorf("fail-counts after one failure: %+v, %v", recs, err)
		}
		return nil
	})

	// A second failure reaches migration-threshold: it moves.
	bustest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		return tc.reported(c, map[string]string{holder + "/sleeper": bus.StateStarted})
	})
	pid = tc.pids(holder)[holder+"/sleeper"]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	other := "benji"
	if holder == "benji" {
		other = "holly"
	}
	bustest.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if s := tc.where("sleeper"); len(s) != 1 || s[0] != other {
			return fmt.Errorf("sleeper on %v, want %s", s, other)
		}
		return nil
	})
	if _, err := store.Clear(context.Background(), "sleeper", ""); err != nil {
		t.Fatal(err)
	}

	// The holder leaves cleanly: its resources stop, the singleton comes
	// back on the remaining node.
	tc.stop(other)
	bustest.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if s := tc.where("sleeper"); len(s) != 1 || s[0] != holder {
			return fmt.Errorf("sleeper on %v, want %s", s, holder)
		}
		if w := tc.where("worker"); len(w) != 1 || w[0] != holder {
			return fmt.Errorf("worker on %v, want only %s", w, holder)
		}
		return nil
	})
	if n := len(tc.pids(other)); n != 0 {
		t.Errorf("%s left but still runs %d resources", other, n)
	}
}

// reported checks that the nodes report the given states
// ("node/resource" -> state) and are not busy.
func (tc *testCluster) reported(c *bus.Conn, want map[string]string) error {
	got := map[string]string{}
	busy := map[string][]string{}
	err := bus.Gather(c, bus.SubjectStateRequest, nil, 2, 2*time.Second, func(data []byte) bool {
		r, _, err := bus.Decode[bus.NodeResources](data)
		if err != nil {
			return false
		}
		for _, rs := range r.Resources {
			got[r.Node+"/"+rs.Resource] = rs.State
		}
		if len(r.Busy) > 0 {
			busy[r.Node] = r.Busy
		}
		return true
	})
	if err != nil {
		return err
	}
	for k, v := range want {
		if got[k] != v {
			return fmt.Errorf("%s is %q, want %q (reports %v, busy %v)", k, got[k], v, got, busy)
		}
	}
	if len(busy) > 0 {
		return fmt.Errorf("busy: %v", busy)
	}
	return nil
}

func connectClient(path string) (*bus.Conn, error) {
	f, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	secret, err := bus.LoadSecret(f.Topology.Credentials)
	if err != nil {
		return nil, err
	}
	return bus.Connect(bus.ConnectOptions{Topology: f.Topology, Secret: secret, Name: "test", Timeout: 2 * time.Second})
}
