package cibimport

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/priv"
	"github.com/tandem-ha/tandem/policies/cib"
)

// wantAlerts is what testdata/alerts.xml imports to.
func wantAlerts() []cib.Alert {
	no := false
	return []cib.Alert{
		{ID: "file", Path: "/usr/share/pacemaker/alerts/alert_file.sh", Description: "every event to a file",
			Options: map[string]string{"debug_exec_order": "false"},
			Meta:    cib.AlertMeta{Timeout: 15 * time.Second, TimestampFormat: "%Y-%m-%d %H:%M:%S.%06N"},
			Recipients: []cib.Recipient{
				{ID: "file-log", Value: "/var/log/cluster-alerts.log"},
				{ID: "file-other", Value: "/var/log/other.log", Meta: cib.AlertMeta{TimestampFormat: "%c", Enabled: &no}},
			}},
		{ID: "snmp", Path: "/usr/share/pacemaker/alerts/alert_snmp.sh",
			Options:    map[string]string{"trap_node_states": "all"},
			Meta:       cib.AlertMeta{TimestampFormat: "%Y-%m-%d,%H:%M:%S.%01N"},
			Recipients: []cib.Recipient{{ID: "snmp-destination", Value: "198.18.0.99"}},
			Select:     []string{"nodes"}},
		{ID: "watch", Path: "/usr/local/bin/watch.sh", Select: []string{"nodes", "resources"}},
		{ID: "mail", Path: "/usr/share/pacemaker/alerts/alert_smtp.sh",
			Options:    map[string]string{"email_sender": "donotreply@example.com"},
			Recipients: []cib.Recipient{{ID: "mail-admin", Value: "admin@example.com"}}},
	}
}

// listed reports whether list has an item of element elem and id whose
// why holds every part.
func listed(list []Item, elem, id string, parts ...string) bool {
	return slices.ContainsFunc(list, func(it Item) bool {
		if it.Element != elem || it.ID != id {
			return false
		}
		for _, p := range parts {
			if !strings.Contains(it.Why, p) {
				return false
			}
		}
		return true
	})
}

// <alerts> is imported: options, meta attributes (timeout,
// timestamp-format, enabled), recipients with their own meta. What the
// model has no place for (a recipient's own options, <select> kinds other than nodes and resources) and what it
// refuses (a relative path, an option that is no environment
// variable, a bad timeout or timestamp format, a recipient value given
// twice, a newline) is listed by element and id, with the model's message.
func TestAlertsImport(t *testing.T) {
	res := parseFile(t, "testdata/alerts.xml")
	if !reflect.DeepEqual(res.CIB.Alerts, wantAlerts()) {
		t.Errorf("alerts:\n%+v\nwant\n%+v", res.CIB.Alerts, wantAlerts())
	}
	if ps := res.CIB.Validate(); len(ps) > 0 {
		t.Errorf("invalid model: %v", ps)
	}
	notes := []struct{ elem, id, why string }{
		{"nvpair", "cib-bootstrap-options-stonith-enabled", "Tandem fences with leases"},
		{"recipient", "file-other", `description "the second log" is not kept`},
		{"select_fencing", "", "Tandem has no fencing alerts"},
	}
	for _, n := range notes {
		if !listed(res.Notes, n.elem, n.id, n.why) {
			t.Errorf("no note %s %q %q; notes:\n%s", n.elem, n.id, n.why, items(res.Notes))
		}
	}
	skipped := []struct {
		elem, id string
		why      []string
	}{
		// <select>: the kinds Tandem has no events of, or the whole alert.
		{"select_attributes", "", []string{`alert "watch" is imported without node-attribute events (standby)`}},
		{"alert", "attrs-only", []string{"chooses only node-attribute events, which Tandem never sends", "it would never be called"}},
		// The model's own messages.
		{"nvpair", "file-options-multiline", []string{`option "template"`, `holds the control character '\n'`}},
		{"alert", "refused", []string{`path "alerts/relative.sh" is not absolute`}},
		{"nvpair", "mail-options-dash", []string{`alert "mail": option "my-opt": an option is an environment variable`}},
		{"nvpair", "mail-meta-timeout", []string{`alert "mail": meta timeout: duration "soon"`}},
		{"nvpair", "mail-meta-typo", []string{`unknown alert meta attribute "timout" (did you mean "timeout"?)`}},
		{"nvpair", "mail-meta-ts", []string{`meta timestamp-format: "%H:%Q": unknown specifier %Q`}},
		{"nvpair", "mail-admin-options-sender", []string{`of recipient "mail-admin": Tandem passes the alert's options to every recipient`}},
		{"recipient", "mail-again", []string{`recipient "mail-admin" already has value "admin@example.com"`}},
		{"alert", "described", []string{`description: "two\nlines" holds the control character`}},
	}
	for _, s := range skipped {
		if !listed(res.Skipped, s.elem, s.id, s.why...) {
			t.Errorf("not listed as skipped: %s %q %q; skipped:\n%s", s.elem, s.id, s.why, items(res.Skipped))
		}
	}
	if len(res.Skipped) != len(skipped) || len(res.Notes) != len(notes) {
		t.Errorf("%d skipped, %d notes; want %d and %d:\nskipped:\n%s\nnotes:\n%s", len(res.Skipped), len(res.Notes), len(skipped), len(notes), items(res.Skipped), items(res.Notes))
	}
	for _, it := range res.Skipped {
		if strings.HasPrefix(it.Why, `alert "`+it.ID+`": `) && it.Element == "alert" {
			t.Errorf("the alert is named twice: %s", it)
		}
	}
}

