package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

const alertsText = `
[[alert]]
id = "file"
path = "/usr/share/pacemaker/alerts/alert_file.sh"
description = "events to a file"
options = { debug_exec_order = false }
meta = { timeout = "15s", timestamp-format = "%H:%M:%S.%06N" }
[[alert.recipient]]
value = "/var/log/cluster-alerts.log"
[[alert.recipient]]
id = "second"
value = "/var/log/other.log"
meta = { timestamp-format = "%c", enabled = false }

[[alert]]
id = "hook"
webhook = "https://alerts.example.com/tandem"
select = ["nodes"]
`

// [[alert]] tables are read into the model (a recipient without id gets
// pcs's default), and written back the same.
func TestAlertsInClusterFile(t *testing.T) {
	f, err := Parse("a.toml", []byte(base+alertsText))
	if err != nil {
		t.Fatal(err)
	}
	no := false
	want := []cib.Alert{
		{ID: "file", Path: "/usr/share/pacemaker/alerts/alert_file.sh", Description: "events to a file",
			Options: map[string]string{"debug_exec_order": "false"}, Meta: cib.AlertMeta{Timeout: 15 * time.Second, TimestampFormat: "%H:%M:%S.%06N"},
			Recipients: []cib.Recipient{{ID: "file-recipient", Value: "/var/log/cluster-alerts.log"},
				{ID: "second", Value: "/var/log/other.log", Meta: cib.AlertMeta{TimestampFormat: "%c", Enabled: &no}}}},
		{ID: "hook", Webhook: "https://alerts.example.com/tandem", Select: []string{"nodes"}},
	}
	if !reflect.DeepEqual(f.CIB.Alerts, want) {
		t.Errorf("alerts:\n%+v\nwant\n%+v", f.CIB.Alerts, want)
	}
	out, err := Encode(f.Topology, f.CIB)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse("b.toml", out)
	if err != nil {
		t.Fatalf("encoded file does not parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(g.CIB.Alerts, want) {
		t.Errorf("round trip:\n%+v\nwant\n%+v\n%s", g.CIB.Alerts, want, out)
	}
}

// Bad alerts are reported at their line, naming the alert.
func TestAlertProblems(t *testing.T) {
	line := strings.Count(base, "\n") + 2 // the [[alert]] line
	for _, c := range []struct{ text, want string }{
		{"[[alert]]\nid = \"a\"\npath = \"alerts/x.sh\"\n", fmt.Sprintf(`a.toml:%d: alert "a": path "alerts/x.sh" is not absolute`, line+2)},
		{"[[alert]]\nid = \"a\"\nwebhook = \"localhost:8080/x\"\n", `alert "a": webhook "localhost:8080/x": want an http:// or https:// URL`},
		{"[[alert]]\nid = \"a\"\nwebhook = \"http:///x\"\n", `alert "a": webhook "http:///x" has no host`},
		{"[[alert]]\nid = \"a\"\n", fmt.Sprintf(`a.toml:%d: alert "a": give path (the agent's absolute path) or webhook (a URL)`, line)},
		{"[[alert]]\nid = \"a\"\npath = \"/x\"\nwebhook = \"http://h/\"\n", `alert "a": give path or webhook, not both`},
		{"[[alert]]\nid = \"a\"\npath = \"/x\"\nmeta = { timestamp-format = \"%H:%Q\" }\n", `alert "a": meta timestamp-format: "%H:%Q": unknown specifier %Q`},
		{"[[alert]]\nid = \"a\"\npath = \"/x\"\nmeta = { timout = \"1s\" }\n", `unknown key "alert.meta.timout" (did you mean "timeout"?)`},
		{"[[alert]]\nid = \"a\"\npath = \"/x\"\n[[alert.recipient]]\nvalue = \"\"\n", fmt.Sprintf(`a.toml:%d: alert "a" recipient "a-recipient": value is missing`, line+4)},
		{"[[alert]]\nid = \"a\"\npath = \"/x\"\noptions = { \"my-opt\" = \"1\" }\n", `alert "a": option "my-opt": an option is an environment variable`},
		{"[[alert]]\nid = \"a b\"\npath = \"/x\"\n", `alert id "a b"`},
		{"[[alert]]\nid = \"a\"\npath = \"/x\"\nselect = [\"node\"]\n", fmt.Sprintf(`a.toml:%d: alert "a": select "node" is not a kind of event: want nodes or resources (did you mean "nodes"?)`, line+3)},
		{"[[alert]]\nid = \"a\"\npath = \"/x\"\nselect = [\"fencing\"]\n", `alert "a": select "fencing": Tandem raises no fencing alerts (it fences with leases`},
		{"[[alert]]\nid = \"a\"\npath = \"/x\"\nselect = [\"nodes\", \"nodes\"]\n", `alert "a": select "nodes" is given twice`},
		{"[[alert]]\nid = \"a\"\npath = \"/x\"\n[[alert]]\nid = \"a\"\npath = \"/y\"\n", `alert "a": duplicate id "a"`},
	} {
		_, err := Parse("a.toml", []byte(base+"\n"+c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %q", c.text, err, c.want)
		}
	}
}
