package alerts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/alerts"
	"github.com/tandem-ha/tandem/policies/cib"
)

// envAgent is an alert agent that appends its CRM_alert_* variables and
// its options, one record per call, to the file named by its recipient.
const envAgent = `#!/bin/sh
{ env | grep -E '^(CRM_alert_|my_option=)' | sort; echo --; } >> "$CRM_alert_recipient"
`

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.sh")
	writeScript(t, p, body)
	return p
}

func writeScript(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// records reads the records envAgent wrote.
func records(path string) []map[string]string {
	data, _ := os.ReadFile(path)
	var out []map[string]string
	cur := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if l == "--" {
			out = append(out, cur)
			cur = map[string]string{}
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok {
			cur[k] = v
		}
	}
	return out
}

func manager(t *testing.T, as ...cib.Alert) *alerts.Manager {
	m := alerts.New(alerts.Config{Node: "holly", Version: "test-1", Alerts: func() []cib.Alert { return as }, Backoff: 10 * time.Millisecond})
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// A real script receives the event in Pacemaker's variables, once per
// recipient, with its options; the timestamp follows timestamp-format.
func TestScriptAgentGetsPacemakerEnvironment(t *testing.T) {
	dir := t.TempDir()
	out1, out2 := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	a := cib.Alert{ID: "log", Path: script(t, envAgent), Options: map[string]string{"my_option": "x y"},
		Meta:       cib.AlertMeta{TimestampFormat: "%Y-%m-%d %H:%M:%S.%3N"},
		Recipients: []cib.Recipient{{ID: "r1", Value: out1}, {ID: "r2", Value: out2, Meta: cib.AlertMeta{TimestampFormat: "%s"}}}}
	m := manager(t, a)
	at := time.Date(2026, 12, 6, 9, 1, 2, 345678000, time.Local)
	ev, ok := alerts.FromAction(bus.ActionResult{Resource: "VIP", Node: "holly", Op: bus.OpStart, Code: 1, Duration: 1500 * time.Millisecond})
	if !ok {
		t.Fatal("a failed start is not alerted")
	}
	ev.Time = at
	m.Send(ev)
	m.Send(alerts.Event{Kind: alerts.KindNode, Node: "benji", NodeID: 2, Desc: "lost", Time: at})
	poll.Until(t, 20*time.Second, 20*time.Millisecond, func() error {
		if n := len(records(out1)) + len(records(out2)); n != 4 {
			return fmt.Errorf("%d records, want 4", n)
		}
		return nil
	})
	rs := records(out1)
	byKind := map[string]map[string]string{}
	for _, r := range rs {
		byKind[r["CRM_alert_kind"]] = r
	}
	want := map[string]string{
		"CRM_alert_kind": "resource", "CRM_alert_node": "holly", "CRM_alert_rsc": "VIP", "CRM_alert_task": "start",
		"CRM_alert_rc": "1", "CRM_alert_target_rc": "0", "CRM_alert_status": "0", "CRM_alert_desc": "Error occurred",
		"CRM_alert_interval": "0", "CRM_alert_exec_time": "1500", "CRM_alert_recipient": out1, "CRM_alert_version": "test-1",
		"CRM_alert_timestamp": "2026-12-06 09:01:02.345", "CRM_alert_timestamp_epoch": fmt.Sprint(at.Unix()),
		"CRM_alert_timestamp_usec": "345678", "my_option": "x y",
	}
	for k, v := range want {
		if got := byKind["resource"][k]; got != v {
			t.Errorf("resource alert: %s = %q, want %q", k, got, v)
		}
	}
	node := byKind["node"]
	for k, v := range map[string]string{"CRM_alert_node": "benji", "CRM_alert_nodeid": "2", "CRM_alert_desc": "lost"} {
		if node[k] != v {
			t.Errorf("node alert: %s = %q, want %q", k, node[k], v)
		}
	}
	if _, has := node["CRM_alert_rsc"]; has {
		t.Errorf("node alert has CRM_alert_rsc: %v", node)
	}
	for _, r := range records(out2) {
		if r["CRM_alert_timestamp"] != fmt.Sprint(at.Unix()) {
			t.Errorf("recipient r2's timestamp-format %%s: got %q", r["CRM_alert_timestamp"])
		}
	}
	// Sequence numbers order the alerts of this member.
	seqs := map[string]bool{}
	for _, r := range append(records(out1), records(out2)...) {
		seqs[r["CRM_alert_node_sequence"]] = true
	}
	if len(seqs) != 4 {
		t.Errorf("node sequences %v: want 4 distinct", seqs)
	}
}

// Pacemaker's own sample agent, unchanged, writes its lines for Tandem's
// events.
func TestPacemakerSampleAgent(t *testing.T) {
	sample, err := filepath.Abs("testdata/alert_file.sh.sample")
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "alerts.log")
	m := manager(t, cib.Alert{ID: "file", Path: sample, Meta: cib.AlertMeta{TimestampFormat: "%H:%M:%S"}, Recipients: []cib.Recipient{{ID: "f", Value: log}}})
	at := time.Date(2026, 12, 6, 9, 1, 2, 0, time.Local)
	send := func(ev alerts.Event, ok bool) {
		if !ok {
			t.Fatalf("event %+v not alerted", ev)
		}
		ev.Time = at
		m.Send(ev)
	}
	send(alerts.FromMonitor(bus.MonitorResult{Resource: "web", Node: "benji", Interval: 10 * time.Second, Code: 7, Changed: true}, false))
	send(alerts.NodeEvent("holly", 1, false), true)
	want := []string{
		"09:01:02: Resource operation 'monitor (10000)' for 'web' on 'benji': Not running",
		"09:01:02: Node 'holly' is now 'lost'",
	}
	poll.Until(t, 20*time.Second, 20*time.Millisecond, func() error {
		data, _ := os.ReadFile(log)
		for _, w := range want {
			if !strings.Contains(string(data), w+"\n") {
				return fmt.Errorf("%s lacks %q:\n%s", log, w, data)
			}
		}
		return nil
	})
}

// What is and is not alerted, as Pacemaker: a probe that finds the
// resource stopped is not, one that finds it running is; a monitor is
// alerted when its result changes; actions that never ran are not.
func TestWhichResultsAreAlerted(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
		ev   alerts.Event
		got  bool
	}{
		{name: "probe stopped", ok: false},
		{name: "probe running", ok: true},
		{name: "cancelled", ok: false},
		{name: "monitor unchanged", ok: false},
		{name: "monitor timed out", ok: true},
	} {
		switch c.name {
		case "probe stopped":
			c.ev, c.got = alerts.FromAction(bus.ActionResult{Op: bus.OpProbe, Code: 7})
		case "probe running":
			c.ev, c.got = alerts.FromAction(bus.ActionResult{Op: bus.OpProbe, Code: 0})
			if c.ev.Task != "monitor" || c.ev.TargetRC != 7 || c.ev.Desc != "OK" {
				t.Errorf("probe found running: %+v, want task monitor, target 7, desc OK", c.ev)
			}
		case "cancelled":
			c.ev, c.got = alerts.FromAction(bus.ActionResult{Op: bus.OpStart, Cancelled: true})
		case "monitor unchanged":
			c.ev, c.got = alerts.FromMonitor(bus.MonitorResult{Code: 0}, false)
		case "monitor timed out":
			c.ev, c.got = alerts.FromMonitor(bus.MonitorResult{Code: 1, TimedOut: true, Changed: true, Interval: time.Second}, true)
			if c.ev.Status != alerts.StatusTimedOut || c.ev.Desc != "Timed out" || c.ev.TargetRC != 8 {
				t.Errorf("timed-out monitor of a promoted instance: %+v", c.ev)
			}
		}
		if c.got != c.ok {
			t.Errorf("%s: alerted %v, want %v", c.name, c.got, c.ok)
		}
	}
}

