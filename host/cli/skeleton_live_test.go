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

	installPlugin(t, lc.Plugins, v1)
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
		if _, errs, code := lc.run("resource", "describe", "marker:file"); code != 0 {
			return fmt.Errorf("describe marker:file: exit %d %s", code, errs)
		}
		return nil
	})

	files := t.TempDir()
	out := lc.must("resource", "create", "m", "marker:file", "path="+files+"/{node}/m", "content=hi")
	if want := "Added default operation of m: monitor interval=2s timeout=10s (from the meta-data of marker:file)\n"; out != want {
		t.Errorf("create printed %q, want %q", out, want)
	}
	if cfg := lc.must("resource", "config", "m"); !strings.Contains(cfg, "Operations: monitor interval=2s timeout=10s") {
		t.Errorf("resource config m:\n%s", cfg)
	}
	var node string
	content := func(n string) string {
		b, _ := os.ReadFile(filepath.Join(files, n, "m"))
		return string(b)
	}
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		var on []string
		for _, n := range []string{"holly", "benji"} {
			if content(n) != "" {
				on = append(on, n)
			}
		}
		if len(on) != 1 || content(on[0]) != "hi" {
			return fmt.Errorf("m's file on %v (holly %q, benji %q)", on, content("holly"), content("benji"))
		}
		node = on[0]
		return nil
	})

	// Monitored: a file corrupted behind the cluster's back is found by
	// the advertised monitor and the resource recovered.
	path := filepath.Join(files, node, "m")
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 40*time.Second, 100*time.Millisecond, func() error {
		for _, n := range []string{"holly", "benji"} {
			if content(n) == "garbage" {
				return fmt.Errorf("the corrupted file on %s is not recovered", n)
			}
		}
		if content("holly")+content("benji") != "hi" {
			return fmt.Errorf("m not started again (holly %q, benji %q)", content("holly"), content("benji"))
		}
		return nil
	})
	lc.must("resource", "cleanup")
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		l := lc.must("resource", "list")
		for _, n := range []string{"holly", "benji"} {
			if content(n) == "hi" && strings.Contains(l, "m\t(marker:file):\t Started "+n) {
				node = n
				return nil
			}
		}
		return fmt.Errorf("m not started after cleanup:\n%s", l)
	})
	path = filepath.Join(files, node, "m")

	// A reloadable parameter: reloaded in place.
	if out := lc.must("resource", "update", "m", "content=bye"); out != "Reloaded m on "+node+"\n" {
		t.Errorf("update content printed %q, want %q", out, "Reloaded m on "+node+"\n")
	}
	if got := content(node); got != "bye" {
		t.Errorf("after the reload %s holds %q, want bye", path, got)
	}

	// The upgrade: the new file replaces the old; the plugin is relaunched
	// from it and the resource is neither stopped nor started.
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	installPlugin(t, lc.Plugins, build("0.2.0"))
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
		r := lc.statusReport()
		for _, d := range lc.member(r, node).Daemons {
			if d.Name == "plugin marker" {
				if !strings.Contains(d.State, "running") || !strings.Contains(d.State, "restarts 0, version 0.2.0") {
					return fmt.Errorf("plugin marker on %s: %s", node, d.State)
				}
				return nil
			}
		}
		return fmt.Errorf("no plugin marker on %s: %+v", node, lc.member(r, node).Daemons)
	})
	after, err := os.Stat(path)
	if err != nil {
		t.Fatalf("m's file after the upgrade: %v", err)
	}
	if before.Sys().(*syscall.Stat_t).Ino != after.Sys().(*syscall.Stat_t).Ino || !before.ModTime().Equal(after.ModTime()) {
		t.Errorf("the upgrade rewrote m's file (inode %d mtime %v, then inode %d mtime %v)",
			before.Sys().(*syscall.Stat_t).Ino, before.ModTime(), after.Sys().(*syscall.Stat_t).Ino, after.ModTime())
	}
	if l := lc.must("resource", "list"); !strings.Contains(l, "m\t(marker:file):\t Started "+node) {
		t.Errorf("after the upgrade:\n%s", l)
	}
}
