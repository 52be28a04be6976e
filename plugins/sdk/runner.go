package sdk

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"

	"github.com/hashicorp/go-plugin/runner"
)

// The parent-death signal (Pdeathsig) of a child is tied to the thread
// that forked it, not to the process: if that thread exits, the plugin is
// signalled although the host lives on. Go normally keeps its threads, but
// a goroutine that ends while locked to its thread takes the thread with
// it. So every plugin is forked from one thread kept for that purpose, which
// lives exactly as long as the host.
var (
	forkOnce   sync.Once
	forkThread = make(chan func())
)

func onForkThread(f func() error) error {
	forkOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must not be reused or end
			for f := range forkThread {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	forkThread <- func() { errc <- f() }
	return <-errc
}

// cmdRunner is go-plugin's runner for a local executable, forking from
// the dedicated thread.
type cmdRunner struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr io.ReadCloser
	pid    int
}

var _ runner.Runner = (*cmdRunner)(nil)

func newCmdRunner(cmd *exec.Cmd) (*cmdRunner, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	return &cmdRunner{cmd: cmd, stdout: stdout, stderr: stderr}, nil
}

func (r *cmdRunner) Start(context.Context) error {
	if err := onForkThread(r.cmd.Start); err != nil {
		return err
	}
	r.pid = r.cmd.Process.Pid
	return nil
}

func (r *cmdRunner) Wait(context.Context) error { return r.cmd.Wait() }

func (r *cmdRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (r *cmdRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *cmdRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *cmdRunner) Name() string          { return r.cmd.Path }
func (r *cmdRunner) ID() string            { return strconv.Itoa(r.pid) }

func (r *cmdRunner) Diagnose(context.Context) string {
	return "\nIs it a tandem plugin built with plugins/sdk, for this machine's architecture?"
}

func (r *cmdRunner) PluginToHost(n, a string) (string, string, error) { return n, a, nil }
func (r *cmdRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }
