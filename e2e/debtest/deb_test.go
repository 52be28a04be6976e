// Package debtest installs the tandem Debian package (`make deb`) into the
// nodes of an nspawn lab and runs the reference cluster from it: the
// package's units (Type=notify, the watchdog), its /usr/bin/tandem and its
// plugin dir, as an admin following README.md's Install section would.
package debtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/e2e/priv"
	"github.com/tandem-ha/tandem/e2e/scenario"
)

// The lab of this package (TANDEM_DEBTEST_PREFIX and TANDEM_DEBTEST_SUBNET
// move it, for a developer whose session has its own range).
func labOptions() lab.Options {
	prefix, subnet := "tddeb", "198.18.0.64/27"
	if p := os.Getenv("TANDEM_DEBTEST_PREFIX"); p != "" {
		prefix = p
	}
	if s := os.Getenv("TANDEM_DEBTEST_SUBNET"); s != "" {
		subnet = s
	}
	// Tandem is not started from the lab's build directory: the package's
	// units run it, once this test installed it.
	return lab.Options{Prefix: prefix, Subnet: netip.MustParsePrefix(subnet), Relocate: true}
}

// theDeb is $TANDEM_DEB, else a package built now (packaging/deb/build.sh).
func theDeb(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TANDEM_DEB"); p != "" {
		return p
	}
	out, err := exec.Command("../../packaging/deb/build.sh", t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("packaging/deb/build.sh: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

func exec1(t *testing.T, l *lab.Lab, node string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := l.Exec(ctx, node, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func show(t *testing.T, l *lab.Lab, node, unit, prop string) string {
	t.Helper()
	return exec1(t, l, node, "systemctl", "show", "-p", prop, "--value", unit)
}

// The package installs into every member with dpkg, leaves its units
// disabled and stopped, and started by hand they bring the reference
// cluster up (quorum, the VIP serving, both clones) with the package's
// tandem and plugins; a node's tandem.service is active only once the
// member said READY=1; a member whose daemon is frozen (SIGSTOP) misses
// the watchdog and systemd restarts it (NRestarts), after which the
// cluster converges again. Reinstalling the package restarts nothing;
// purging it stops the member and removes its units and data.
func TestPackageInLab(t *testing.T) {
	priv.Require(t, labtest.Tools...)
	deb := theDeb(t)
	st, err := os.Stat(deb)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("package %s: %.1f MB", filepath.Base(deb), float64(st.Size())/1e6)
	// The lab installs nothing itself ($TANDEM_LAB_DEB): this test runs
	// dpkg -i, as an admin would.
	t.Setenv(lab.EnvDeb, "")
	// The reference cluster, with each member's Prometheus endpoint on
	// its loopback.
	ref, err := os.ReadFile(filepath.Join("..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(conf, append(ref, "\n[metrics]\nlisten = \"127.0.0.1:9464\"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := labOptions()
	opts.Config = conf
	l := labtest.Start(t, opts)
	c, err := scenario.New(l)
	if err != nil {
		t.Fatal(err)
	}
	nodes := append([]string(nil), c.Nodes...)
	witness := ""
	for _, m := range l.Members() {
		if m.Witness {
			witness = m.Name
		}
	}
	members := l.Names()
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}

	// Install: the lab's provisioning wrote the member's own cluster.toml
	// and keys; dpkg keeps that cluster.toml (--force-confold, the
	// non-interactive answer to "keep your version"). The unit the
	// provisioning wrote for the build directory goes, so that the
	// package's runs.
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(members))
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := os.WriteFile(filepath.Join(l.RootDir(m), "root", filepath.Base(deb)), data, 0o644); err != nil {
				errs[i] = err
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			if _, err := l.Exec(ctx, m, "rm", "-f", "/etc/systemd/system/tandem.service", "/etc/systemd/system/multi-user.target.wants/tandem.service"); err != nil {
				errs[i] = err
				return
			}
			if _, err := l.Exec(ctx, m, "systemctl", "daemon-reload"); err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = l.Exec(ctx, m, "dpkg", "--force-confold", "-i", "/root/"+filepath.Base(deb))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("dpkg -i on %d members in %s", len(members), time.Since(start).Round(10*time.Millisecond))

	for _, m := range members {
		for _, unit := range []string{"tandem.service", "tandem-witness.service"} {
			if got := show(t, l, m, unit, "UnitFileState"); got != "disabled" {
				t.Errorf("%s: %s is %q after install, want disabled", m, unit, got)
			}
			if got := show(t, l, m, unit, "ActiveState"); got != "inactive" {
				t.Errorf("%s: %s is %q after install, want inactive (the package starts no member)", m, unit, got)
			}
			if got := show(t, l, m, unit, "FragmentPath"); got != "/lib/systemd/system/"+unit {
				t.Errorf("%s: %s comes from %q, want the package's", m, unit, got)
			}
		}
		if got := exec1(t, l, m, "/usr/bin/tandem", "plugin", "list", "--output", "json"); !strings.Contains(got, `"dir":"/usr/lib/tandem/plugins"`) && !strings.Contains(got, `"dir": "/usr/lib/tandem/plugins"`) {
			t.Errorf("%s: the installed tandem's plugin dir: %s", m, got)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Start: the witness, then the nodes, as the README says.
	exec1(t, l, witness, "systemctl", "start", "tandem-witness.service")
	for _, n := range nodes {
		exec1(t, l, n, "systemctl", "enable", "--now", "tandem.service")
	}
	for _, m := range members {
		unit := "tandem.service"
		if m == witness {
			unit = "tandem-witness.service"
		}
		// systemctl start returned: the start job is done, and a
		// Type=notify unit is active only after READY=1.
		if got := show(t, l, m, unit, "ActiveState"); got != "active" {
			t.Fatalf("%s: %s is %q after systemctl start", m, unit, got)
		}
		if got := show(t, l, m, unit, "ExecMainStartTimestampMonotonic"); got == "0" {
			t.Fatalf("%s: %s has no main process", m, unit)
		}
		if status := show(t, l, m, unit, "StatusText"); status == "" {
			t.Errorf("%s: %s has no STATUS= text", m, unit)
		}
		if got := show(t, l, m, unit, "WatchdogUSec"); got != "10s" {
			t.Errorf("%s: %s WatchdogUSec=%s, want 10s", m, unit, got)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := c.WaitConverged(ctx, nodes[0], nodes); err != nil {
		t.Fatalf("the cluster run from the package did not converge: %v", err)
	}
	if err := poll.Wait(time.Minute, 100*time.Millisecond, func() error {
		_, err := c.Get(ctx, time.Second)
		return err
	}); err != nil {
		t.Fatalf("the VIP %s does not answer: %v", c.VIP, err)
	}
	t.Logf("from dpkg -i to the VIP serving: %s", time.Since(start).Round(10*time.Millisecond))
	// The resources run through the package's plugins.
	pids, err := l.ServicePIDs(nodes[0], "tandem.service")
	if err != nil {
		t.Fatal(err)
	}
	var exes []string
	for _, pid := range pids {
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
			exes = append(exes, strings.SplitN(string(cmdline), "\x00", 2)[0])
		}
	}
	if !strings.Contains(strings.Join(exes, " "), "/usr/lib/tandem/plugins/tandem-plugin-") {
		t.Errorf("%s: no plugin of /usr/lib/tandem/plugins runs in tandem.service: %v", nodes[0], exes)
	}

	// The man page is installed, and the member serves its metrics.
	if got := exec1(t, l, nodes[0], "sh", "-c", "zcat /usr/share/man/man1/tandem.1.gz | head -n 5"); !strings.Contains(got, ".TH") {
		t.Errorf("%s: /usr/share/man/man1/tandem.1.gz is no man page: %q", nodes[0], got)
	}
	if got := exec1(t, l, nodes[0], "curl", "-sf", "--max-time", "5", "http://127.0.0.1:9464/metrics"); !strings.Contains(got, "tandem_quorum 1") || !strings.Contains(got, "tandem_resource_state") {
		t.Errorf("%s: the metrics endpoint lacks tandem_quorum 1 or tandem_resource_state:\n%.3000s", nodes[0], got)
	}

	// Logs reach journald by its native protocol: each attribute is a
	// field of its own, with the record's priority.
	checkJournalFields(t, l, nodes[0])

	// An upgrade (the same package again) restarts no member and keeps
	// each unit's enablement.
	pidsBefore := map[string]string{}
	for _, n := range nodes {
		pidsBefore[n] = show(t, l, n, "tandem.service", "MainPID")
		exec1(t, l, n, "dpkg", "--force-confold", "-i", "/root/"+filepath.Base(deb))
		if got := show(t, l, n, "tandem.service", "MainPID"); got != pidsBefore[n] {
			t.Errorf("%s: reinstalling the package restarted tandem (MainPID %s, was %s)", n, got, pidsBefore[n])
		}
		if got := show(t, l, n, "tandem.service", "UnitFileState"); got != "enabled" {
			t.Errorf("%s: tandem.service is %q after reinstalling, want still enabled", n, got)
		}
	}

	// The watchdog: freeze a node's daemon (its plugins run on).
	n := nodes[0]
	before := show(t, l, n, "tandem.service", "MainPID")
	restarts := show(t, l, n, "tandem.service", "NRestarts")
	stopped := time.Now()
	exec1(t, l, n, "kill", "-STOP", before)
	err = poll.Wait(90*time.Second, 200*time.Millisecond, func() error {
		pid := show(t, l, n, "tandem.service", "MainPID")
		nr := show(t, l, n, "tandem.service", "NRestarts")
		state := show(t, l, n, "tandem.service", "ActiveState")
		if nr == restarts || pid == before || pid == "0" || state != "active" {
			return fmt.Errorf("MainPID %s (frozen: %s), NRestarts %s (before: %s), %s", pid, before, nr, restarts, state)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: systemd did not restart the frozen tandem: %v", n, err)
	}
	nr, _ := strconv.Atoi(show(t, l, n, "tandem.service", "NRestarts"))
	t.Logf("%s: frozen tandem restarted by the watchdog after %s (NRestarts %d)", n, time.Since(stopped).Round(10*time.Millisecond), nr)
	if j := exec1(t, l, n, "journalctl", "-u", "tandem.service", "--no-pager", "-q"); !strings.Contains(j, "Watchdog timeout") {
		t.Errorf("%s: no watchdog timeout in tandem.service's journal", n)
	}
	ctx1, cancel1 := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel1()
	if _, err := c.WaitConverged(ctx1, n, nodes); err != nil {
		t.Fatalf("the cluster did not converge after the watchdog restart: %v", err)
	}

	// Purge on the other node: its member stops first (the VIP and the
	// clones go on from the first node), the units and the bus's data go,
	// the admin's keys and certificates stay.
	gone := nodes[1]
	exec1(t, l, gone, "dpkg", "--purge", "tandem")
	if got := show(t, l, gone, "tandem.service", "LoadState"); got != "not-found" {
		t.Errorf("%s: tandem.service is %q after purge, want not-found", gone, got)
	}
	exec1(t, l, gone, "test", "!", "-e", "/var/lib/tandem")
	exec1(t, l, gone, "test", "!", "-e", "/usr/bin/tandem")
	exec1(t, l, gone, "test", "-d", "/etc/tandem/pki")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel2()
	if _, err := c.WaitConverged(ctx2, n, []string{n}); err != nil {
		t.Fatalf("the cluster did not converge on %s after %s's package was purged: %v", n, gone, err)
	}
}

// checkJournalFields reads tandem.service's journal on n as JSON and
// wants entries sent natively: SYSLOG_IDENTIFIER tandem, a PRIORITY, and
// TANDEM_ fields, among them one naming the member.
func checkJournalFields(t *testing.T, l *lab.Lab, n string) {
	t.Helper()
	out := exec1(t, l, n, "journalctl", "-u", "tandem.service", "-o", "json", "--no-pager", "-q", "SYSLOG_IDENTIFIER=tandem")
	var native, withMember int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		fields := 0
		for k := range e {
			if strings.HasPrefix(k, "TANDEM_") {
				fields++
			}
		}
		if fields == 0 || e["PRIORITY"] == nil {
			continue
		}
		native++
		for k, v := range e {
			if strings.HasPrefix(k, "TANDEM_") && v == n {
				withMember++
				break
			}
		}
	}
	if native == 0 {
		t.Errorf("%s: no journal entry of tandem.service carries TANDEM_ fields (native protocol); journalctl -o json said:\n%.2000s", n, out)
		return
	}
	if withMember == 0 {
		t.Errorf("%s: %d native entries, none with a TANDEM_ field naming the member", n, native)
	}
	t.Logf("%s: %d journal entries sent natively, %d naming the member in a field", n, native, withMember)
}
