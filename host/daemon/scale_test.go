package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
)

// TestScale is the scale benchmark behind `make bench-scale`, skipped
// unless TANDEM_BENCH_SCALE lists member counts ("8,16,32"). For each
// count it runs that many nodes in this process (three of them voters,
// the default voter_count; the others plain members) with
// TANDEM_BENCH_RESOURCES singletons (default 1000) of the example agent
// (each a /bin/sleep), and measures: the cold convergence (every member
// started to every resource's process running), the bus traffic at rest
// (messages and bytes handled by all servers, from their varz, over 10 s),
// the failover of a member cut off from the bus (its bus server shut down
// under its running daemon) to every singleton it ran running elsewhere,
// the bus traffic during that failover, and the memory (this process's
// RSS per member, and the members' plugin processes). TANDEM_BENCH_LEASES
// sets [bus] leases (grants: granted by a majority of the voters).
func TestScale(t *testing.T) {
	spec := os.Getenv("TANDEM_BENCH_SCALE")
	if spec == "" {
		t.Skip("the scale benchmark: make bench-scale (TANDEM_BENCH_SCALE=8,16,32)")
	}
	resources := 1000
	if v := os.Getenv("TANDEM_BENCH_RESOURCES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("TANDEM_BENCH_RESOURCES=%q: give a positive number", v)
		}
		resources = n
	}
	var rows []string
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 3 {
			t.Fatalf("TANDEM_BENCH_SCALE: %q is not a member count of 3 or more", f)
		}
		t.Run(fmt.Sprintf("members=%d", n), func(t *testing.T) {
			rows = append(rows, scaleRun(t, n, resources))
		})
	}
	fmt.Printf("\n| members (voters) | resources | cold convergence | member cut off: its singletons elsewhere | bus msgs/s at rest (per member) | bus KB/s at rest (per member) | bus msgs/s during the failover | CPU at rest, cores (per member) | stalls of this process ≥ 250 ms (longest) | RSS of this process per member | plugin process RSS (mean) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Println(r)
	}
}

type traffic struct{ msgs, bytes int64 }

func busTraffic(tc *daemontest.Cluster, members []string) traffic {
	var tr traffic
	for _, m := range members {
		v, err := tc.Server(m).NATS().Varz(nil)
		if err != nil {
			continue
		}
		tr.msgs += v.InMsgs + v.OutMsgs
		tr.bytes += v.InBytes + v.OutBytes
	}
	return tr
}

func scaleRun(t *testing.T, n, resources int) string {
	var nodes []string
	for i := 1; i <= n; i++ {
		nodes = append(nodes, fmt.Sprintf("n%02d", i))
	}
	var model strings.Builder
	for i := 1; i <= resources; i++ {
		fmt.Fprintf(&model, "[[resource]]\nid = \"r%04d\"\nagent = \"example:process\"\nparams = { command = \"/bin/sleep\", args = \"3600\", state_dir = \"STATE/{node}\" }\n[[resource.op]]\nname = \"monitor\"\ninterval = \"30s\"\n", i)
	}
	shape := daemontest.Shape{Nodes: nodes}
	if l := os.Getenv("TANDEM_BENCH_LEASES"); l != "" {
		shape.Bus = fmt.Sprintf("leases = %q", l)
	}
	tc := daemontest.NewShape(t, shape, model.String())
	stalls := watchStalls(t)
	begin := time.Now()
	tc.StartAll()
	poll.Until(t, 15*time.Minute, time.Second, func() error {
		if got := len(tc.Pids("")); got != resources {
			return fmt.Errorf("%d of %d resources running", got, resources)
		}
		return nil
	})
	cold := time.Since(begin)
	t.Logf("%d members: cold convergence of %d singletons in %s", n, resources, cold.Round(time.Millisecond))

	// At rest: 5 s to let the last starts' reports settle, then 10 s.
	time.Sleep(5 * time.Second)
	stopProfile := profileRest(t, n)
	before, at, cpu0 := busTraffic(tc, nodes), time.Now(), cpuSeconds()
	time.Sleep(10 * time.Second)
	stopProfile()
	after := busTraffic(tc, nodes)
	secs := time.Since(at).Seconds()
	restCPU := (cpuSeconds() - cpu0) / secs
	restMsgs := float64(after.msgs-before.msgs) / secs
	restKB := float64(after.bytes-before.bytes) / secs / 1024

	// Memory: this process (every member's bus and host) and the plugins.
	runtime.GC()
	rss := rssOf("self")
	var pluginRSS, plugins int64
	for _, p := range childPIDs() {
		if strings.Contains(readFile(filepath.Join("/proc", p, "cmdline")), "tandem-plugin-example") {
			pluginRSS += rssOf(p)
			plugins++
		}
	}

	// A member that does not vote (the last node) is cut off.
	victim := nodes[n-1]
	var moved []string
	for k := range tc.Pids(victim) {
		moved = append(moved, strings.TrimPrefix(k, victim+"/"))
	}
	before, at = busTraffic(tc, nodes[:n-1]), time.Now()
	tc.CutOff(victim)
	poll.Until(t, 5*time.Minute, 50*time.Millisecond, func() error {
		for _, r := range moved {
			w := tc.Where(r)
			if len(w) != 1 || w[0] == victim {
				return fmt.Errorf("%s on %v", r, w)
			}
		}
		return nil
	})
	failover := time.Since(at)
	after = busTraffic(tc, nodes[:n-1])
	failMsgs := float64(after.msgs-before.msgs) / failover.Seconds()
	t.Logf("%d members: %s cut off, its %d singletons running elsewhere after %s", n, victim, len(moved), failover.Round(time.Millisecond))
	// All members at once: one by one, each would drain its singletons
	// onto the rest first (minutes at 16 members).
	begin = time.Now()
	var wg sync.WaitGroup
	for _, m := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tc.Stop(m)
		}()
	}
	wg.Wait()
	t.Logf("%d members stopped together in %s", n, time.Since(begin).Round(time.Millisecond))
	count, longest := stalls()
	return fmt.Sprintf("| %d (3) | %d | %s | %s (%d singletons) | %.0f (%.0f) | %.0f (%.1f) | %.0f | %.2f (%.3f) | %d (%s) | %.1f MB | %.1f MB |", n, resources,
		cold.Round(100*time.Millisecond), failover.Round(10*time.Millisecond), len(moved), restMsgs, restMsgs/float64(n), restKB, restKB/float64(n),
		failMsgs, restCPU, restCPU/float64(n), count, longest.Round(10*time.Millisecond),
		float64(rss)/float64(n)/(1<<20), float64(pluginRSS)/float64(max(plugins, 1))/(1<<20))
}

