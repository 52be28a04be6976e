package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies"
)

// A globally-unique clone on a live cluster: created with pcs's clone
// option, stored in format 9, one instance per node started, listed
// instance by instance by status and with its option by resource config;
// clone-node-max without globally-unique, and several instances of a
// promotable clone on one node (which the nodes cannot run yet), are
// refused, changing nothing. A unique clone of clone-node-max 2 runs its
// four instances two per node, listed one by one.
func TestLiveGloballyUnique(t *testing.T) {
	lc := newLiveCluster(t)
	create := func(id string, clone ...string) []string {
		args := append([]string{"resource", "create", id, "example:process"}, lc.params()...)
		return append(append(args, "op", "monitor", "interval=500ms", "clone"), clone...)
	}
	lc.refuse(`resource "u2": clone-node-max 2 needs globally-unique = true`, create("u2", "clone-node-max=2")...)
	lc.refuse(`resource "u2": clone-node-max 2 on a promotable clone: a node runs one instance of a promotable clone`,
		create("u2", "globally-unique=true", "clone-node-max=2", "promotable=true")...)
	lc.must(create("u", "globally-unique=true")...)
	if rev := lc.live(); rev.Format != liveconfig.FormatCIBUnique {
		t.Errorf("live configuration in format %d, want %d", rev.Format, liveconfig.FormatCIBUnique)
	}
	nodes := len(lc.Where("u"))
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		if nodes = len(lc.Where("u")); nodes < 2 {
			return fmt.Errorf("u runs on %v", lc.Where("u"))
		}
		return nil
	})
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		out := lc.must("status")
		want := []string{"* Clone Set: u-clone [u] (unique):\n"}
		for i := 0; i < nodes; i++ {
			want = append(want, fmt.Sprintf("* u:%d\t(example:process):\t Started ", i))
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				return fmt.Errorf("status does not show %q:\n%s", w, out)
			}
		}
		return nil
	})
	if out := lc.must("resource", "config", "u"); !strings.Contains(out, "Meta Attrs: globally-unique=true") {
		t.Errorf("resource config u:\n%s", out)
	}

	lc.must(create("w", "globally-unique=true", "clone-max=4", "clone-node-max=2")...)
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		out := lc.must("status")
		if !strings.Contains(out, "* Clone Set: w-clone [w] (unique):\n") {
			return fmt.Errorf("status does not show w-clone:\n%s", out)
		}
		perNode := map[string]int{}
		for i := 0; i < 4; i++ {
			prefix := fmt.Sprintf("* w:%d\t(example:process):\t Started ", i)
			at := strings.Index(out, prefix)
			if at < 0 {
				return fmt.Errorf("status does not show %q:\n%s", prefix, out)
			}
			node, _, _ := strings.Cut(out[at+len(prefix):], "\n")
			perNode[node]++
		}
		if perNode["holly"] != 2 || perNode["benji"] != 2 {
			return fmt.Errorf("w's instances by node %v, want two on each:\n%s", perNode, out)
		}
		return nil
	})

	// cleanup of one instance (RSC:N, as status lists it) clears that
	// instance's failures only; RSC clears every instance's.
	s, err := openSession(lc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ctx := context.Background()
	fs, err := failures.Open(ctx, s.conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ inst, node string }{{"w:1", "holly"}, {"w:2", "benji"}, {"w:3", "benji"}} {
		if _, err := fs.Add(ctx, f.inst, f.node, "monitor", "test failure", false, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if out := lc.must("resource", "cleanup", "w:1"); out != "Cleaned up w:1 on holly (fail-count 1)\n" {
		t.Errorf("cleanup w:1: %q", out)
	}
	left := func() string {
		t.Helper()
		recs, err := fs.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.Resource+"@"+r.Node)
		}
		return strings.Join(out, " ")
	}
	if got := left(); got != "w:2@benji w:3@benji" {
		t.Errorf("fail-counts after cleanup w:1: %q, want w:2 and w:3's", got)
	}
	if _, errs, code := lc.run("resource", "cleanup", "w:4"); code != ExitConfig || !strings.Contains(errs, `resource "w:4": no instance 4: w has clone-max 4 (instances w:0 to w:3)`) {
		t.Errorf("cleanup w:4: exit %d, %q", code, errs)
	}
	if _, errs, code := lc.run("resource", "cleanup", "nosuch:1"); code != ExitConfig || !strings.Contains(errs, "nosuch:1") {
		t.Errorf("cleanup nosuch:1: exit %d, %q", code, errs)
	}
	if got := left(); got != "w:2@benji w:3@benji" {
		t.Errorf("fail-counts after refused cleanups: %q, want w:2 and w:3's", got)
	}
	if out := lc.must("resource", "cleanup", "w"); !strings.Contains(out, "Cleaned up w:2 on benji") || !strings.Contains(out, "Cleaned up w:3 on benji") {
		t.Errorf("cleanup w: %q", out)
	}
	if got := left(); got != "" {
		t.Errorf("fail-counts after cleanup w: %q, want none", got)
	}
}

// config validate takes clone-node-max > 1 for a globally-unique clone,
// which a live cluster runs, and refuses it for an anonymous one, saying
// why.
func TestConfigValidateCloneNodeMax(t *testing.T) {
	file := func(unique bool) string {
		src := fmt.Sprintf(`[cluster]
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
id = "w"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600" }
[resource.clone]
globally-unique = %t
clone-max = 4
clone-node-max = 2
`, unique)
		path := filepath.Join(t.TempDir(), "c.toml")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	path := file(true)
	out, err := exec.Command(tandemBin, "config", "validate", "--no-agents", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), path+": valid: cluster") {
		t.Errorf("unique clone, clone-node-max 2: %v\n%s\nwant it valid", err, out)
	}
	path = file(false)
	cmd := exec.Command(tandemBin, "config", "validate", "--no-agents", path)
	out, _ = cmd.CombinedOutput()
	want := path + `:13: resource "w": clone-node-max 2 needs globally-unique = true: the instances of an anonymous clone are interchangeable, so at most one runs on a node`
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), want) {
		t.Errorf("anonymous clone, clone-node-max 2: exit %d\n%s\nwant exit 1 and %q", cmd.ProcessState.ExitCode(), out, want)
	}
}

// simulate --fail RSC:N@NODE records a failure of that instance of a
// globally-unique clone, and fails that instance alone; an anonymous
// clone's instance is refused, saying why.
func TestSimulateFailInstance(t *testing.T) {
	f, err := config.Parse("c.toml", []byte(`[cluster]
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
id = "w"
agent = "systemd:w"
[resource.clone]
globally-unique = true
clone-max = 4
clone-node-max = 2
[[resource]]
id = "a"
agent = "systemd:a"
[resource.clone]
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := policies.State{Instances: []policies.InstanceState{{Resource: "w", Instance: 0, Node: "holly"}, {Resource: "w", Instance: 2, Node: "holly"}}}
	out, err := withFailure(f.CIB, st, "w:2@holly=3", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Failures) != 1 || out.Failures[0] != (policies.Failure{Resource: "w:2", Node: "holly", Count: 3, Last: now}) {
		t.Errorf("failures %+v, want w:2 on holly, count 3", out.Failures)
	}
	if out.Instances[0].Failed || !out.Instances[1].Failed {
		t.Errorf("instances %+v, want w:2 failed, w:0 not", out.Instances)
	}
	if _, err := withFailure(f.CIB, st, "a:0@holly", now); err == nil || !strings.Contains(err.Error(), `"a:0": a is not a globally-unique clone`) {
		t.Errorf("a:0: got %v, want a refusal", err)
	}
}
