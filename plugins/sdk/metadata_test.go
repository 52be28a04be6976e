package sdk_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// A plugin run by hand with "meta-data" prints its meta-data as JSON, with
// durations as text, and that JSON reads back to the same meta-data.
func TestMetaDataCommandPrintsJSON(t *testing.T) {
	for _, args := range [][]string{{"meta-data"}, {"meta-data", "mem"}} {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), envMode+"=serve")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr.String())
		}
		if !strings.Contains(stdout.String(), `"timeout": "5s"`) || !strings.Contains(stdout.String(), `"interval": "10s"`) {
			t.Errorf("%v: durations not written as text:\n%s", args, stdout.String())
		}
		var md sdk.MetaData
		data := stdout.Bytes()
		if len(args) == 1 {
			var all []sdk.MetaData
			if err := json.Unmarshal(data, &all); err != nil || len(all) != 1 {
				t.Fatalf("%v: %v, %d types:\n%s", args, err, len(all), data)
			}
			md = all[0]
		} else if err := json.Unmarshal(data, &md); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, data)
		}
		mon, ok := md.Action("monitor")
		if md.Type != "mem" || len(md.Params) != 3 || !md.Params[0].Required || !ok || mon.Interval != 10*time.Second || mon.Timeout != 5*time.Second {
			t.Errorf("%v: read back %+v", args, md)
		}
	}
	cmd := exec.Command(os.Args[0], "meta-data", "nosuch")
	cmd.Env = append(os.Environ(), envMode+"=serve")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown agent type "nosuch"`) {
		t.Errorf("meta-data nosuch: %v %s", err, out)
	}
}

func TestReloadable(t *testing.T) {
	md := sdk.MetaData{
		Params:  []sdk.ParamSpec{{Name: "a", Reloadable: true}, {Name: "b"}},
		Actions: []sdk.ActionSpec{{Name: "reload"}},
	}
	for _, c := range []struct {
		old, new map[string]string
		ok       bool
		why      string
	}{
		{map[string]string{"a": "1", "b": "1"}, map[string]string{"a": "2", "b": "1"}, true, ""},
		{map[string]string{"a": "1"}, map[string]string{}, true, ""},
		{map[string]string{"a": "1", "b": "1"}, map[string]string{"a": "2", "b": "2"}, false, "parameter b is not reloadable"},
		{map[string]string{}, map[string]string{"c": "1"}, false, "parameter c is not reloadable"},
	} {
		ok, why := md.Reloadable(c.old, c.new)
		if ok != c.ok || why != c.why {
			t.Errorf("%v -> %v: %v %q, want %v %q", c.old, c.new, ok, why, c.ok, c.why)
		}
	}
	md.Actions = nil
	if ok, why := md.Reloadable(map[string]string{"a": "1"}, map[string]string{"a": "2"}); ok || why != "the agent cannot reload" {
		t.Errorf("without a reload action: %v %q", ok, why)
	}
}
