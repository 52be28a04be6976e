package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
)

// buildSkeleton writes `tandem plugin new marker`'s project outside the
// repository (its go.mod's replace directive pointing at this checkout),
// runs its own tests, and returns a function building its plugin with a
// version.
func buildSkeleton(t *testing.T) func(version string) string {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tandem-plugin-marker")
	root := NewRoot()
	var out strings.Builder
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"plugin", "new", "marker", dir, "--tandem", repo})
	if err := root.Execute(); err != nil {
		t.Fatalf("tandem plugin new: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Next: cd "+dir+" && make test") {
		t.Errorf("plugin new printed:\n%s", out.String())
	}
	// Its module's dependencies all come from this checkout's go.mod and
	// the module cache its build filled.
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	gocmd := func(args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in the new plugin's module: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	gocmd("test", "-count=1", "./...")
	return func(version string) string {
		bin := filepath.Join(t.TempDir(), "tandem-plugin-marker")
		gocmd("build", "-ldflags", "-X example.com/tandem-plugin-marker/agent.Version="+version, "-o", bin, "./cmd/tandem-plugin-marker")
		return bin
	}
}

// installPlugin puts bin into the plugin dir as its docs say: written
// beside, then renamed over the old file.
func installPlugin(t *testing.T, dir, bin string) {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".tandem-plugin-marker.new")
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "tandem-plugin-marker")); err != nil {
		t.Fatal(err)
	}
}

// A plugin author's path, end to end: the skeleton of `tandem plugin new`
// built as a separate module outside the repository, installed into a
// running cluster without restarting it; a resource created without op
// monitor is monitored at the interval the agent advertises; a parameter
// update reloads it; an upgrade of the plugin file relaunches the plugin
// (its new version in status) and leaves the resource untouched.
func TestSkeletonPluginOnLiveCluster(t *testing.T) {
	build := buildSkeleton(t)
	v1 := build("0.1.0")
	lc := newLiveCluster(t)

	// Installed while the cluster runs: each node finds it (listed in its
	// status, idle until used) without a restart.
	installPlugin(t, lc.Plugins, v1)
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
		r := lc.statusReport()
		for _, n := range []string{"holly", "benji"} {
			found := false
			for _, d := range lc.member(r, n).Daemons {
				found = found || d.Name == "plugin marker"
			}
			if !found {
				return fmt.Errorf("%s has not found the plugin: %+v", n, lc.member(r, n).Daemons)
			}
		}
		if _, errs, code := lc.run("resource", "describe", "marker:file"); code != 0 {
			return fmt.Errorf("describe marker:file: exit %d %s", code, errs)
		}
		return nil
	})

	// A clone, one instance per node: a singleton would be lease-fenced,
	// and a lease lost on a starved test machine restarts it, which would
	// blur what the upgrade did.
	files := t.TempDir()
	nodes := []string{"holly", "benji"}
	content := func(n string) string {
		b, _ := os.ReadFile(filepath.Join(files, n, "m"))
		return string(b)
	}
	both := func(want string) func() error {
		return func() error {
			l := lc.must("resource", "list")
			for _, n := range nodes {
				if got := content(n); got != want {
					return fmt.Errorf("m's file on %s holds %q, want %q", n, got, want)
				}
			}
			if !strings.Contains(l, "Started: [ benji holly ]") {
				return fmt.Errorf("m not started on both nodes:\n%s", l)
			}
			return nil
		}
	}
	out := lc.must("resource", "create", "m", "marker:file", "path="+files+"/{node}/m", "content=hi", "clone")
	if want := "Added default operation of m: monitor interval=2s timeout=10s (from the meta-data of marker:file)\n"; !strings.Contains(out, want) {
		t.Errorf("create printed %q, want it to contain %q", out, want)
	}
	if cfg := lc.must("resource", "config", "m"); !strings.Contains(cfg, "Operations: monitor interval=2s timeout=10s") {
		t.Errorf("resource config m:\n%s", cfg)
	}
	poll.Until(t, 30*time.Second, 100*time.Millisecond, both("hi"))

	// Monitored: a file corrupted behind the cluster's back is found by
	// the advertised monitor and the instance recovered.
	if err := os.WriteFile(filepath.Join(files, "holly", "m"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 40*time.Second, 100*time.Millisecond, func() error {
		if got := content("holly"); got != "hi" {
			return fmt.Errorf("the corrupted file on holly holds %q, not recovered", got)
		}
		return nil
	})
	lc.must("resource", "cleanup")
	poll.Until(t, 30*time.Second, 100*time.Millisecond, both("hi"))

	// A reloadable parameter: reloaded in place on each node.
	out = lc.must("resource", "update", "m", "content=bye")
	for _, n := range nodes {
		if !strings.Contains(out, "Reloaded m on "+n+"\n") {
			t.Errorf("update content printed %q, want a line Reloaded m on %s", out, n)
		}
	}
	poll.Until(t, 10*time.Second, 100*time.Millisecond, both("bye"))

	// The upgrade: the new file replaces the old; each node relaunches the
	// plugin from it and neither stops nor starts the instance it runs.
	before := map[string]os.FileInfo{}
	for _, n := range nodes {
		st, err := os.Stat(filepath.Join(files, n, "m"))
		if err != nil {
			t.Fatal(err)
		}
		before[n] = st
	}
	installPlugin(t, lc.Plugins, build("0.2.0"))
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
		r := lc.statusReport()
		for _, n := range nodes {
			found := false
			for _, d := range lc.member(r, n).Daemons {
				if d.Name == "plugin marker" {
					found = true
					if !strings.Contains(d.State, "running") || !strings.Contains(d.State, "restarts 0, version 0.2.0") {
						return fmt.Errorf("plugin marker on %s: %s", n, d.State)
					}
				}
			}
			if !found {
				return fmt.Errorf("no plugin marker on %s: %+v", n, lc.member(r, n).Daemons)
			}
		}
		return nil
	})
	// The text status shows it too, on each node's line.
	text := lc.must("status")
	for _, n := range nodes {
		line := ""
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "  "+n+": ") {
				line = l
			}
		}
		if !strings.Contains(line, "marker@0.2.0") {
			t.Errorf("tandem status: %s's daemon line %q does not show marker@0.2.0:\n%s", n, line, text)
		}
	}
	for _, n := range nodes {
		after, err := os.Stat(filepath.Join(files, n, "m"))
		if err != nil {
			t.Fatalf("m's file on %s after the upgrade: %v", n, err)
		}
		b, a := before[n].Sys().(*syscall.Stat_t), after.Sys().(*syscall.Stat_t)
		if b.Ino != a.Ino || !before[n].ModTime().Equal(after.ModTime()) {
			t.Errorf("the upgrade rewrote m's file on %s (inode %d mtime %v, then inode %d mtime %v)", n, b.Ino, before[n].ModTime(), a.Ino, after.ModTime())
		}
	}
	if err := both("bye")(); err != nil {
		t.Errorf("after the upgrade: %v", err)
	}
}
