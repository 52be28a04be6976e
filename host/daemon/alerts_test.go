package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
)

// recordAgent writes each call's CRM_alert_* variables to a file of its
// own in the recipient directory (the nodes of the test cluster share one
// host, and two agents appending to one file could interleave).
const recordAgent = `#!/bin/sh
f="$CRM_alert_recipient/$(date +%s%N)-$$"
env | grep '^CRM_alert_' | sort > "$f.tmp" && mv "$f.tmp" "$f"
`

// hangAgent marks that it runs, then hangs far past any failover.
const hangAgent = `#!/bin/sh
touch "$CRM_alert_recipient/hanging-$$"
exec sleep 3600
`

type alertRecord map[string]string

func (r alertRecord) String() string {
	if r["CRM_alert_kind"] == "node" {
		return fmt.Sprintf("node %s %s", r["CRM_alert_node"], r["CRM_alert_desc"])
	}
	return fmt.Sprintf("%s %s(%s) on %s: rc=%s %s", r["CRM_alert_rsc"], r["CRM_alert_task"], r["CRM_alert_interval"], r["CRM_alert_node"], r["CRM_alert_rc"], r["CRM_alert_desc"])
}

func readAlertRecords(dir string) []alertRecord {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tmp") && !strings.HasPrefix(e.Name(), "hanging-") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []alertRecord
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		r := alertRecord{}
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				r[k] = v
			}
		}
		out = append(out, r)
	}
	return out
}

// find is the index of the first record matching every key of want, or -1.
func find(rs []alertRecord, want map[string]string) int {
	for i, r := range rs {
		match := true
		for k, v := range want {
			if r[k] != v {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

// A real alert script on a running cluster: it is told that the singleton
// started, that its monitor found it killed behind the cluster's back, and,
// when its node leaves, that the node was lost and the resource started on
// the other node; all with Pacemaker's variables. Another alert, whose
// agent hangs for an hour, is running all along: the failover does not
// wait for it.
func TestAlertsOnFailureAndFailover(t *testing.T) {
	dir := t.TempDir()
	rec, hang := filepath.Join(dir, "rec.sh"), filepath.Join(dir, "hang.sh")
	for p, body := range map[string]string{rec: recordAgent, hang: hangAgent} {
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out, hung := filepath.Join(dir, "records"), filepath.Join(dir, "hung")
	for _, d := range []string{out, hung} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := daemontest.New(t, scenario+fmt.Sprintf(`
[[alert]]
id = "hang"
path = %q
meta = { timeout = "1h" }
[[alert.recipient]]
value = %q

[[alert]]
id = "record"
path = %q
meta = { timestamp-format = "%%Y-%%m-%%d %%H:%%M:%%S.%%3N" }
[[alert.recipient]]
id = "to-dir"
value = %q
`, hang, hung, rec, out))
	c.StartAll()
	var holder string
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		w := c.Where("sleeper")
		if len(w) != 1 {
			return fmt.Errorf("sleeper on %v", w)
		}
		holder = w[0]
		if i := find(readAlertRecords(out), map[string]string{"CRM_alert_kind": "resource", "CRM_alert_rsc": "sleeper", "CRM_alert_task": "start", "CRM_alert_node": holder}); i < 0 {
			return fmt.Errorf("no start of sleeper on %s alerted: %v", holder, readAlertRecords(out))
		}
		return nil
	})
	r := readAlertRecords(out)[find(readAlertRecords(out), map[string]string{"CRM_alert_rsc": "sleeper", "CRM_alert_task": "start", "CRM_alert_node": holder})]
	for k, v := range map[string]string{"CRM_alert_rc": "0", "CRM_alert_target_rc": "0", "CRM_alert_status": "0", "CRM_alert_desc": "OK",
		"CRM_alert_interval": "0", "CRM_alert_recipient": out} {
		if r[k] != v {
			t.Errorf("start alert: %s = %q, want %q (%v)", k, r[k], v, r)
		}
	}
	if len(r["CRM_alert_timestamp"]) != len("2006-01-02 15:04:05.000") || r["CRM_alert_version"] == "" || r["CRM_alert_node_sequence"] == "" {
		t.Errorf("start alert: timestamp %q, version %q, sequence %q", r["CRM_alert_timestamp"], r["CRM_alert_version"], r["CRM_alert_node_sequence"])
	}
	// The hanging agent runs (it was called for the same events).
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		if e, _ := os.ReadDir(hung); len(e) == 0 {
			return fmt.Errorf("the hanging agent was never called")
		}
		return nil
	})

	// Killed behind the cluster's back: the monitor's failure is alerted.
	pid := c.Pids(holder)[holder+"/sleeper"]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		for _, r := range readAlertRecords(out) {
			if r.String() == "sleeper monitor(500) on "+holder+": rc=1 Error occurred" && r["CRM_alert_target_rc"] == "0" && r["CRM_alert_status"] == "0" {
				return nil
			}
		}
		return fmt.Errorf("no failed monitor alerted: %v", readAlertRecords(out))
	})

	// The holder leaves: the other node alerts its loss and the start of
	// sleeper there, while every hanging call still hangs.
	other := map[string]string{"holly": "benji", "benji": "holly"}[holder]
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		if w := c.Where("sleeper"); len(w) != 1 {
			return fmt.Errorf("sleeper on %v after its recovery", w)
		}
		return nil
	})
	c.Stop(holder)
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		rs := readAlertRecords(out)
		lost := find(rs, map[string]string{"CRM_alert_kind": "node", "CRM_alert_node": holder, "CRM_alert_desc": "lost"})
		started := find(rs, map[string]string{"CRM_alert_rsc": "sleeper", "CRM_alert_task": "start", "CRM_alert_node": other, "CRM_alert_rc": "0"})
		if lost < 0 || started < 0 {
			return fmt.Errorf("lost %d, started on %s %d: %v", lost, other, started, rs)
		}
		if id := rs[lost]["CRM_alert_nodeid"]; id != map[string]string{"holly": "1", "benji": "2"}[holder] {
			t.Errorf("nodeid of %s: %q", holder, id)
		}
		return nil
	})
	// Ordering, not timing: the hang agent's first calls started before
	// the failover and none of them has ended (its 1 h timeout), yet the
	// failover's alerts went out through the other alert.
	hanging, _ := os.ReadDir(hung)
	alive := 0
	for _, e := range hanging {
		var p int
		if _, err := fmt.Sscanf(e.Name(), "hanging-%d", &p); err == nil && syscall.Kill(p, 0) == nil {
			alive++
		}
	}
	if alive == 0 {
		t.Errorf("no hanging call alive during the failover; the test shows nothing (%d calls)", len(hanging))
	}
	if got := c.Where("sleeper"); len(got) != 1 || got[0] != other {
		t.Errorf("sleeper on %v, want %s", got, other)
	}
}
