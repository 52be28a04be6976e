package haproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/vishvananda/netns"

	"github.com/tandem-ha/tandem/e2e/priv"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// IPv6 addresses of these tests: 2001:2::/48 (RFC 5180, benchmarking),
// only inside a namespace of ours.
const (
	v6VIP  = "2001:2::23"
	v6Node = "2001:2::24"
)

func TestNormalizeBind(t *testing.T) {
	good := map[string]string{
		"198.18.0.23:80":          "198.18.0.23:80",
		"[2001:2::23]:80":         "[2001:2::23]:80",
		"[2001:0002:0::0023]:443": "[2001:2::23]:443",
		"[::ffff:198.18.0.23]:80": "198.18.0.23:80",
		"[::]:8080":               "[::]:8080",
		":80":                     ":80",
	}
	for in, want := range good {
		if got, err := normalizeBind(in); err != nil || got != want {
			t.Errorf("normalizeBind(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"2001:2::23:80":     "must be address:port",
		"2001:2::23":        "must be address:port",
		"[fe80::1%eth0]:80": "has a zone",
		"[2001:2::23]:0":    "port must be 1-65535",
		"web:80":            `"web" is not an IP address`,
	}
	for in, want := range bad {
		if _, err := normalizeBind(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("normalizeBind(%q): %v; want an error saying %q", in, err, want)
		}
	}
	if _, err := ParseParams(map[string]string{"bind": "2001:2::23:80"}); err == nil || !strings.Contains(err.Error(), "[2001:2::23]:80 for IPv6") {
		t.Errorf("a bare IPv6 bind: %v; want the bracketed form suggested", err)
	}
}

// ipv6View is a cluster whose nodes have IPv6 addresses, one of them
// written bracketed as cluster.toml may.
var ipv6View = &sdk.ClusterView{
	Nodes: []sdk.NodeView{
		{Name: "holly", Address: "2001:2::22", Online: true},
		{Name: "benji", Address: "[2001:2::24]", Online: true},
		{Name: "director", Address: "198.18.0.25", Online: true},
	},
	Active: map[string][]string{"httpd-clone": {"benji", "holly"}},
}

// The listen section of an IPv6 VIP balancing to IPv6 and IPv4 nodes,
// written out by hand: HAProxy reads [addr]:port in bind and server lines.
func TestRenderIPv6Golden(t *testing.T) {
	p, err := ParseParams(map[string]string{"bind": "[2001:2::23]:80", "backend_clone": "httpd-clone", "backend_port": "8080"})
	if err != nil {
		t.Fatal(err)
	}
	servers, notes := Desired(p, ipv6View)
	if len(notes) != 0 {
		t.Fatalf("notes: %v", notes)
	}
	cfg := Render(p, "web", "/run/tandem/haproxy/web.sock", servers)
	const want = "listen apache\n" +
		"\tbind [2001:2::23]:80 transparent\n" +
		"\tmode http\n" +
		"\toption http-server-close\n" +
		"\toption forwardfor\n" +
		"\tbalance roundrobin\n" +
		"\tdefault-server inter 2s rise 2 fall 3\n" +
		"\tserver holly [2001:2::22]:8080 check\n" +
		"\tserver benji [2001:2::24]:8080 check\n" +
		"\tserver director 198.18.0.25:8080 check disabled\n" // it does not run the clone: held out
	got := cfg[strings.Index(cfg, "listen apache\n"):]
	if got != want {
		t.Errorf("listen section:\n%s\nwant:\n%s", got, want)
	}
}

// HAProxy itself accepts the rendered IPv6 file (haproxy -c; no
// privilege needed, but the binary is).
func TestRenderIPv6AcceptedByHAProxy(t *testing.T) {
	priv.Require(t, "haproxy")
	p, err := ParseParams(map[string]string{"bind": "[2001:2::23]:80", "backend_clone": "httpd-clone", "user": "", "group": "", "chroot": ""})
	if err != nil {
		t.Fatal(err)
	}
	servers, _ := Desired(p, ipv6View)
	dir := t.TempDir()
	path := filepath.Join(dir, "v6.cfg")
	if err := os.WriteFile(path, []byte(Render(p, "v6", filepath.Join(dir, "v6.sock"), servers)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := checkConfig(ctx, DefaultBinary, path); err != nil {
		t.Fatal(err)
	}
}

// listenIn opens a TCP listener inside namespace ns: a socket belongs to
// the namespace of the thread that creates it, and is used from anywhere
// after that.
func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	type result struct {
		l   net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer orig.Close()
		if err := netns.Set(h); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		l, err := net.Listen("tcp", addr)
		// Back in our namespace the thread may serve others again; if not,
		// it stays locked and ends with this goroutine.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		done <- result{l, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, ns, r.err)
	}
	t.Cleanup(func() { r.l.Close() })
	return r.l
}

// End to end in a namespace of ours: HAProxy, run by the plugin process,
// binds an IPv6 VIP and forwards to a node by its IPv6 address.
func TestIPv6VIPServesThroughIPv6Server(t *testing.T) {
	priv.Require(t, "haproxy", "ip", "curl")
	ns := fmt.Sprintf("tdv6hap%d", os.Getpid()%100000)
	_ = exec.Command("ip", "netns", "del", ns).Run() // a leftover of a killed run
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	// nodad: usable at once, no Duplicate Address Detection to wait for.
	run(t, "ip", "-n", ns, "addr", "add", v6VIP+"/128", "dev", "lo", "nodad")
	run(t, "ip", "-n", ns, "addr", "add", v6Node+"/128", "dev", "lo", "nodad")

	l := listenIn(t, ns, "["+v6Node+"]:0")
	port := l.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "Hello Holly\n") })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	p := launchInNetns(t, ns, dir)
	params := map[string]string{"bind": "[" + v6VIP + "]:80", "backend_clone": "httpd-clone", "backend_port": strconv.Itoa(port), "unit": ""}
	view := &sdk.ClusterView{Nodes: []sdk.NodeView{{Name: "holly", Address: v6Node, Online: true}}, Active: map[string][]string{"httpd-clone": {"holly"}}}
	call := func(name string, f func(context.Context, sdk.Request) (sdk.Result, error)) sdk.Result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, _ := ctx.Deadline()
		res, err := f(ctx, sdk.Request{ResourceID: "haproxy", AgentType: Name, Params: params, Instance: sdk.Instance{Node: "holly", CloneIndex: 0}, Deadline: d, Cluster: view})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %v %s", name, res.Code, res.Message)
		return res
	}
	t.Cleanup(func() {
		if res := call("cleanup stop", p.Stop); res.Code != sdk.OK {
			if b, err := os.ReadFile(filepath.Join(dir, "haproxy.pid")); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
	if res := call("start", p.Start); res.Code != sdk.OK {
		t.Fatal("start failed")
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"\tbind [" + v6VIP + "]:80 transparent\n", fmt.Sprintf("\tserver holly [%s]:%d check\n", v6Node, port)} {
		if !strings.Contains(string(cfg), line) {
			t.Errorf("rendered configuration lacks %q:\n%s", line, cfg)
		}
	}
	// Bounded: each curl gives up after 2 s, checkFor after 15 s.
	poll.Until(t, 15*time.Second, 100*time.Millisecond, func() error {
		out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-s", "-g", "--max-time", "2", "--noproxy", "*",
			"http://["+v6VIP+"]/").CombinedOutput()
		if strings.TrimSpace(string(out)) != "Hello Holly" {
			return fmt.Errorf("GET http://[%s]/ in the namespace: %q %v; want the node's answer", v6VIP, out, err)
		}
		return nil
	})
	if res := call("monitor", p.Monitor); res.Code != sdk.OK || !strings.Contains(res.Message, "apache: holly") {
		t.Errorf("monitor: %v %q", res.Code, res.Message)
	}
}
