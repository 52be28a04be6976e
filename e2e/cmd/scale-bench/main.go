// Command scale-bench is the scale benchmark with every member a process of
// its own: `make bench-scale-procs`. For each member count of --members it
// starts that many `tandem host` processes on loopback (ports from
// --port-base up, three per member: client, cluster, NATS monitoring), each
// with its own cluster file (the same cluster, its own [metrics]
// nats_monitor), its own bus data directory and the example plugin
// (example:process: each singleton a /bin/sleep), TLS from `tandem pki
// init`; the first three nodes vote (the default voter_count), the others
// are plain members. It measures:
//
//   - the cold convergence: the first member started (the others follow
//     --start-every apart, the voters first) to every singleton running;
//   - the bus traffic at rest (messages and bytes in and out of every
//     member's NATS server, from /varz, over 10 s; the bytes on routes
//     and on the system account's routes from /routez), then what is
//     published by kind (over another 10 s), and the CPU of every
//     tandem and plugin process;
//   - the memory: the RSS of each member's tandem process and its plugin
//     process, voters and plain members apart;
//   - the failover of a plain member killed -9 (its process group, and its
//     singletons' processes, as a machine that dies takes them with it):
//     the time until every singleton it ran runs on exactly one other
//     member, and the bus traffic meanwhile.
//
// It prints a markdown table at the end. Every process it starts is killed
// when a count is done, and when it fails or is interrupted.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	bin := flag.String("bin", "bin", "the directory holding the tandem binary (make build)")
	members := flag.String("members", "8,16,32,64", "member counts to run, in turn")
	resources := flag.String("resources", "1000", "singletons per run: one number for every run, or one per member count (64,128,256,1000)")
	leases := flag.String("leases", "grants", "[bus] leases: grants or bucket")
	portBase := flag.Int("port-base", 40000, "first loopback port; each member takes three")
	dir := flag.String("dir", "", "working directory (default: a new one under $TMPDIR, removed at the end)")
	converge := flag.Duration("converge-timeout", 15*time.Minute, "how long a cold start may take to run every singleton")
	stickiness := flag.Int("stickiness", 1, "[defaults] resource-stickiness: with 0, a member's death may move other singletons too, to even the spread")
	startEvery := flag.Duration("start-every", 250*time.Millisecond, "the members start one after the other, this far apart (the voters first): at once, 32 members' TLS route handshakes (499 routes with 3 voters) swamp 2 cores")
	netns := flag.String("netns", "", "run in a network namespace of this name, created and deleted by this command (root): the members' ports are then apart from the host's ephemeral ports")
	flag.Parse()
	if *netns != "" && os.Getenv(inNetnsEnv) == "" {
		os.Exit(inNetns(*netns))
	}

	counts, err := parseList(*members)
	if err != nil {
		fail("--members: %v", err)
	}
	perRun, err := parseList(*resources)
	if err != nil {
		fail("--resources: %v", err)
	}
	if len(perRun) != 1 && len(perRun) != len(counts) {
		fail("--resources %q: give one number, or one per member count (%d)", *resources, len(counts))
	}
	for _, n := range counts {
		if n < 4 {
			fail("--members: %d: a run needs 4 members or more (3 voters and a plain member to kill)", n)
		}
		if *portBase < 1024 || *portBase+3*n > 65535 {
			fail("--port-base %d: %d members need ports %d to %d", *portBase, n, *portBase, *portBase+3*n-1)
		}
	}
	if *netns == "" {
		if lo, hi, ok := ephemeralPorts(); ok && *portBase <= hi && *portBase+3*slices.Max(counts) > lo {
			fail("--port-base %d: the members' ports overlap this host's ephemeral ports (%d-%d, net.ipv4.ip_local_port_range): a member's connection can take a port another member has yet to listen on; run with --netns NAME (root) or choose ports outside that range", *portBase, lo, hi)
		}
	}
	tandem, err := filepath.Abs(filepath.Join(*bin, "tandem"))
	if err != nil {
		fail("--bin: %v", err)
	}
	if _, err := os.Stat(tandem); err != nil {
		fail("--bin %s: %v (run make build first)", *bin, err)
	}
	work := *dir
	if work == "" {
		if work, err = os.MkdirTemp("", "tandem-scale-"); err != nil {
			fail("%v", err)
		}
		defer os.RemoveAll(work)
	}
	plugins := filepath.Join(work, "plugins")
	fmt.Printf("building the example plugin into %s\n", plugins)
	build := exec.Command("go", "build", "-o", filepath.Join(plugins, "tandem-plugin-example"), "github.com/tandem-ha/tandem/plugins/sdk/example/cmd/tandem-plugin-example")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fail("building the example plugin: %v", err)
	}

	// Whatever happens, every process started is killed.
	var live sync.Mutex
	var current *cluster
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		live.Lock()
		if current != nil {
			current.killAll()
		}
		fmt.Fprintf(os.Stderr, "scale-bench: %v: every member killed\n", s)
		os.Exit(1)
	}()

	var rows []string
	for i, n := range counts {
		r := perRun[0]
		if len(perRun) > 1 {
			r = perRun[i]
		}
		c := &cluster{tandem: tandem, plugins: plugins, dir: filepath.Join(work, fmt.Sprintf("m%d", n)), n: n, resources: r, leases: *leases, portBase: *portBase, stickiness: *stickiness, startEvery: *startEvery}
		live.Lock()
		current = c
		live.Unlock()
		row, err := c.run(*converge)
		live.Lock()
		c.killAll()
		current = nil
		live.Unlock()
		if err != nil {
			fmt.Printf("%d members, %d singletons: %v (logs in %s)\n", n, r, err, c.dir)
			rows = append(rows, fmt.Sprintf("| %d (3) | %d | %v | | | | | | | | |", n, r, err))
			if *dir == "" {
				// Keep the logs of a failed run.
				keep := filepath.Join(os.TempDir(), fmt.Sprintf("tandem-scale-failed-%d-%d", n, time.Now().Unix()))
				if err := os.Rename(c.dir, keep); err == nil {
					fmt.Printf("its logs: %s\n", keep)
				}
			}
			continue
		}
		rows = append(rows, row)
		fmt.Println("  " + row)
		if *dir == "" {
			os.RemoveAll(c.dir)
		}
	}
	fmt.Printf("\n| members (voters) | singletons | cold convergence | plain member killed: its singletons elsewhere | bus msgs/s at rest (per member) | bus KB/s at rest (per member) | bus msgs/s, KB/s during the failover | CPU at rest, cores (per member) | RSS voter: tandem + plugin (mean) | RSS plain member: tandem + plugin (mean, max) | plain member's tandem: anonymous RSS (mean) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Println(r)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "scale-bench: "+format+"\n", args...)
	os.Exit(2)
}