// An agent that hangs is killed at its timeout with its whole process
// group, and it neither blocks Send nor the alerts queued behind it on
// other workers; its failure is counted.
func TestHangingAgentIsKilledAndBlocksNothing(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	hang := script(t, "#!/bin/sh\nsleep 3600 &\necho $! > "+pidFile+"\nwait\n")
	out := filepath.Join(dir, "ok")
	m := alerts.New(alerts.Config{Node: "holly", Workers: 2, Alerts: func() []cib.Alert {
		return []cib.Alert{
			{ID: "hang", Path: hang, Meta: cib.AlertMeta{Timeout: 500 * time.Millisecond}},
			{ID: "ok", Path: script(t, envAgent), Recipients: []cib.Recipient{{ID: "r", Value: out}}},
		}
	}})
	defer m.Close(context.Background())
	sent := make(chan struct{})
	go func() {
		for range 3 {
			m.Send(alerts.NodeEvent("benji", 2, false))
		}
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(30 * time.Second):
		t.Fatal("Send blocked behind a hanging agent")
	}
	poll.Until(t, 30*time.Second, 20*time.Millisecond, func() error {
		if n := len(records(out)); n != 3 {
			return fmt.Errorf("the good agent ran %d times, want 3", n)
		}
		if f := m.Failed(); f != 3 {
			return fmt.Errorf("%d failed deliveries, want the 3 timed-out calls of hang", f)
		}
		return nil
	})
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(data))
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if st, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
			return fmt.Errorf("the hanging agent's child %s still runs", pid)
		}
		return nil
	})
}

