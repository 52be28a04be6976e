package alerts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MaxOutput bounds what is kept of an agent's output (stdout and stderr
// together) for the log.
const MaxOutput = 4096

// CheckPath says whether path can be run as an alert agent on this host:
// an absolute path to an executable regular file. The error names alert.
func CheckPath(alert, path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("alert %q: agent %s does not exist on this host: install it there (every node runs it)", alert, path)
	case err != nil:
		return fmt.Errorf("alert %q: agent %s: %w", alert, path, err)
	case st.IsDir():
		return fmt.Errorf("alert %q: agent %s is a directory, not an executable", alert, path)
	case st.Mode()&0o111 == 0:
		return fmt.Errorf("alert %q: agent %s is not executable: chmod +x it", alert, path)
	}
	return nil
}

// exec runs the agent of d with the event in its environment: the
// daemon's environment without its own CRM_ variables, the alert's
// options, then the CRM_alert_* variables. The agent runs in a process
// group of its own, killed whole when ctx ends (its timeout).
func (m *Manager) exec(ctx context.Context, d delivery) (string, error) {
	if err := CheckPath(d.alert.ID, d.alert.Path); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, d.alert.Path)
	cmd.Dir = "/"
	cmd.Env = agentEnv(os.Environ(), d.alert.Options, m.env(d))
	out := &capped{max: MaxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A child that keeps the output open past the agent's end does not
	// hold the worker.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return out.String(), fmt.Errorf("timed out after %s (meta timeout), killed", d.meta.Timeout)
	case ctx.Err() != nil:
		return out.String(), fmt.Errorf("killed: the member is stopping")
	case err != nil:
		return out.String(), err
	}
	return out.String(), nil
}

// agentEnv is base without CRM_* variables, then options, then the
// event's variables (which an option cannot override).
func agentEnv(base []string, options, event map[string]string) []string {
	var env []string
	for _, kv := range base {
		if !strings.HasPrefix(kv, "CRM_") {
			env = append(env, kv)
		}
	}
	for _, m := range []map[string]string{options, event} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			env = append(env, k+"="+m[k])
		}
	}
	return env
}

// capped keeps the first max bytes written to it, and counts the rest.
type capped struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - len(c.buf)
	if room >= len(p) {
		c.buf = append(c.buf, p...)
	} else {
		c.buf = append(c.buf, p[:max(room, 0)]...)
		c.dropped += len(p) - max(room, 0)
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.TrimSpace(string(c.buf))
	if c.dropped > 0 {
		s += fmt.Sprintf(" ... (%d more bytes)", c.dropped)
	}
	return s
}
