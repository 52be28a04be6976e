package systemd

import (
	"context"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

func TestUnitName(t *testing.T) {
	ok := map[string]string{
		"apache2":           "apache2.service",
		"apache2.service":   "apache2.service",
		" httpd ":           "httpd.service",
		"getty@tty1":        "getty@tty1.service",
		"foo.bar":           "foo.bar.service",
		"sshd.socket":       "sshd.socket",
		"multi-user.target": "multi-user.target",
	}
	for in, want := range ok {
		got, err := UnitName(in)
		if err != nil || got != want {
			t.Errorf("UnitName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                       "no unit named",
		"a b":                    "not allowed",
		"x/y":                    "not allowed",
		".service":               "no name",
		"@x":                     "no name",
		"user.slice":             "units only",
		"a@b@c":                  "more than one @",
		strings.Repeat("a", 250): "255",
	}
	for in, want := range bad {
		_, err := UnitName(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("UnitName(%q) error = %v; want one saying %q", in, err, want)
		}
	}
}

func TestDropIn(t *testing.T) {
	got := DropIn("apache2.service")
	for _, want := range []string{"[Unit]\nDescription=Cluster Controlled apache2\n", "\n[Service]\nRestart=no\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("drop-in lacks %q:\n%s", want, got)
		}
	}
	if got := DropIn("haproxy.service", `Environment="CONFIG=/run/x.cfg"`); !strings.HasSuffix(got, "Restart=no\nEnvironment=\"CONFIG=/run/x.cfg\"\n") {
		t.Errorf("extra lines not in [Service]:\n%s", got)
	}
	got = DropInRestarting("haproxy.service", DefaultRestarts, `Environment="CONFIG=/run/x.cfg"`)
	for _, want := range []string{"[Unit]\nDescription=Cluster Controlled haproxy\nStartLimitIntervalSec=60s\nStartLimitBurst=5\n",
		"\n[Service]\nRestart=on-failure\nRestartSec=100ms\nEnvironment=\"CONFIG=/run/x.cfg\"\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("restarting drop-in lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Restart=no") {
		t.Errorf("restarting drop-in says Restart=no:\n%s", got)
	}
	if got := DropIn("sshd.socket"); strings.Contains(got, "[Service]") {
		t.Errorf("a socket unit got a [Service] section:\n%s", got)
	}
	if p := DropInPath("/run/systemd/system", "apache2.service"); p != "/run/systemd/system/apache2.service.d/50-tandem.conf" {
		t.Errorf("DropInPath = %s", p)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		s    UnitState
		want sdk.Code
		msg  string
	}{
		{UnitState{LoadState: "loaded", ActiveState: "active", SubState: "running"}, sdk.OK, "active (running)"},
		{UnitState{LoadState: "loaded", ActiveState: "active", SubState: "exited"}, sdk.OK, "exited"},
		{UnitState{LoadState: "loaded", ActiveState: "reloading", SubState: "reload"}, sdk.OK, "reloading"},
		{UnitState{LoadState: "loaded", ActiveState: "inactive", SubState: "dead"}, sdk.NotRunning, "inactive"},
		{UnitState{LoadState: "loaded", ActiveState: "failed", SubState: "failed", Result: "signal", ExecMainCode: 2, ExecMainStatus: 9}, sdk.ErrGeneric, "killed by signal 9"},
		{UnitState{LoadState: "loaded", ActiveState: "failed", SubState: "failed", Result: "exit-code", ExecMainCode: 1, ExecMainStatus: 3}, sdk.ErrGeneric, "exited with status 3"},
		{UnitState{LoadState: "loaded", ActiveState: "activating", SubState: "start"}, sdk.ErrGeneric, "still activating"},
		{UnitState{LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}, sdk.NotRunning, "not installed"},
		{UnitState{LoadState: "masked", ActiveState: "inactive"}, sdk.NotRunning, "masked"},
		{UnitState{LoadState: "masked", ActiveState: "active", SubState: "running"}, sdk.OK, "active (running); the unit is masked"},
	}
	for _, c := range cases {
		c.s.Unit = "u.service"
		r := Classify(c.s)
		if r.Code != c.want || !strings.Contains(r.Message, c.msg) {
			t.Errorf("Classify(%+v) = %v %q; want %v with %q", c.s, r.Code, r.Message, c.want, c.msg)
		}
	}
	for typ, want := range map[string]bool{"simple": true, "exec": true, "idle": true, "forking": false, "notify": false, "oneshot": false, "dbus": false, "": false} {
		if got := (UnitState{Type: typ}).SpawnOnly(); got != want {
			t.Errorf("SpawnOnly of Type=%q: %v", typ, got)
		}
	}
	if restartWarning(UnitState{Unit: "u.service", Restart: "no"}, "no") != "" || restartWarning(UnitState{Unit: "u.socket"}, "no") != "" ||
		!strings.Contains(restartWarning(UnitState{Unit: "u.service", Restart: "always"}, "no"), "Restart=always") {
		t.Error("restartWarning")
	}
	// The haproxy agent's drop-in asks for on-failure: no warning for it,
	// one for an override back to always.
	want := restartOf(DropInRestarting("haproxy.service", DefaultRestarts))
	if want != "on-failure" || restartOf(DropIn("apache2.service")) != "no" {
		t.Errorf("restartOf: %q", want)
	}
	if restartWarning(UnitState{Unit: "haproxy.service", Restart: "on-failure"}, want) != "" ||
		!strings.Contains(restartWarning(UnitState{Unit: "haproxy.service", Restart: "always"}, want), "not the Restart=on-failure") {
		t.Error("restartWarning with Restart=on-failure wanted")
	}
	if !(UnitState{UnitFileState: "enabled"}).EnabledAtBoot() || (UnitState{UnitFileState: "disabled"}).EnabledAtBoot() {
		t.Error("EnabledAtBoot")
	}
}

func TestMetaDataAndInfo(t *testing.T) {
	a := New()
	defer a.Close()
	for _, p := range sdktest.InfoProblems(a.Info()) {
		t.Error(p)
	}
	for _, typ := range []string{"apache2", "haproxy.service"} {
		md, err := a.MetaData(typ)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range sdktest.MetaDataProblems(md, typ) {
			t.Error(p)
		}
	}
	if _, err := a.MetaData("a b"); err == nil {
		t.Error("meta-data of a bad unit name: no error")
	}
}

// Validate refuses what is wrong before asking systemd (this host has none).
func TestValidateWithoutSystemd(t *testing.T) {
	a := New()
	defer a.Close()
	ctx := context.Background()
	if r := a.Validate(ctx, sdk.ValidateRequest{AgentType: "apache2", Params: map[string]string{"config": "/x"}}); r.Code != sdk.ErrNotConfigured || !strings.Contains(r.Message, `"config"`) {
		t.Errorf("unknown param: %v %q", r.Code, r.Message)
	}
	if r := a.Validate(ctx, sdk.ValidateRequest{AgentType: "apache2", Params: map[string]string{"config_file": "/x"}}); r.Code != sdk.ErrNotConfigured || !strings.Contains(r.Message, `unknown parameter "config_file": did you mean configfile?`) {
		t.Errorf("a misspelt configfile: %v %q", r.Code, r.Message)
	}
	// configfile (the seed's httpd line) must name an existing file.
	for _, f := range []string{"/nonexistent/httpd.conf", "relative.conf", t.TempDir()} {
		if r := a.Validate(ctx, sdk.ValidateRequest{AgentType: "apache2", Params: map[string]string{"configfile": f}}); r.Code != sdk.ErrNotConfigured || !strings.Contains(r.Message, "configfile") {
			t.Errorf("configfile=%s: %v %q", f, r.Code, r.Message)
		}
	}
	if r := a.Validate(ctx, sdk.ValidateRequest{AgentType: "a b"}); r.Code != sdk.ErrNotConfigured {
		t.Errorf("bad name: %v %q", r.Code, r.Message)
	}
}
