// Package daemontest runs whole Tandem clusters inside one test process:
// the nodes holly and benji and the witness director on loopback, each a
// full member (daemon.Run: bus, plugins as real subprocesses, resource
// manager, coordinator), with the SDK's example plugin ("example:process")
// as the resource agent. It is the one harness of the daemon's and the
// CLI's cluster tests; the file it writes also serves tests that run the
// tandem binary itself.
package daemontest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/daemon"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// Members are the cluster's members: two nodes and the witness.
var Members = []string{"holly", "benji", "director"}

// Witness is the member that runs `tandem witness`.
const Witness = "director"

// Name is the cluster's name.
const Name = "test"

// Shape is who a cluster's members are: its nodes, in configuration
// order, and its witness ("" for none).
type Shape struct {
	Nodes   []string
	Witness string
	// Bus is added to the [bus] table (voters, for example).
	Bus string
}

// Reference is the shape of Members: holly, benji and the witness.
var Reference = Shape{Nodes: []string{"holly", "benji"}, Witness: Witness}

// Members lists the shape's members: the nodes, then the witness.
func (s Shape) Members() []string {
	ms := append([]string(nil), s.Nodes...)
	if s.Witness != "" {
		ms = append(ms, s.Witness)
	}
	return ms
}

// WriteFiles writes, under dir, a cluster file for the three members on
// loopback (each with free ports, its data under dir/data) followed by
// extra (resources, constraints), and a fresh cluster key. It returns the
// file's path.
func WriteFiles(t testing.TB, dir, extra string) string {
	t.Helper()
	return WriteShapeFiles(t, dir, Reference, extra)
}

// WriteShapeFiles is WriteFiles for the members of shape.
func WriteShapeFiles(t testing.TB, dir string, shape Shape, extra string) string {
	t.Helper()
	members := shape.Members()
	secret, err := bus.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "cluster.key")
	if err := bus.WriteSecret(key, secret, false); err != nil {
		t.Fatal(err)
	}
	p := bustest.FreePorts(t, 2*len(members))
	top := &bus.Topology{Cluster: Name}
	for _, m := range members {
		top.Members = append(top.Members, bus.Member{Name: m, Witness: m == shape.Witness})
	}
	pki := bustest.PKI(t, top)
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = %q\n[bus]\ndata_dir = %q\ncredentials = %q\n%s\n[bus.tls]\ndir = %q\n", Name, filepath.Join(dir, "data"), key, shape.Bus, pki)
	for i, m := range members {
		table := "[[node]]"
		if m == shape.Witness {
			table = "[witness]"
		}
		fmt.Fprintf(&b, "%s\nname = %q\naddress = \"127.0.0.1\"\nclient_port = %d\ncluster_port = %d\n", table, m, p[2*i], p[2*i+1])
	}
	b.WriteString(extra)
	conf := filepath.Join(dir, "cluster.toml")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// Cluster is the members run in this process.
type Cluster struct {
	T       testing.TB
	Shape   Shape
	Dir     string // everything the cluster writes
	Conf    string // its cluster file
	State   string // the example resources' state: State/<node>/<resource>.pid
	Plugins string // the plugin directory (the example plugin)
	// Logger, when set, is each member's logger (by default the bus
	// tests' logger, silent unless BUS_TEST_LOG is set).
	Logger func(member string) *slog.Logger
	// Metrics, when set, are a member's [metrics] settings (the members
	// share one file and one host, so each needs its own ports).
	Metrics map[string]bus.Metrics
	// StatusPage, when set, is a member's [status_page] listen address.
	StatusPage map[string]string

	mu      sync.Mutex
	members map[string]*member
	procs   map[string]*process
}

// process is a member run as a process of the tandem binary.
type process struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type member struct {
	cancel context.CancelFunc
	done   chan error
	ready  chan struct{} // closed once srv is set
	srv    *bus.Server   // its bus server, once it runs
}

// New writes the files of a cluster whose model is resources (STATE in it
// stands for the State directory) and installs the example plugin; Start
// starts members. Members still running when the test ends are stopped,
// and any example process left behind is killed.
func New(t testing.TB, resources string) *Cluster {
	t.Helper()
	return NewShape(t, Reference, resources)
}