func parseList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// cluster is one run: n members as processes.
type cluster struct {
	tandem, plugins, dir string
	n, resources         int
	leases               string
	portBase, stickiness int
	startEvery           time.Duration

	mu    sync.Mutex
	procs map[string]*exec.Cmd // by member name
}

func (c *cluster) name(i int) string { return fmt.Sprintf("n%02d", i+1) }

func (c *cluster) state() string { return filepath.Join(c.dir, "state") }

func (c *cluster) memberConfig(i int) string {
	return filepath.Join(c.dir, c.name(i), "cluster.toml")
}

func (c *cluster) monitor(i int) string {
	return fmt.Sprintf("127.0.0.1:%d", c.portBase+3*i+2)
}

// write writes the cluster file (for `tandem pki init`) and each member's
// copy of it with its own [metrics] nats_monitor and bus data directory.
func (c *cluster) write() error {
	if err := os.MkdirAll(c.state(), 0o755); err != nil {
		return err
	}
	var nodes, model strings.Builder
	fmt.Fprintf(&model, "[defaults]\nresource-stickiness = %d\n", c.stickiness)
	for i := 0; i < c.n; i++ {
		fmt.Fprintf(&nodes, "[[node]]\nname = %q\naddress = \"127.0.0.1\"\nclient_port = %d\ncluster_port = %d\n", c.name(i), c.portBase+3*i, c.portBase+3*i+1)
	}
	for i := 1; i <= c.resources; i++ {
		fmt.Fprintf(&model, "[[resource]]\nid = \"r%04d\"\nagent = \"example:process\"\nparams = { command = \"/bin/sleep\", args = \"3600\", state_dir = %q }\n[[resource.op]]\nname = \"monitor\"\ninterval = \"30s\"\n", i, filepath.Join(c.state(), "{node}"))
	}
	head := func(data string) string {
		return fmt.Sprintf("[cluster]\nname = \"scale\"\n[bus]\ndata_dir = %q\nleases = %q\n[bus.tls]\ndir = %q\n", data, c.leases, filepath.Join(c.dir, "pki"))
	}
	base := filepath.Join(c.dir, "cluster.toml")
	if err := os.WriteFile(base, []byte(head(filepath.Join(c.dir, "data"))+nodes.String()+model.String()), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command(c.tandem, "pki", "init", "--config", base).CombinedOutput(); err != nil {
		return fmt.Errorf("tandem pki init: %v: %s", err, out)
	}
	for i := 0; i < c.n; i++ {
		m := c.name(i)
		own := head(filepath.Join(c.dir, m, "data")) + fmt.Sprintf("[metrics]\nnats_monitor = %q\n", c.monitor(i)) + nodes.String() + model.String()
		if err := os.MkdirAll(filepath.Join(c.dir, m), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.dir, m, "cluster.toml"), []byte(own), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// start starts member i as a process group of its own (its plugin and the
// singletons it starts are in it unless they leave it).
func (c *cluster) start(i int) error {
	m := c.name(i)
	logf, err := os.Create(filepath.Join(c.dir, m, "tandem.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(c.tandem, "host", "--config", filepath.Join(c.dir, m, "cluster.toml"), "--node", m, "--plugin-dir", c.plugins)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %v", m, err)
	}
	c.mu.Lock()
	if c.procs == nil {
		c.procs = map[string]*exec.Cmd{}
	}
	c.procs[m] = cmd
	c.mu.Unlock()
	go func() { _ = cmd.Wait() }()
	return nil
}

// kill kills member m's process group and the singletons it runs, as the
// death of its machine would.
func (c *cluster) kill(m string) {
	c.mu.Lock()
	cmd := c.procs[m]
	delete(c.procs, m)
	c.mu.Unlock()
	if cmd != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	for _, pid := range c.pids(m) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// killAll kills every member and every singleton's process.
func (c *cluster) killAll() {
	c.mu.Lock()
	var ms []string
	for m := range c.procs {
		ms = append(ms, m)
	}
	c.mu.Unlock()
	for _, m := range ms {
		c.kill(m)
	}
	for _, pid := range c.pids("") {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// pids lists the live singleton processes on node ("" for all) by
// "<node>/<resource>", from the example agent's pid files.
func (c *cluster) pids(node string) map[string]int {
	out := map[string]int{}
	nodes, _ := os.ReadDir(c.state())
	for _, n := range nodes {
		if node != "" && n.Name() != node {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(c.state(), n.Name()))
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(c.state(), n.Name(), f.Name()))
			if err != nil {
				continue
			}
			pid, err := strconv.Atoi(strings.Fields(string(data) + " x")[0])
			if err != nil || syscall.Kill(pid, 0) != nil {
				continue
			}
			if st := statFields(strconv.Itoa(pid)); len(st) == 0 || st[0] == "Z" {
				continue // gone, or a zombie
			}
			res, _, _ := strings.Cut(strings.TrimSuffix(f.Name(), ".pid"), ":")
			out[n.Name()+"/"+res] = pid
		}
	}
	return out
}

// placement is, per singleton, the nodes its process runs on.
func (c *cluster) placement() map[string][]string {
	out := map[string][]string{}
	for k := range c.pids("") {
		n, r, _ := strings.Cut(k, "/")
		out[r] = append(out[r], n)
	}
	return out
}

// traffic: messages and bytes in and out of NATS servers (/varz); of
// those bytes, the ones on their routes (/routez), and of those the
// system account's own routes (between two voters nats-server pins one
// to it: their Raft traffic and their servers' events, statistics every
// 10 s; a plain member keeps one route per peer, where the system
// account's events travel with the cluster's: bus.routePoolSize).
type traffic struct{ msgs, bytes, routeBytes, sysBytes int64 }

// traffic sums the messages and bytes in and out of the NATS servers of
// members (indexes), from their /varz and /routez; a member that does
// not answer is an error.
func (c *cluster) traffic(members []int) (traffic, error) {
	var tr traffic
	client := http.Client{Timeout: 5 * time.Second}
	for _, i := range members {
		var v struct {
			InMsgs   int64 `json:"in_msgs"`
			OutMsgs  int64 `json:"out_msgs"`
			InBytes  int64 `json:"in_bytes"`
			OutBytes int64 `json:"out_bytes"`
		}
		if err := c.monitorJSON(&client, i, "/varz", &v); err != nil {
			return tr, err
		}
		tr.msgs += v.InMsgs + v.OutMsgs
		tr.bytes += v.InBytes + v.OutBytes
		var rz struct {
			Routes []struct {
				Account  string `json:"account"`
				InBytes  int64  `json:"in_bytes"`
				OutBytes int64  `json:"out_bytes"`
			} `json:"routes"`
		}
		if err := c.monitorJSON(&client, i, "/routez", &rz); err != nil {
			return tr, err
		}
		for _, r := range rz.Routes {
			tr.routeBytes += r.InBytes + r.OutBytes
			if r.Account == server.DEFAULT_SYSTEM_ACCOUNT { // the system account bus gives its servers
				tr.sysBytes += r.InBytes + r.OutBytes
			}
		}
	}
	return tr, nil
}

// monitorJSON decodes member i's NATS monitoring endpoint path into v.
func (c *cluster) monitorJSON(client *http.Client, i int, path string, v any) error {
	resp, err := client.Get("http://" + c.monitor(i) + path)
	if err != nil {
		return fmt.Errorf("%s's %s: %v", c.name(i), path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s's %s: %v", c.name(i), path, err)
	}
	return nil
}

// memberProcs are member m's tandem process and its plugin processes
// (its children but the singletons).
func (c *cluster) memberProcs(m string) (host string, plugins []string) {
	c.mu.Lock()
	cmd := c.procs[m]
	c.mu.Unlock()
	if cmd == nil {
		return "", nil
	}
	host = strconv.Itoa(cmd.Process.Pid)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if f := statFields(e.Name()); len(f) > 1 && f[1] == host && strings.Contains(readFile(filepath.Join("/proc", e.Name(), "cmdline")), "tandem-plugin-") {
			plugins = append(plugins, e.Name())
		}
	}
	return host, plugins
}

func (c *cluster) cpu(members []int) float64 {
	var s float64
	for _, i := range members {
		h, ps := c.memberProcs(c.name(i))
		for _, p := range append(ps, h) {
			s += cpuSeconds(p)
		}
	}
	return s
}

func indexes(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func (c *cluster) run(converge time.Duration) (string, error) {
	if err := c.write(); err != nil {
		return "", err
	}
	fmt.Printf("%d members (3 voting), %d singletons, leases %s: starting\n", c.n, c.resources, c.leases)
	begin := time.Now()
	for i := 0; i < c.n; i++ {
		if i > 0 {
			time.Sleep(c.startEvery)
		}
		if err := c.start(i); err != nil {
			return "", err
		}
	}
	last, lastReport := -1, time.Now()
	for {
		got := len(c.pids(""))
		if got == c.resources {
			break
		}
		if time.Since(begin) > converge {
			return "", fmt.Errorf("cold start: %d of %d singletons running after %s", got, c.resources, converge)
		}
		if err := c.exited(); err != nil {
			return "", err
		}
		if got != last || time.Since(lastReport) > 30*time.Second {
			fmt.Printf("  %s: %d of %d running\n", time.Since(begin).Round(time.Second), got, c.resources)
			last, lastReport = got, time.Now()
		}
		time.Sleep(500 * time.Millisecond)
	}
	cold := time.Since(begin)
	fmt.Printf("  cold convergence: %s\n", cold.Round(100*time.Millisecond))
	// What the members' processes (and their plugins) used from their
	// start until then: probes, reports, plans, starts.
	coldCPU := c.cpu(indexes(0, c.n))
	fmt.Printf("  CPU of the cold start: %.1f core-seconds (%.2f cores)\n", coldCPU, coldCPU/cold.Seconds())

	// At rest: 10 s for the last starts' reports to settle, then 10 s of
	// traffic and CPU, then 10 s of counting what is published. Not at
	// once: the counter's subscription to everything has every message
	// routed to its member, which would count in the traffic.
	time.Sleep(10 * time.Second)
	all := indexes(0, c.n)
	t0, err := c.traffic(all)
	if err != nil {
		return "", err
	}
	cpu0, at := c.cpu(all), time.Now()
	time.Sleep(10 * time.Second)
	t1, err := c.traffic(all)
	if err != nil {
		return "", err
	}
	secs := time.Since(at).Seconds()
	restCPU := (c.cpu(all) - cpu0) / secs
	restMsgs := float64(t1.msgs-t0.msgs) / secs
	restKB := float64(t1.bytes-t0.bytes) / secs / 1024
	fmt.Printf("  bus bytes at rest: %.1f KB/s in all, %.1f KB/s on routes, of which %.1f KB/s on the routes pinned to the system account (between voters: Raft, server statistics)\n",
		restKB, float64(t1.routeBytes-t0.routeBytes)/secs/1024, float64(t1.sysBytes-t0.sysBytes)/secs/1024)
	tally, err := c.tallySubjects()
	if err != nil {
		return "", err
	}
	at = time.Now()
	time.Sleep(10 * time.Second)
	fmt.Printf("  published at rest, by kind: %s\n", tally.stop(time.Since(at).Seconds()))
	if n := len(c.pids("")); n != c.resources {
		return "", fmt.Errorf("at rest: %d of %d singletons running (a member lost its leases at rest)", n, c.resources)
	}

	// Memory, voters (the first three) and plain members apart.
	var voter, plain []float64
	var plainMax float64
	for i := 0; i < c.n; i++ {
		h, ps := c.memberProcs(c.name(i))
		rss := rssOf(h)
		for _, p := range ps {
			rss += rssOf(p)
		}
		mb := float64(rss) / (1 << 20)
		if i < 3 {
			voter = append(voter, mb)
		} else {
			plain = append(plain, mb)
			plainMax = max(plainMax, mb)
		}
	}
	hostMean := func(from, to int) (float64, float64) {
		var h, p float64
		for i := from; i < to; i++ {
			hp, ps := c.memberProcs(c.name(i))
			h += float64(rssOf(hp)) / (1 << 20)
			for _, x := range ps {
				p += float64(rssOf(x)) / (1 << 20)
			}
		}
		return h / float64(to-from), p / float64(to-from)
	}
	vh, vp := hostMean(0, 3)
	ph, pp := hostMean(3, c.n)
	var anon float64
	for i := 3; i < c.n; i++ {
		hp, _ := c.memberProcs(c.name(i))
		anon += float64(statusBytes(hp, "RssAnon:")) / (1 << 20) / float64(c.n-3)
	}

	// A plain member holding singletons is killed -9.
	place := c.placement()
	victim, held := "", 0
	for i := c.n - 1; i >= 3; i-- {
		if k := len(c.pids(c.name(i))); k > held {
			victim, held = c.name(i), k
		}
	}
	if victim == "" {
		return "", errors.New("no plain member holds a singleton")
	}
	var moved []string
	for r, ns := range place {
		if len(ns) == 1 && ns[0] == victim {
			moved = append(moved, r)
		}
	}
	var rest []int
	for i := 0; i < c.n; i++ {
		if c.name(i) != victim {
			rest = append(rest, i)
		}
	}
	t0, err = c.traffic(rest)
	if err != nil {
		return "", err
	}
	at = time.Now()
	c.kill(victim)
	var failover time.Duration
	for {
		p, done := c.placement(), true
		for _, r := range moved {
			if ns := p[r]; len(ns) != 1 || ns[0] == victim {
				done = false
				break
			}
		}
		if done {
			failover = time.Since(at)
			break
		}
		if time.Since(at) > 5*time.Minute {
			return "", fmt.Errorf("%s killed: its %d singletons not all elsewhere after 5 min", victim, len(moved))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t1, err = c.traffic(rest)
	if err != nil {
		return "", err
	}
	fs := failover.Seconds()
	fmt.Printf("  %s killed -9: its %d singletons running elsewhere after %s\n", victim, len(moved), failover.Round(10*time.Millisecond))
	mean := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s / float64(max(len(xs), 1))
	}
	return fmt.Sprintf("| %d (3) | %d | %s | %s (%d singletons) | %.0f (%.0f) | %.0f (%.1f) | %.0f, %.0f | %.2f (%.3f) | %.1f + %.1f MB (%.1f) | %.1f + %.1f MB (%.1f, %.1f) | %.1f MB |",
		c.n, c.resources, cold.Round(100*time.Millisecond), failover.Round(10*time.Millisecond), len(moved),
		restMsgs, restMsgs/float64(c.n), restKB, restKB/float64(c.n),
		float64(t1.msgs-t0.msgs)/fs, float64(t1.bytes-t0.bytes)/fs/1024,
		restCPU, restCPU/float64(c.n), vh, vp, mean(voter), ph, pp, mean(plain), plainMax, anon), nil
}

// exited is an error naming a member whose process has exited.
func (c *cluster) exited() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for m, cmd := range c.procs {
		if syscall.Kill(cmd.Process.Pid, 0) != nil {
			return fmt.Errorf("%s exited (its log: %s)", m, filepath.Join(c.dir, m, "tandem.log"))
		}
		if f := statFields(strconv.Itoa(cmd.Process.Pid)); len(f) > 0 && f[0] == "Z" {
			return fmt.Errorf("%s exited (its log: %s)", m, filepath.Join(c.dir, m, "tandem.log"))
		}
	}
	return nil
}

// statFields are the fields of /proc/<pid>/stat after the command name:
// f[0] is stat(5)'s field 3, the state; nil if it cannot be read.
func statFields(pid string) []string {
	stat := readFile(filepath.Join("/proc", pid, "stat"))
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(stat[i+1:])
}

// cpuSeconds is the CPU time process pid has used (user and system).
func cpuSeconds(pid string) float64 {
	f := statFields(pid)
	if len(f) < 13 {
		return 0
	}
	// utime and stime, stat(5)'s fields 14 and 15, in clock ticks (100 a second).
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// rssOf is the resident set of /proc/<pid> in bytes (0 if it is gone).
func rssOf(pid string) int64 { return statusBytes(pid, "VmRSS:") }

// statusBytes is a size field of /proc/<pid>/status (VmRSS:, RssAnon:) in
// bytes (0 if it is gone).
func statusBytes(pid, field string) int64 {
	for _, l := range strings.Split(readFile(filepath.Join("/proc", pid, "status")), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