// A flood beyond an alert's queue drops its alerts (counted) instead of
// blocking, and another alert, with a queue of its own, gets every event.
func TestFullQueueDropsOnlyTheSlowAlert(t *testing.T) {
	block := script(t, "#!/bin/sh\nsleep 3600\n")
	out := filepath.Join(t.TempDir(), "ok")
	m := alerts.New(alerts.Config{Node: "holly", Workers: 1, Queue: 2, Alerts: func() []cib.Alert {
		return []cib.Alert{{ID: "slow", Path: block, Meta: cib.AlertMeta{Timeout: time.Hour}},
			{ID: "ok", Path: script(t, envAgent), Recipients: []cib.Recipient{{ID: "r", Value: out}}}}
	}})
	for i := range 10 {
		m.Send(alerts.NodeEvent("benji", 2, true))
		// One at a time, so that the good alert's own queue never fills.
		poll.Until(t, 20*time.Second, 10*time.Millisecond, func() error {
			if n := len(records(out)); n != i+1 {
				return fmt.Errorf("the good alert ran %d times, want %d", n, i+1)
			}
			return nil
		})
	}
	// The slow one: one call runs, two wait in its queue, seven dropped.
	if d := m.Dropped(); d != 7 {
		t.Errorf("dropped %d of the slow alert's 10 with one worker and a queue of 2, want 7", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	m.Close(ctx) // kills the sleeping agents
}

// A bad agent path: the delivery fails with an error naming the alert.
func TestMissingOrNotExecutableAgent(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.sh")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(dir, "missing"): `alert "a": agent ` + filepath.Join(dir, "missing") + " does not exist on this host",
		plain:                         `alert "a": agent ` + plain + " is not executable: chmod +x it",
		dir:                           "is a directory",
	} {
		err := alerts.CheckPath("a", path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckPath(%s) = %v, want %q", path, err, want)
		}
	}
}

// The webhook gets the event as JSON; a 500 is retried (with the same
// Idempotency-Key) until the receiver takes it; a 400 is not retried.
func TestWebhookRetriesAfterServerError(t *testing.T) {
	var mu sync.Mutex
	var got []alerts.Payload
	keys := map[string]int{}
	tries := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		tries++
		keys[r.Header.Get("Idempotency-Key")]++
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		if tries <= 2 {
			http.Error(w, "busy", http.StatusInternalServerError)
			return
		}
		var p alerts.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, p)
	}))
	defer srv.Close()
	m := manager(t, cib.Alert{ID: "hook", Webhook: srv.URL + "/tandem", Options: map[string]string{"team": "ops"}})
	ev, _ := alerts.FromMonitor(bus.MonitorResult{Resource: "web", Node: "benji", Interval: 10 * time.Second, Code: 7, Changed: true, Duration: 20 * time.Millisecond}, false)
	m.Send(ev)
	poll.Until(t, 20*time.Second, 20*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 {
			return fmt.Errorf("%d events received after %d tries", len(got), tries)
		}
		return nil
	})
	mu.Lock()
	p := got[0]
	if tries != 3 || len(keys) != 1 {
		t.Errorf("%d tries with keys %v: want 3 tries of one delivery", tries, keys)
	}
	mu.Unlock()
	if p.Alert != "hook" || p.Kind != "resource" || p.Node != "benji" || p.Rsc != "web" || p.Task != "monitor" ||
		*p.RC != 7 || *p.Interval != 10000 || *p.Status != 0 || p.Desc != "Not running" || p.Options["team"] != "ops" || *p.ExecTime != 20 {
		t.Errorf("payload %+v", p)
	}
	if m.Failed() != 0 {
		t.Errorf("%d failed deliveries, want 0", m.Failed())
	}

	// A refusal is final.
	refused := 0
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		refused++
		mu.Unlock()
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer srv2.Close()
	m2 := manager(t, cib.Alert{ID: "hook2", Webhook: srv2.URL})
	m2.Send(alerts.NodeEvent("holly", 1, true))
	poll.Until(t, 20*time.Second, 20*time.Millisecond, func() error {
		if m2.Failed() != 1 {
			return fmt.Errorf("failed %d", m2.Failed())
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if refused != 1 {
		t.Errorf("a 400 was tried %d times, want 1", refused)
	}
}

// Pacemaker's SNMP sample agent, unchanged, sends its traps for Tandem's
// events (its snmptrap replaced, through its own trap_binary option, by a
// script that records the arguments; nothing is sent).
func TestPacemakerSNMPAgent(t *testing.T) {
	sample, err := filepath.Abs("testdata/alert_snmp.sh.sample")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	traps := filepath.Join(dir, "traps")
	fake := script(t, "#!/bin/sh\nfor a in \"$@\"; do printf '%s|' \"$a\"; done >> "+traps+"\necho >> "+traps+"\n")
	m := manager(t, cib.Alert{ID: "snmp", Path: sample,
		Options:    map[string]string{"trap_binary": fake, "trap_snmp_persistent_dir": filepath.Join(dir, "snmp")},
		Meta:       cib.AlertMeta{TimestampFormat: "%Y-%m-%d,%H:%M:%S.%01N"},
		Recipients: []cib.Recipient{{ID: "nms", Value: "198.18.0.99"}}})
	at := time.Date(2026, 12, 6, 9, 1, 2, 300000000, time.Local)
	for _, ev := range []alerts.Event{
		must(alerts.FromAction(bus.ActionResult{Resource: "VIP", Node: "holly", Op: bus.OpStart, Code: 1})),
		// A successful monitor: the agent sends nothing (trap_monitor_success=false).
		must(alerts.FromMonitor(bus.MonitorResult{Resource: "VIP", Node: "benji", Interval: time.Second, Code: 0, Changed: true}, false)),
		alerts.NodeEvent("holly", 1, false),
	} {
		ev.Time = at
		m.Send(ev)
	}
	poll.Until(t, 20*time.Second, 20*time.Millisecond, func() error {
		if m.Ran() != 3 {
			return fmt.Errorf("%d of 3 calls done", m.Ran())
		}
		return nil
	})
	data, _ := os.ReadFile(traps)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || m.Failed() != 0 {
		t.Fatalf("%d traps (failed calls %d), want 2 (the failed start and the node loss):\n%s", len(lines), m.Failed(), data)
	}
	const p = "PACEMAKER-MIB::pacemakerNotification"
	// Two workers: the traps may come in either order.
	if strings.Contains(lines[0], p+"Description|s|lost|") {
		lines[0], lines[1] = lines[1], lines[0]
	}
	for _, want := range []string{"-v|2c|-c|public|198.18.0.99||" + p + "Trap|", p + "Node|s|holly|", p + "Resource|s|VIP|",
		p + "Operation|s|start|", p + "Description|s|Error occurred|", p + "Status|i|0|", p + "ReturnCode|i|1|", p + "TargetReturnCode|i|0|",
		"HOST-RESOURCES-MIB::hrSystemDate|s|" + at.Format("2006-01-02,15:04:05") + ".3|"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("start trap lacks %q:\n%s", want, lines[0])
		}
	}
	for _, want := range []string{p + "Node|s|holly|", p + "Description|s|lost|"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("node trap lacks %q:\n%s", want, lines[1])
		}
	}
}