// NewShape is New for a cluster of the members of shape.
func NewShape(t testing.TB, shape Shape, resources string) *Cluster {
	t.Helper()
	dir := t.TempDir()
	c := &Cluster{T: t, Shape: shape, Dir: dir, State: filepath.Join(dir, "state"), Plugins: filepath.Join(dir, "plugins"), members: map[string]*member{}, procs: map[string]*process{}}
	if err := os.MkdirAll(c.Plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/sdk/example/cmd/tandem-plugin-example")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Plugins, "tandem-plugin-example"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	c.Conf = WriteShapeFiles(t, dir, shape, strings.ReplaceAll(resources, "STATE", c.State))
	t.Cleanup(func() {
		for _, m := range c.Shape.Members() { // with the members added since
			c.Stop(m)
		}
		for _, pid := range c.Pids("") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return c
}

// Start runs member name (daemon.Run) in this process.
func (c *Cluster) Start(name string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o := daemon.Options{ConfigPath: c.Conf, Node: name, PluginDir: c.Plugins, Logger: bustest.Logger().With("test-member", name)}
	if c.Logger != nil {
		o.Logger = c.Logger(name)
	}
	if mt, ok := c.Metrics[name]; ok {
		o.Metrics = &mt
	}
	if sp, ok := c.StatusPage[name]; ok {
		o.StatusPage = &sp
	}
	if name == c.Shape.Witness {
		o.Node, o.Witness = "", true
	}
	m := &member{cancel: cancel, done: done, ready: make(chan struct{})}
	var once sync.Once
	o.Bus = func(s *bus.Server) {
		once.Do(func() {
			m.srv = s
			close(m.ready)
		})
	}
	go func() { done <- daemon.Run(ctx, o) }()
	c.mu.Lock()
	c.members[name] = m
	c.mu.Unlock()
}

// Server is member name's bus server, once it runs (within 30 s).
func (c *Cluster) Server(name string) *bus.Server {
	c.T.Helper()
	c.mu.Lock()
	m := c.members[name]
	c.mu.Unlock()
	if m == nil {
		c.T.Fatalf("Server(%s): not running", name)
	}
	select {
	case <-m.ready:
		return m.srv
	case <-time.After(30 * time.Second):
		c.T.Fatalf("Server(%s): its bus server did not start within 30 s", name)
		return nil
	}
}

// CutOff cuts member name off from the bus while its daemon runs on: its
// bus server is shut down under it, so that it can reach nobody (no
// quorum, no lease renewal, no promise, no heartbeat goes out) and the
// others see its routes and heartbeats go, as in a partition that leaves
// it alone. Stop it afterwards as usual; a cut-off member does not come
// back by itself.
func (c *Cluster) CutOff(name string) {
	c.T.Helper()
	c.Server(name).NATS().Shutdown()
}

// StartAll starts every member.
func (c *Cluster) StartAll() {
	for _, m := range c.Shape.Members() {
		c.Start(m)
	}
}

// BuildTandem builds the tandem binary, for StartProcess.
func BuildTandem(t testing.TB) string {
	t.Helper()
	return sdktest.Build(t, "github.com/tandem-ha/tandem/host/cmd/tandem")
}

// StartProcess runs member name as a process of the tandem binary bin
// (`tandem host`, or `tandem witness`) instead of in this process, so that
// a test can freeze it as a whole (Signal SIGSTOP); its plugins are
// processes of their own and keep running. Its output is in the test's
// log when the test fails.
func (c *Cluster) StartProcess(name, bin string) {
	c.T.Helper()
	args := []string{"host", "--config", c.Conf, "--node", name, "--plugin-dir", c.Plugins}
	if name == c.Shape.Witness {
		args = []string{"witness", "--config", c.Conf}
	}
	cmd := exec.Command(bin, args...)
	p := &process{cmd: cmd, log: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		c.T.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	c.mu.Lock()
	c.procs[name] = p
	c.mu.Unlock()
	c.T.Cleanup(func() {
		if c.T.Failed() {
			c.T.Logf("--- output of %s (tandem process) ---\n%s", name, p.log)
		}
	})
}

// Signal sends sig to member name's process (StartProcess).
func (c *Cluster) Signal(name string, sig syscall.Signal) {
	c.T.Helper()
	c.mu.Lock()
	p := c.procs[name]
	c.mu.Unlock()
	if p == nil {
		c.T.Fatalf("Signal(%s): not a running process member", name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		c.T.Fatalf("Signal(%s, %v): %v", name, sig, err)
	}
}

// Stop stops member name as a SIGTERM would (its resources are stopped or
// moved first) and waits for it; a member that fails or hangs fails the test.
func (c *Cluster) Stop(name string) {
	c.mu.Lock()
	m := c.members[name]
	delete(c.members, name)
	p := c.procs[name]
	delete(c.procs, name)
	c.mu.Unlock()
	if p != nil {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.done:
			if err != nil {
				c.T.Errorf("%s (process) exited with %v after SIGTERM", name, err)
			}
		case <-time.After(60 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			c.T.Errorf("%s (process) did not exit within 60 s of SIGTERM", name)
		}
	}
	if m == nil {
		return
	}
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			c.T.Errorf("%s stopped with %v, want a clean stop", name, err)
		}
	case <-time.After(60 * time.Second):
		c.T.Errorf("%s did not stop within 60 s", name)
	}
}

// Pids lists the example resources' live processes on node ("" for every
// node), by "<node>/<resource>".
func (c *Cluster) Pids(node string) map[string]int {
	out := map[string]int{}
	nodes, _ := os.ReadDir(c.State)
	for _, n := range nodes {
		if node != "" && n.Name() != node {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(c.State, n.Name()))
		for _, f := range files {
			pid, ok := LivePid(filepath.Join(c.State, n.Name(), f.Name()))
			if !ok {
				continue
			}
			res, _, _ := strings.Cut(strings.TrimSuffix(f.Name(), ".pid"), ":")
			out[n.Name()+"/"+res] = pid
		}
	}
	return out
}

// LivePid reads an example agent's pid file: the pid, and whether that
// process lives (a zombie is dead).
func LivePid(file string) (int, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.Fields(string(data) + " x")[0])
	if err != nil || syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(st), ") Z ") {
		return 0, false
	}
	return pid, true
}

// Where is the sorted list of nodes resource's process runs on.
func (c *Cluster) Where(resource string) []string {
	var nodes []string
	for k := range c.Pids("") {
		n, r, _ := strings.Cut(k, "/")
		if r == resource {
			nodes = append(nodes, n)
		}
	}
	sort.Strings(nodes)
	return nodes
}

// Connect connects a client to the bus over the network, as the CLI does
// (with the admin certificate), once a member answers; the connection is
// closed with the test.
func (c *Cluster) Connect() *bus.Conn {
	c.T.Helper()
	return c.ConnectAs("")
}

// ConnectAs is Connect with the certificate of identity (a member, the
// witness, "admin"; "" is admin).
func (c *Cluster) ConnectAs(identity string) *bus.Conn {
	c.T.Helper()
	var conn *bus.Conn
	poll.Until(c.T, 30*time.Second, 100*time.Millisecond, func() error {
		f, err := config.Load(c.Conf)
		if err != nil {
			return err
		}
		secret, err := f.Topology.LoadSecret()
		if err != nil {
			return err
		}
		conn, err = bus.Connect(bus.ConnectOptions{Topology: f.Topology, Secret: secret, Identity: identity, Name: "test", Timeout: 2 * time.Second,
			Logf: c.T.Logf})
		return err
	})
	c.T.Cleanup(conn.Close)
	return conn
}

// ConnectMember connects in-process to member name's bus server, as its
// own daemon does (it may write what only members write, such as the
// configuration bucket); the connection is closed with the test.
func (c *Cluster) ConnectMember(name string) *bus.Conn {
	c.T.Helper()
	srv := c.Server(name)
	f, err := config.Load(c.Conf)
	if err != nil {
		c.T.Fatal(err)
	}
	secret, err := f.Topology.LoadSecret()
	if err != nil {
		c.T.Fatal(err)
	}
	conn, err := bus.Connect(bus.ConnectOptions{Topology: f.Topology, Secret: secret, Name: "test-" + name, Server: srv})
	if err != nil {
		c.T.Fatal(err)
	}
	c.T.Cleanup(conn.Close)
	return conn
}

// Reported checks that the reference cluster's nodes report the given
// states ("node/resource" -> state) and are not busy.
func Reported(conn *bus.Conn, want map[string]string) error {
	return reported(conn, len(Reference.Nodes), want)
}

// Reported is the package's Reported for the nodes of c.
func (c *Cluster) Reported(conn *bus.Conn, want map[string]string) error {
	return reported(conn, len(c.Shape.Nodes), want)
}

func reported(conn *bus.Conn, nodes int, want map[string]string) error {
	got := map[string]string{}
	busy := map[string][]string{}
	err := bus.Gather(conn, bus.SubjectStateRequest, nil, nodes, 2*time.Second, func(data []byte) bool {
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
