package ocf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// OutputCap bounds what is kept of an action's stdout and stderr together:
// the last OutputCap bytes (an agent says what went wrong last). The rest
// is read and dropped, so an agent that prints megabytes costs no memory.
const OutputCap = 64 << 10

// MetaDataCap bounds the meta-data an agent may print; more is refused.
// Real agents print 2-20 KiB (IPaddr2: 12 KiB).
const MetaDataCap = 1 << 20

// waitDelay is how long an action's output pipes stay open after the
// agent exited: a daemon the agent started and that kept its stdout would
// otherwise hold the action open until it exits.
const waitDelay = 500 * time.Millisecond

// OCF exit codes beyond the ones sdk.Code shares (0-7).
const (
	exitRunningPromoted  = 8
	exitFailedPromoted   = 9
	exitDegraded         = 190
	exitDegradedPromoted = 191
)

var exitNames = map[int]string{
	0: "OCF_SUCCESS", 1: "OCF_ERR_GENERIC", 2: "OCF_ERR_ARGS", 3: "OCF_ERR_UNIMPLEMENTED",
	4: "OCF_ERR_PERM", 5: "OCF_ERR_INSTALLED", 6: "OCF_ERR_CONFIGURED", 7: "OCF_NOT_RUNNING",
	8: "OCF_RUNNING_PROMOTED", 9: "OCF_FAILED_PROMOTED", 190: "OCF_DEGRADED", 191: "OCF_DEGRADED_PROMOTED",
}

// exitName is "OCF_ERR_ARGS" for 2, "exit 127" for a code OCF does not
// define.
func exitName(code int) string {
	if n, ok := exitNames[code]; ok {
		return n
	}
	return "exit " + strconv.Itoa(code)
}

// envNameRE is what a parameter name must be to become OCF_RESKEY_<name>.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// invocation is one run of an agent's action.
type invocation struct {
	s        script
	action   string // start, stop, monitor, meta-data, validate-all, reload
	instance string // OCF_RESOURCE_INSTANCE
	params   map[string]string
	meta     map[string]string // OCF_RESKEY_CRM_meta_<key>
	cap      int               // output cap; OutputCap when 0
	shim     string            // a directory put first in PATH (crm_attribute's shim); "" none
	extraEnv []string          // more of the bridge's variables (the shim's)
}

// outcome of one run.
type outcome struct {
	exit     int  // the agent's exit code; -1 when it did not exit by itself
	timedOut bool // killed at the deadline
	output   []byte
	dropped  int64 // bytes of output beyond the cap, not kept
	err      error // could not run at all
	took     time.Duration
}

// env is the agent's environment: the plugin's own without anything of
// OCF, Tandem or go-plugin's, then OCF's API 1.1 variables.
func (in invocation) env() ([]string, error) {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "OCF_") || strings.HasPrefix(k, "TANDEM_") || strings.HasPrefix(k, "PLUGIN_") {
			continue
		}
		if k == "PATH" {
			continue
		}
		out = append(out, kv)
	}
	path := os.Getenv("PATH")
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if !strings.Contains(":"+path+":", ":"+d+":") {
			path += ":" + d
		}
	}
	if in.s.lsb {
		// An init script gets what service(8) gives one: no OCF
		// variables, no parameters.
		return append(out, "PATH="+strings.TrimPrefix(path, ":")), nil
	}
	if in.shim != "" {
		path = in.shim + ":" + path
	}
	out = append(out, in.extraEnv...)
	out = append(out, "PATH="+strings.TrimPrefix(path, ":"),
		"OCF_ROOT="+in.s.root,
		"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_TYPE="+in.s.typ,
		"OCF_RESOURCE_PROVIDER="+in.s.provider,
	)
	if in.instance != "" {
		out = append(out, "OCF_RESOURCE_INSTANCE="+in.instance)
	}
	keys := make([]string, 0, len(in.params))
	for k := range in.params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !envNameRE.MatchString(k) || strings.HasPrefix(k, "CRM_meta_") {
			return nil, fmt.Errorf("%s: parameter name %q cannot be passed as OCF_RESKEY_%s (letters, digits and '_', not starting with a digit; CRM_meta_ is the host's)", in.s.agent, k, k)
		}
		if strings.ContainsRune(in.params[k], 0) {
			return nil, fmt.Errorf("%s: parameter %s holds a NUL byte", in.s.agent, k)
		}
		out = append(out, "OCF_RESKEY_"+k+"="+in.params[k])
	}
	keys = keys[:0]
	for k := range in.meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, "OCF_RESKEY_CRM_meta_"+k+"="+in.meta[k])
	}
	return out, nil
}

// run runs the action until it exits or ctx ends. At ctx's end the whole
// process group of the agent is killed (SIGKILL to -pgid: the agent and
// whatever it forked and did not move out of its group).
func (in invocation) run(ctx context.Context) outcome {
	start := time.Now()
	env, err := in.env()
	if err != nil {
		return outcome{exit: -1, err: err}
	}
	if err := ctx.Err(); err != nil {
		return outcome{exit: -1, timedOut: true, err: fmt.Errorf("%s %s: no time left to run it", in.s.agent, in.action)}
	}
	limit := in.cap
	if limit == 0 {
		limit = OutputCap
	}
	out := &tailBuffer{cap: limit, keepHead: in.action == "meta-data"}
	cmd := exec.CommandContext(ctx, in.s.path, in.action)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the agent's pid (Setpgid with Pgid 0).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	err = cmd.Run()
	o := outcome{exit: -1, output: out.bytes(), dropped: out.dropped, took: time.Since(start)}
	exited := cmd.ProcessState != nil && cmd.ProcessState.Exited()
	if ctx.Err() != nil && !exited {
		o.timedOut = true
		return o
	}
	var ee *exec.ExitError
	switch {
	case err == nil, errors.As(err, &ee) && ee.Exited():
		o.exit = cmd.ProcessState.ExitCode()
	case errors.Is(err, exec.ErrWaitDelay):
		// It exited; something it started kept the output open.
		o.exit = cmd.ProcessState.ExitCode()
	case errors.As(err, &ee):
		o.err = fmt.Errorf("%s %s: %v", in.s.agent, in.action, ee.ProcessState)
	default:
		o.err = fmt.Errorf("%s %s: %v", in.s.agent, in.action, err)
	}
	return o
}

// text is the kept output, trimmed, with a note of what was dropped.
func (o outcome) text() string {
	t := strings.TrimSpace(string(o.output))
	if o.dropped > 0 {
		t = fmt.Sprintf("[%d bytes of output dropped, the last %d KiB kept] %s", o.dropped, OutputCap>>10, t)
	}
	return t
}

// tailBuffer keeps the last cap bytes written (or the first cap bytes when
// keepHead) and counts the rest.
type tailBuffer struct {
	cap      int
	keepHead bool
	buf      bytes.Buffer
	dropped  int64
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if b.keepHead {
		room := b.cap - b.buf.Len()
		if room < len(p) {
			b.dropped += int64(len(p) - max(room, 0))
			p = p[:max(room, 0)]
		}
		b.buf.Write(p)
		return n, nil
	}
	if len(p) >= b.cap {
		b.dropped += int64(b.buf.Len() + len(p) - b.cap)
		b.buf.Reset()
		b.buf.Write(p[len(p)-b.cap:])
		return n, nil
	}
	if over := b.buf.Len() + len(p) - b.cap; over > 0 {
		b.dropped += int64(over)
		b.buf.Next(over)
	}
	b.buf.Write(p)
	return n, nil
}

func (b *tailBuffer) bytes() []byte { return b.buf.Bytes() }