func must(ev alerts.Event, ok bool) alerts.Event {
	if !ok {
		panic(fmt.Sprintf("%+v is not alerted", ev))
	}
	return ev
}

// An alert's select limits it to the kinds of event it names (Pacemaker's
// <select>): a node-only alert gets no resource event and the reverse; an
// alert without select gets both.
func TestSelectFiltersKinds(t *testing.T) {
	dir := t.TempDir()
	agent := script(t, envAgent)
	out := map[string]string{}
	var as []cib.Alert
	for _, c := range []struct {
		id  string
		sel []string
	}{{"nodes-only", []string{"nodes"}}, {"resources-only", []string{"resources"}}, {"all", nil}} {
		out[c.id] = filepath.Join(dir, c.id)
		as = append(as, cib.Alert{ID: c.id, Path: agent, Select: c.sel, Recipients: []cib.Recipient{{ID: c.id + "-r", Value: out[c.id]}}})
	}
	m := manager(t, as...)
	ev, ok := alerts.FromAction(bus.ActionResult{Resource: "VIP", Node: "holly", Op: bus.OpStart, Code: 1})
	if !ok {
		t.Fatal("a failed start is not alerted")
	}
	m.Send(ev)
	m.Send(alerts.Event{Kind: alerts.KindNode, Node: "benji", NodeID: 2, Desc: "lost"})
	poll.Until(t, 20*time.Second, 20*time.Millisecond, func() error {
		if n := len(records(out["all"])); n != 2 {
			return fmt.Errorf("the alert without select has %d records, want 2", n)
		}
		return nil
	})
	// The filtered alerts' calls were queued with the others': once
	// "all" has both, the others have had their chance.
	m.Close(context.Background())
	kinds := func(id string) []string {
		var ks []string
		for _, r := range records(out[id]) {
			ks = append(ks, r["CRM_alert_kind"])
		}
		return ks
	}
	if ks := kinds("nodes-only"); len(ks) != 1 || ks[0] != "node" {
		t.Errorf("select nodes: kinds %v, want [node]", ks)
	}
	if ks := kinds("resources-only"); len(ks) != 1 || ks[0] != "resource" {
		t.Errorf("select resources: kinds %v, want [resource]", ks)
	}
}