// An alert's <select> becomes its Select: the node and resource kinds it
// chose; without <select> it gets everything, as in Pacemaker. A <select>
// of neither kind (or an empty one) would never be called: not imported.
func TestAlertSelect(t *testing.T) {
	cases := []struct {
		sel      string
		imported bool
		kinds    []string
		skipped  string
		note     string
	}{
		{"", true, nil, "", ""},
		{"<select><select_resources/><select_nodes/></select>", true, []string{"nodes", "resources"}, "", ""},
		{"<select><select_resources/></select>", true, []string{"resources"}, "", ""},
		{"<select><select_nodes/><select_fencing/></select>", true, []string{"nodes"}, "", "Tandem has no fencing alerts"},
		{"<select><select_fencing/></select>", false, nil, "chooses only fencing events", ""},
		{"<select><select_fencing/><select_attributes/></select>", false, nil, "chooses only fencing and node-attribute events", ""},
		{"<select/>", false, nil, "chooses no event kind", ""},
		{"<select><select_nodes/><select_everything/></select>", true, []string{"nodes"}, "a <select_everything> in a <select> is not an event kind", ""},
	}
	for _, tc := range cases {
		doc := cibDoc(`<alerts><alert id="a" path="/usr/local/bin/a.sh">` + tc.sel + `</alert></alerts>`)
		res, err := Parse("sel.xml", strings.NewReader(doc))
		if err != nil {
			t.Fatalf("%s: %v", tc.sel, err)
		}
		a := res.CIB.Alert("a")
		if got := a != nil; got != tc.imported {
			t.Errorf("%s: imported %v, want %v", tc.sel, got, tc.imported)
		}
		if a != nil && !slices.Equal(a.Select, tc.kinds) {
			t.Errorf("%s: select %q, want %q", tc.sel, a.Select, tc.kinds)
		}
		if tc.skipped == "" && len(res.Skipped) > 0 || tc.skipped != "" && !strings.Contains(items(res.Skipped), tc.skipped) {
			t.Errorf("%s: skipped:\n%s\nwant %q", tc.sel, items(res.Skipped), tc.skipped)
		}
		if tc.note == "" && len(res.Notes) > 0 || tc.note != "" && !strings.Contains(items(res.Notes), tc.note) {
			t.Errorf("%s: notes:\n%s\nwant %q", tc.sel, items(res.Notes), tc.note)
		}
	}
}

// With pcs installed, alerts built with the real pcs alert commands import
// whole, as the same alerts as testdata/alerts.xml's first two, less the
// snmp alert's <select>: pcs has no command that writes one.
func TestAlertsFromPCS(t *testing.T) {
	if testing.Short() {
		t.Skip("pcs takes a few seconds a command (-short)")
	}
	priv.Tools(t, "pcs", "pcs", "cibadmin")
	out := filepath.Join(t.TempDir(), "alerts.xml")
	cmd := exec.Command("sh", "testdata/alerts-pcs.sh", out)
	cmd.Env = append(os.Environ(), "CIB_file=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("alerts-pcs.sh: %v\n%s", err, b)
	}
	res := parseFile(t, out)
	if len(res.Skipped) > 0 || len(res.Notes) > 0 {
		t.Errorf("skipped:\n%s\nnotes:\n%s", items(res.Skipped), items(res.Notes))
	}
	want := wantAlerts()[:2]
	want[1].Select = nil
	if !reflect.DeepEqual(res.CIB.Alerts, want) {
		t.Errorf("alerts:\n%+v\nwant\n%+v", res.CIB.Alerts, want)
	}
}

// testdata/alerts.xml is a valid CIB by Pacemaker's own schema, checked
// with crm_verify when it is installed: the importer's input is what a
// Pacemaker cluster can hold.
func TestAlertsCIBIsValid(t *testing.T) {
	priv.Tools(t, "pacemaker-cli-utils", "crm_verify")
	cmd := exec.Command("crm_verify", "-x", "testdata/alerts.xml")
	cmd.Env = append(os.Environ(), "CIB_file=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("crm_verify: %v\n%s", err, b)
	}
}

// An alert whose id another element of the model has is listed with the
// model's message (Pacemaker's schema refuses it too, but a hand-edited
// file may hold it).
func TestAlertIDInUse(t *testing.T) {
	doc := cibDoc(`<resources><primitive id="web" class="systemd" type="httpd"/></resources><alerts><alert id="web" path="/usr/local/bin/web.sh"/></alerts>`)
	res, err := Parse("web.xml", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CIB.Alerts) != 0 || !listed(res.Skipped, "alert", "web", `id "web" is already used by a resource`) {
		t.Errorf("alerts %+v; skipped:\n%s", res.CIB.Alerts, items(res.Skipped))
	}
}