// watchStalls follows this process's own scheduling: a goroutine ticking
// every 20 ms notes each time it ran 250 ms or more late. Every member of
// the run lives in this process, so such a stall is every member's: the
// machine is the limit (a lease's TTL is 1 s), not the cluster. The
// function returned stops the watch and says how many stalls there were
// and the longest.
func watchStalls(t *testing.T) func() (int, time.Duration) {
	var mu sync.Mutex
	var count int
	var longest time.Duration
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		prev := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				if late := now.Sub(prev) - 20*time.Millisecond; late >= 250*time.Millisecond {
					mu.Lock()
					count++
					longest = max(longest, late)
					mu.Unlock()
					t.Logf("this process stalled for %s", late.Round(time.Millisecond))
				}
				prev = now
			}
		}
	}()
	var once sync.Once
	stop := func() (int, time.Duration) {
		once.Do(func() { close(done); <-stopped })
		mu.Lock()
		defer mu.Unlock()
		return count, longest
	}
	t.Cleanup(func() { stop() })
	return stop
}

// profileRest writes a CPU profile of the 10 s at rest to
// $TANDEM_BENCH_PROFILE.<members> when that is set (go tool pprof reads
// it); the function returned stops it.
func profileRest(t *testing.T, members int) func() {
	base := os.Getenv("TANDEM_BENCH_PROFILE")
	if base == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", base, members))
	if err != nil {
		t.Fatalf("TANDEM_BENCH_PROFILE: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		t.Fatalf("TANDEM_BENCH_PROFILE: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		t.Logf("CPU profile at rest: %s", f.Name())
	}
}

// cpuSeconds is the CPU time this process has used (user and system, all
// threads), from /proc/self/stat.
func cpuSeconds() float64 {
	f := statFields("self")
	if len(f) < 13 {
		return 0
	}
	// utime and stime are fields 14 and 15 of stat(5), in clock ticks
	// (USER_HZ, 100 on Linux).
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}

// statFields are the fields of /proc/<pid>/stat after the command name
// (which may hold spaces and parentheses): f[0] is stat(5)'s field 3, the
// state; nil if it cannot be read.
func statFields(pid string) []string {
	stat := readFile(filepath.Join("/proc", pid, "stat"))
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(stat[i+1:])
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// rssOf is the resident set of /proc/<pid> in bytes.
func rssOf(pid string) int64 {
	for _, l := range strings.Split(readFile(filepath.Join("/proc", pid, "status")), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// childPIDs lists this process's children.
func childPIDs() []string {
	me := strconv.Itoa(os.Getpid())
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if f := statFields(e.Name()); len(f) > 1 && f[1] == me {
			out = append(out, e.Name())
		}
	}
	return out
}
