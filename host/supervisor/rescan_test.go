package supervisor_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// install puts a plugin file in place the way the docs say: written
// under another name, then renamed over the old one.
func install(t *testing.T, path, body string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".new-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a log the supervisor writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A plugin installed while the host runs is found and used, without a
// restart of the host; a file added that is not a plugin is logged once,
// with why.
func TestRescanFindsNewPlugin(t *testing.T) {
	dir := t.TempDir()
	var log lockedBuffer
	var mu sync.Mutex
	var news []string
	s := start(t, supervisor.Config{Dir: dir, RescanInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&log, nil)),
		OnNewPlugin: func(name string) { mu.Lock(); news = append(news, name); mu.Unlock() }})
	if got := s.Plugins(); len(got) != 0 {
		t.Fatalf("plugins in an empty dir: %v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, sdk.PluginPrefix+"Upper"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(os.Args[0], filepath.Join(dir, sdk.PluginPrefix+"tplug")); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, 10*time.Millisecond, func() error {
		for _, st := range s.Plugins() {
			if st.Name == "tplug" && st.State == supervisor.StateRunning {
				return nil
			}
		}
		return fmt.Errorf("plugins %v, want tplug running", s.Plugins())
	})
	state := t.TempDir()
	mustRun(t, s, bus.OpStart, request(state, "r"), sdk.OK)
	mustRun(t, s, bus.OpStop, request(state, "r"), sdk.OK)
	if _, err := s.Rescan(); err != nil {
		t.Fatal(err)
	}
	const why = `file of the plugin dir not used" file=tandem-plugin-Upper`
	if n := strings.Count(log.String(), why); n != 1 {
		t.Errorf("the unused file was logged %d times, want once:\n%s", n, log.String())
	}
	mu.Lock()
	if strings.Join(news, " ") != "tplug" {
		t.Errorf("OnNewPlugin called with %v, want [tplug]", news)
	}
	mu.Unlock()
	if !strings.Contains(log.String(), `msg="new plugin found" plugin=tplug`) {
		t.Errorf("no line for the new plugin:\n%s", log.String())
	}
}

// Upgrading a plugin is replacing its file: the host relaunches the
// plugin from the new file (the new version shows in its status, not
// counted as a restart) and runs no start or stop: the resource it
// manages is untouched.
func TestReplacedPluginFileRelaunchedResourcesUntouched(t *testing.T) {
	dir := pluginDir(t, "tplug")
	s := start(t, supervisor.Config{Dir: dir, RescanInterval: 20 * time.Millisecond})
	state := t.TempDir()
	req := request(state, "r")
	mustRun(t, s, bus.OpStart, req, sdk.OK)
	before := status(t, s, "tplug")
	if before.Version != "0.0.1" {
		t.Fatalf("version %q before the upgrade", before.Version)
	}
	opsBefore := ops(t, state)

	// The new file: the same agent, saying it is 0.0.2.
	install(t, filepath.Join(dir, sdk.PluginPrefix+"tplug"),
		fmt.Sprintf("#!/bin/bash\nexport %s=0.0.2\nexec -a %s %q \"$@\"\n", envVersion, sdk.PluginPrefix+"tplug", os.Args[0]))
	poll.Until(t, 20*time.Second, 10*time.Millisecond, func() error {
		st := status(t, s, "tplug")
		if st.State != supervisor.StateRunning || st.Version != "0.0.2" {
			return fmt.Errorf("plugin %s, version %q, want running 0.0.2", st.State, st.Version)
		}
		return nil
	})
	after := status(t, s, "tplug")
	if after.Pid == before.Pid || after.Restarts != 0 || !strings.HasPrefix(after.String(), "tplug: running") {
		t.Errorf("after the upgrade: %q (pid %d before); want a new pid and restarts 0", after.String(), before.Pid)
	}
	mustRun(t, s, bus.OpMonitor, req, sdk.OK)
	if got := ops(t, state); got != opsBefore {
		t.Errorf("the upgrade ran operations: ops before %q, after %q", opsBefore, got)
	}
	mustRun(t, s, bus.OpStop, req, sdk.OK)
}
