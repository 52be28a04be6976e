package labtest_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
)

// This package's lab: prefix tdlab on 198.18.0.32/27 (e2e/cluster.toml
// relocated: holly .54, benji .56, director .62, bridge .33).
var opts = lab.Options{Prefix: "tdlab", Subnet: netip.MustParsePrefix("198.18.0.32/27"), Relocate: true}

// checkFor polls check every interval until it returns nil, failing the
// test with its last error after total.
// get fetches a page from the host (bounded by a short client timeout).
func get(addr netip.Addr) (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr.String() + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET http://%s/: %s", addr, resp.Status)
	}
	return string(body), nil
}

func exec(t *testing.T, l *lab.Lab, node string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := l.Exec(ctx, node, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLab boots the three hosts of the reference cluster, checks each one's
// set-up and Apache pages from the host, cuts and heals benji, kills it hard
// and sees it gone, and restarts it.
func TestLab(t *testing.T) {
	l := labtest.Start(t, opts)
	holly, benji := l.NodeAddr("holly"), l.NodeAddr("benji")
	if want := netip.MustParseAddr("198.18.0.54"); holly != want {
		t.Fatalf("holly's address %s, want %s (relocated from e2e/cluster.toml)", holly, want)
	}

	key := exec(t, l, "director", "sha256sum", "/etc/tandem/cluster.key")
	for _, name := range l.Names() {
		if got := strings.TrimSpace(exec(t, l, name, "hostname")); got != name {
			t.Errorf("hostname of %s: %q", name, got)
		}
		if got := exec(t, l, name, "sha256sum", "/etc/tandem/cluster.key"); got != key {
			t.Errorf("%s's cluster secret differs from director's", name)
		}
		if got := strings.TrimSpace(exec(t, l, name, "stat", "-c", "%a", "/etc/tandem/pki/"+name+".key", "/etc/tandem/pki/admin.key")); got != "600\n600" {
			t.Errorf("%s's certificate keys have modes %q, want 600", name, got)
		}
		exec(t, l, name, l.TandemPath(), "--help")
		exec(t, l, name, "systemctl", "cat", l.Unit(name))
		// The cluster owns Apache and HAProxy: installed, not enabled.
		for _, unit := range []string{"apache2", "haproxy", strings.TrimSuffix(l.Unit(name), ".service")} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			out, _ := l.Exec(ctx, name, "systemctl", "is-enabled", unit)
			cancel()
			if strings.TrimSpace(out) != "disabled" {
				t.Errorf("%s: %s.service is %q at boot, want disabled", name, unit, strings.TrimSpace(out))
			}
		}
		addrs, err := l.Addrs(name)
		if err != nil || len(addrs) != 1 || addrs[0] != netip.PrefixFrom(l.NodeAddr(name), 27) {
			t.Errorf("Addrs(%s) = %v, %v; want [%s/27]", name, addrs, err, l.NodeAddr(name))
		}
	}
	// What the VIP plugin and HAProxy need: CAP_NET_ADMIN for a service of
	// the node's systemd (not just for Exec, which has the host's), and
	// non-local binds.
	vip := netip.MustParsePrefix("198.18.0.55/32")
	exec(t, l, "holly", "systemd-run", "--wait", "--quiet", "ip", "addr", "add", vip.String(), "dev", "eth0")
	if addrs, err := l.Addrs("holly"); err != nil || len(addrs) != 2 || addrs[1] != vip {
		t.Errorf("Addrs(holly) after adding the VIP = %v, %v; want [198.18.0.54/27 %s]", addrs, err, vip)
	}
	exec(t, l, "holly", "systemd-run", "--wait", "--quiet", "ip", "addr", "del", vip.String(), "dev", "eth0")
	if got := strings.TrimSpace(exec(t, l, "benji", "cat", "/proc/sys/net/ipv4/ip_nonlocal_bind")); got != "1" {
		t.Errorf("benji's net.ipv4.ip_nonlocal_bind = %s, want 1", got)
	}
	if out := exec(t, l, "director", "cat", "/etc/tandem/cluster.toml"); !strings.Contains(out, `address = "198.18.0.62"`) {
		t.Errorf("director's cluster file is not the relocated copy:\n%s", out)
	}

	for _, node := range []string{"holly", "benji"} {
		exec(t, l, node, "systemctl", "start", "apache2.service")
		addr := l.NodeAddr(node)
		want := "Hello " + strings.ToUpper(node[:1]) + node[1:] + "\n"
		poll.Until(t, 20*time.Second, 100*time.Millisecond, poll.About("Apache on "+node, func() error {
			body, err := get(addr)
			if err == nil && body != want {
				err = fmt.Errorf("http://%s/ says %q, want %q", addr, body, want)
			}
			return err
		}))
	}

	// The Vagrant path of the shared provisioning: node.sh on a booted
	// host (live systemctl, tandem started), here on director.
	scratch := filepath.Join(l.RootDir("director"), "root", "prov")
	files := map[string]string{
		filepath.Join("..", "..", "vagrant", "provision", "node.sh"):  "node.sh",
		filepath.Join("..", "..", "vagrant", "provision", "packages"): "packages",
		l.ConfigFile(): "cluster.toml",
		l.KeyFile():    "cluster.key",
	}
	if l.Packaged() {
		files[l.Package()] = "tandem.deb"
	}
	for src, dst := range files {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(scratch, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(scratch, dst), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.MemberPKI("director", filepath.Join(scratch, "pki")); err != nil {
		t.Fatal(err)
	}
	args := []string{"sh", "/root/prov/node.sh", "--name", "director", "--role", "witness",
		"--address", l.NodeAddr("director").String(), "--config", "/root/prov/cluster.toml",
		"--pki", "/root/prov/pki", "--key", "/root/prov/cluster.key", "--start-tandem"}
	for _, m := range l.Members() {
		args = append(args, "--member", m.Name+"="+m.Addr.String())
	}
	if l.Packaged() {
		args = append(args, "--deb", "/root/prov/tandem.deb")
	}
	exec(t, l, "director", args...)
	unit := l.Unit("director")
	if out := strings.TrimSpace(exec(t, l, "director", "systemctl", "is-enabled", unit)); out != "enabled" {
		t.Errorf("%s on director after node.sh --start-tandem: %s", unit, out)
	}
	poll.Until(t, 20*time.Second, 200*time.Millisecond, poll.About("tandem witness on director", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := l.Exec(ctx, "director", "systemctl", "is-active", unit)
		return err
	}))
	exec(t, l, "director", "systemctl", "disable", "--now", unit)

	// From here on a poller reads every host's addresses every 50 ms, as
	// a safety checker does, across cut, kill and restart.
	stop, polled := make(chan struct{}), make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				if n == 0 {
					polled <- fmt.Errorf("Addrs was never polled")
				}
				close(polled)
				return
			case <-time.After(50 * time.Millisecond):
			}
			for _, name := range l.Names() {
				if _, err := l.Addrs(name); err != nil {
					polled <- err
					close(polled)
					return
				}
			}
			n++
		}
	}()
	defer func() {
		close(stop)
		if err := <-polled; err != nil {
			t.Errorf("polling Addrs: %v", err)
		}
	}()

	// Cut: benji is unreachable both ways, though its link stays up; heal.
	if err := l.Cut("benji"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if _, err := l.Exec(ctx, "holly", "ping", "-c", "1", "-W", "1", benji.String()); err == nil {
		t.Error("holly still reaches benji after Cut")
	}
	if _, err := l.Exec(ctx, "benji", "ping", "-c", "1", "-W", "1", holly.String()); err == nil {
		t.Error("benji still reaches holly after Cut")
	}
	cancel()
	if _, err := get(benji); err == nil {
		t.Error("the host still reaches benji's Apache after Cut")
	}
	if err := l.Heal("benji"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, 100*time.Millisecond, poll.About("benji after Heal", func() error {
		_, err := get(benji)
		return err
	}))

	// Kill: every process gone at once, nothing answers for its address.
	start := time.Now()
	if err := l.Kill("benji"); err != nil {
		t.Fatal(err)
	}
	t.Logf("benji killed in %s", time.Since(start).Round(time.Millisecond))
	if l.Running("benji") {
		t.Error("benji still running after Kill")
	}
	if addrs, err := l.Addrs("benji"); err != nil || len(addrs) != 0 {
		t.Errorf("Addrs(benji) after Kill = %v, %v; want none", addrs, err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	if _, err := l.Exec(ctx, "holly", "ping", "-c", "1", "-W", "1", benji.String()); err == nil {
		t.Error("benji still answers ping after Kill")
	}
	cancel()
	if _, err := get(benji); err == nil {
		t.Error("benji's Apache still answers after Kill")
	}
	if j := l.Journal("benji"); !strings.Contains(j, "Started apache2.service") {
		t.Errorf("benji's journal after Kill lacks Apache's start:\n%s", j)
	}
	if body, err := get(holly); err != nil || body != "Hello Holly\n" {
		t.Errorf("holly after benji's kill: %q, %v", body, err)
	}

	// Restart: benji boots again with its state; Apache is not enabled.
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := l.Restart(ctx, "benji"); err != nil {
		t.Fatal(err)
	}
	exec(t, l, "benji", "systemctl", "start", "apache2.service")
	poll.Until(t, 20*time.Second, 100*time.Millisecond, poll.About("Apache on benji after Restart", func() error {
		body, err := get(benji)
		if err == nil && body != "Hello Benji\n" {
			err = fmt.Errorf("benji says %q", body)
		}
		return err
	}))
}

// BenchmarkAddrs measures Lab.Addrs, which safety checkers call for every
// node every few tens of milliseconds.
func BenchmarkAddrs(b *testing.B) {
	l := labtest.Start(b, opts)
	if _, err := l.Addrs("holly"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Addrs("holly"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExec measures a trivial command run inside a node.
func BenchmarkExec(b *testing.B) {
	l := labtest.Start(b, opts)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Exec(ctx, "holly", "true"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCleanupAfterCrash: a lab whose owner died without Down (and whose
// state file is gone too) is removed completely by Cleanup, which Up runs
// first, by the names its prefix gives everything.
func TestCleanupAfterCrash(t *testing.T) {
	l := labtest.Start(t, opts)
	machines := l.Names()
	if err := os.Remove(filepath.Join(l.StateDir(), "lab.json")); err != nil {
		t.Fatal(err)
	}
	if err := lab.Cleanup(opts.Prefix); err != nil {
		t.Fatal(err)
	}
	links, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, lk := range links {
		if strings.HasPrefix(lk.Name, opts.Prefix+"-") {
			t.Errorf("link %s left", lk.Name)
		}
	}
	for _, name := range machines {
		if _, err := os.Stat("/run/netns/" + opts.Prefix + "-" + name); err == nil {
			t.Errorf("network namespace of %s left", name)
		}
		if l.Running(name) {
			t.Errorf("%s still running", name)
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), l.StateDir()) {
		t.Errorf("mounts left under %s", l.StateDir())
	}
	if _, err := os.Stat(l.StateDir()); !os.IsNotExist(err) {
		t.Errorf("state directory %s left: %v", l.StateDir(), err)
	}
}
