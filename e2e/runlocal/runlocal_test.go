// Package runlocal tests the plugin author's dev recipe: `make run
// PLUGIN_DIR=...` (e2e/run-local.sh) starts the loopback cluster with a
// plugin of one's own beside the first-party ones.
package runlocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
)

// portBase is where the test's members listen (24110 to 24115), away
// from the script's default ports, which a developer's own `make run` may
// hold.
const portBase = 24110

// The dev recipe of plugins/sdk/README.md, as an author runs it: the
// example plugin built outside the repository's bin, `make run
// PLUGIN_DIR=that dir` from the checkout, then a resource of the plugin's
// agent. The plugin is listed in the plugin dir, the resource runs (its
// process is alive), and `tandem status` shows the plugin with its
// version on both nodes. The cluster is stopped at the end, also when the
// test fails.
func TestMakeRunWithPluginDir(t *testing.T) {
	for _, tool := range []string{"make", "bash", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: %v", tool, err)
		}
	}
	for p := portBase; p < portBase+6; p++ {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d (of %d-%d, the test's) is taken: %v", p, portBase, portBase+5, err)
		}
		ln.Close()
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	plugins := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(plugins, "tandem-plugin-example"), "./plugins/sdk/example/cmd/tandem-plugin-example")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the example plugin: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "local")
	state := filepath.Join(dir, "state")
	t.Cleanup(func() {
		stopCluster(t, dir)
		killLeftovers(t, state)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, "make", "-C", repo, "run", "PLUGIN_DIR="+plugins)
	run.Env = append(os.Environ(), "DIR="+dir, "PORT_BASE="+strconv.Itoa(portBase))
	var out bytes.Buffer
	run.Stdout, run.Stderr = &out, &out
	// The script leaves the members running with its output open: wait
	// for make, not for them.
	run.WaitDelay = time.Second
	if err := run.Run(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("make run PLUGIN_DIR=%s: %v\n%s", plugins, err, out.String())
	}
	t.Logf("make run:\n%s", out.String())
	conf := filepath.Join(dir, "cluster.toml")
	if b, err := os.ReadFile(conf); err != nil || !strings.Contains(string(b), "client_port = "+strconv.Itoa(portBase)+"\n") {
		t.Fatalf("%s does not use PORT_BASE %d: %v\n%s", conf, portBase, err, b)
	}
	// plugin list, printed by the script, names the plugin as used.
	if !strings.Contains(out.String(), "tandem-plugin-example") {
		t.Errorf("make run's plugin list does not show tandem-plugin-example:\n%s", out.String())
	}

	tandem := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(repo, "bin", "tandem"), append(args, "--config", conf)...)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	poll.Until(t, 60*time.Second, 500*time.Millisecond, func() error {
		out, err := tandem("resource", "create", "sleeper", "example:process", "command=/bin/sleep", "args=3600", "state_dir="+state+"/{node}")
		if err != nil {
			return fmt.Errorf("resource create: %v: %s", err, out)
		}
		return nil
	})
	var text string
	poll.Until(t, 60*time.Second, 500*time.Millisecond, func() error {
		out, err := tandem("status")
		if err != nil {
			return fmt.Errorf("status: %v: %s", err, out)
		}
		text = out
		if !strings.Contains(out, "sleeper\t(example:process):\t Started") {
			return fmt.Errorf("sleeper not started:\n%s", out)
		}
		for _, n := range []string{"holly", "benji"} {
			if !strings.Contains(line(out, "  "+n+": "), "example@1.0.0") {
				return fmt.Errorf("%s's daemon line does not show example@1.0.0:\n%s", n, out)
			}
		}
		return nil
	})
	pids := pidFiles(t, state)
	if len(pids) != 1 {
		t.Fatalf("want the pid file of one sleeper instance under %s, found %v\n%s", state, pids, text)
	}
	for file, pid := range pids {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Errorf("sleeper's process %d (%s) is not running: %v", pid, file, err)
		}
	}
	if out, err := tandem("resource", "delete", "sleeper"); err != nil {
		t.Errorf("resource delete: %v: %s", err, out)
	}
}

// line returns the first line of text that starts with prefix.
func line(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// pidFiles reads the example agent's pid files under dir (the pid of
// each).
func pidFiles(t *testing.T, dir string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".pid") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		// "PID START-TIME"
		if f := strings.Fields(string(b)); len(f) > 0 {
			if pid, err := strconv.Atoi(f[0]); err == nil && pid > 0 {
				pids[path] = pid
			}
		}
		return nil
	})
	return pids
}

// stopCluster stops the members run-local.sh started from dir (their pids
// are in dir/pids): SIGTERM (each stops its resources on the way out),
// then SIGKILL for any still there after 30 s.
func stopCluster(t *testing.T, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the cluster's pids: %v", err)
		}
		return
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	err = poll.Wait(30*time.Second, 100*time.Millisecond, func() error {
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				return fmt.Errorf("member process %d still running", pid)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("stopping the cluster: %v; killing it", err)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// killLeftovers kills the sleeper processes whose pid files are still
// under state once the cluster is stopped (the members stop what they run
// on the way out; this is for a test that failed midway).
func killLeftovers(t *testing.T, state string) {
	for file, pid := range pidFiles(t, state) {
		if syscall.Kill(pid, 0) == nil {
			if b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm")); err == nil && strings.TrimSpace(string(b)) == "sleep" {
				t.Logf("killing leftover sleeper %d (%s)", pid, file)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}
