package ocf_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

var (
	lsbOnce sync.Once
	lsbBin  string
	lsbErr  error
)

// lsbPlugin launches tandem-plugin-lsb with init scripts from dir.
func lsbPlugin(t *testing.T, dir string) *sdk.Process {
	t.Helper()
	lsbOnce.Do(func() {
		d := filepath.Dir(pluginBin(t))
		lsbBin = filepath.Join(d, "tandem-plugin-lsb")
		out, err := exec.Command("go", "build", "-o", lsbBin, "github.com/tandem-ha/tandem/plugins/ocf/cmd/tandem-plugin-lsb").CombinedOutput()
		if err != nil {
			lsbErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if lsbErr != nil {
		t.Fatal(lsbErr)
	}
	return sdktest.Launch(t, lsbBin, "TANDEM_LSB_INIT_DIR="+dir)
}

// lsbScript is an init script: it runs while $STATE (a file beside the
// script, named after it) exists; "status" answers what the file
// "<name>.status" says when there is one (to try every LSB status code);
// "start" exits with "<name>.start-exit" when there is one, and sleeps
// when "<name>.hang" exists. It writes its environment to <name>.env.
const lsbScript = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          frob
# Required-Start:    $remote_fs
# Default-Start:     2 3 4 5
# Short-Description: the frobnicator daemon
# Description:       Frobnicates the widgets
#                    of the whole cluster.
### END INIT INFO
self=$(readlink -f "$0")
base=$self
env > "$base.env"
case "$1" in
start)
	[ -f "$base.hang" ] && sleep 300
	[ -f "$base.start-exit" ] && { echo "cannot start: $(cat "$base.start-exit")"; exit "$(cat "$base.start-exit")"; }
	touch "$base.state"; exit 0 ;;
stop) rm -f "$base.state"; exit 0 ;;
status)
	[ -f "$base.status" ] && { echo "status says $(cat "$base.status")"; exit "$(cat "$base.status")"; }
	[ -f "$base.state" ] && { echo "frob is running"; exit 0; }
	echo "frob is not running"; exit 3 ;;
*) echo "Usage: $0 {start|stop|status}"; exit 2 ;;
esac
`

func lsbDir(t *testing.T) (dir, base string) {
	t.Helper()
	dir = t.TempDir()
	base = filepath.Join(dir, "frob")
	if err := os.WriteFile(base, []byte(lsbScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, base
}

func TestLSBConformance(t *testing.T) {
	dir, base := lsbDir(t)
	p := lsbPlugin(t, dir)
	sdktest.Conformance(t, p, sdktest.Resource{ID: "frob", AgentType: "frob", Params: map[string]string{},
		Break: func(sdk.Request) error { return os.Remove(base + ".state") }})
}

// An init script runs as lsb:NAME: start, stop and status with the LSB's
// exit codes (status 3 is stopped, 1 and 2 dead with a pid or lock file
// left: not running, as Pacemaker reads them; 4 unknown: an error), no
// parameters, no OCF variables, its LSB header as its meta-data; a hung
// start is killed at its deadline; a missing script is not installed (and
// not running), a name that is a path is refused.
func TestLSB(t *testing.T) {
	dir, base := lsbDir(t)
	p := lsbPlugin(t, dir)
	if p.PluginInfo.Name != "lsb" {
		t.Errorf("the plugin calls itself %q, want lsb", p.PluginInfo.Name)
	}
	md, err := p.MetaData(context.Background(), "frob")
	if err != nil {
		t.Fatal(err)
	}
	if md.ShortDesc != "the frobnicator daemon" || md.LongDesc != "Frobnicates the widgets of the whole cluster." || len(md.Params) != 0 || len(md.Actions) != 3 || md.Actions[2].Interval != 15*time.Second {
		t.Errorf("meta-data: %+v", md)
	}
	if res, err := p.Validate(context.Background(), sdk.ValidateRequest{AgentType: "frob", Params: map[string]string{"port": "80"}}); err != nil || res.Code != sdk.ErrNotConfigured || !strings.Contains(res.Message, `"port"`) {
		t.Errorf("validate with a parameter: %v %v", res, err)
	}
	if res, err := p.Validate(context.Background(), sdk.ValidateRequest{AgentType: "frob"}); err != nil || res.Code != sdk.OK {
		t.Errorf("validate: %v %v", res, err)
	}

	ctx, cancel, req := request("frob", "frob", map[string]string{}, 10*time.Second)
	defer cancel()
	call := func(name string, f func(context.Context, sdk.Request) (sdk.Result, error), want sdk.Code, msg string) {
		t.Helper()
		res, err := f(ctx, req)
		if err != nil || res.Code != want || !strings.Contains(res.Message, msg) {
			t.Errorf("%s: %v %q, %v; want %v %q", name, res.Code, res.Message, err, want, msg)
		}
	}
	call("probe", p.Monitor, sdk.NotRunning, "frob is not running")
	call("start", p.Start, sdk.OK, "")
	call("monitor", p.Monitor, sdk.OK, "")
	env := readEnv(t, base+".env")
	for k := range env {
		if strings.HasPrefix(k, "OCF_") || strings.HasPrefix(k, "TANDEM_") || k == "HA_SBIN_DIR" {
			t.Errorf("the init script gets %s", k)
		}
	}
	for code, want := range map[string]struct {
		code sdk.Code
		msg  string
	}{
		"1": {sdk.NotRunning, "lsb:frob status: dead, its pid file left behind (exit 1): status says 1"},
		"2": {sdk.NotRunning, "dead, its lock file left behind (exit 2)"},
		"3": {sdk.NotRunning, "status says 3"},
		"4": {sdk.ErrGeneric, "lsb:frob status: unknown (exit 4): status says 4"},
		"9": {sdk.ErrGeneric, "exit 9 (not an LSB status code)"},
	} {
		if err := os.WriteFile(base+".status", []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		call("status exiting "+code, p.Monitor, want.code, want.msg)
	}
	os.Remove(base + ".status")
	call("stop", p.Stop, sdk.OK, "")
	call("monitor after stop", p.Monitor, sdk.NotRunning, "")
	call("stop again", p.Stop, sdk.OK, "")

	if err := os.WriteFile(base+".start-exit", []byte("5"), 0o644); err != nil {
		t.Fatal(err)
	}
	call("start of a script missing its program", p.Start, sdk.ErrNotInstalled, "lsb:frob start: OCF_ERR_INSTALLED (not installed): cannot start: 5")
	os.Remove(base + ".start-exit")
	if err := os.WriteFile(base+".hang", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The call waits longer than the action: the plugin answers once it
	// killed the script.
	hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer hcancel()
	hreq := req
	hreq.Deadline = time.Now().Add(time.Second)
	if res, err := p.Start(hctx, hreq); err != nil || res.Code != sdk.ErrGeneric || !strings.Contains(res.Message, "timed out") {
		t.Errorf("hanging start: %v %v", res, err)
	}
	os.Remove(base + ".hang")

	req.Params = map[string]string{"port": "80"}
	call("start with a parameter", p.Start, sdk.ErrNotConfigured, "init scripts take no parameters")
	req.Params = map[string]string{}
	req.AgentType = "nothere"
	call("probe of a missing script", p.Monitor, sdk.NotRunning, "lsb:nothere is not installed on this node")
	call("start of a missing script", p.Start, sdk.ErrNotInstalled, "no "+filepath.Join(dir, "nothere"))
	req.AgentType = ".."
	call("a name that is a path", p.Start, sdk.ErrNotConfigured, `agent "lsb:.." is not lsb:NAME`)
}
