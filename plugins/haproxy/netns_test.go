package haproxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/e2e/priv"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// Addresses of these tests: 198.18.0.96/27, inside a namespace of ours.
const (
	nsVIP  = "198.18.0.100"
	nsNode = "198.18.0.101"
)

func run(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// newNetns creates a network namespace "tdhap<n>" with only loopback up,
// deleted when the test ends (after everything registered later).
func newNetns(t *testing.T) string {
	t.Helper()
	priv.Require(t, "haproxy", "ip", "curl")
	ns := fmt.Sprintf("tdhap%d", os.Getpid()%100000)
	_ = exec.Command("ip", "netns", "del", ns).Run() // a leftover of a killed run
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

// launchInNetns launches the plugin binary as tandem would, inside ns.
func launchInNetns(t *testing.T, ns, stateDir string) *sdk.Process {
	t.Helper()
	bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/haproxy/cmd/tandem-plugin-haproxy")
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(t.TempDir(), "tandem-plugin-haproxy")
	if err := os.WriteFile(wrapper, []byte(fmt.Sprintf("#!/bin/sh\nexec %s netns exec %s %s\n", ipPath, ns, bin)), 0o755); err != nil {
		t.Fatal(err)
	}
	return sdktest.Launch(t, wrapper, "TANDEM_HAPROXY_STATE_DIR="+stateDir)
}

// curlStatus asks for http://nsVIP/ from inside ns (bounded: 2 s).
func curlStatus(ns string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
		"--max-time", "2", "--noproxy", "*", "http://"+nsVIP+"/").CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// HAProxy binds the VIP before it is on the node, and answers on it once
// the address arrives, without a restart: with the default transparent
// bind, and with nonlocal_bind. Without either, start fails with HAProxy's
// bind error.
func TestBindVIPNotYetLocal(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	p := launchInNetns(t, ns, dir)
	view := &sdk.ClusterView{Nodes: []sdk.NodeView{{Name: "holly", Address: nsNode, Online: true}}, Active: map[string][]string{"httpd-clone": {"holly"}}}
	base := map[string]string{"bind": nsVIP + ":80", "backend_clone": "httpd-clone", "unit": ""}
	call := func(name string, f func(context.Context, sdk.Request) (sdk.Result, error), params map[string]string) sdk.Result {
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
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if res, err := p.Stop(ctx, sdk.Request{ResourceID: "haproxy", AgentType: Name, Params: base}); err != nil || res.Code != sdk.OK {
			t.Errorf("cleanup stop: %v %v", res, err)
			if b, err := os.ReadFile(filepath.Join(dir, "haproxy.pid")); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})

	if res := call("start without transparent", p.Start, with("transparent", "false")); res.Code == sdk.OK || !strings.Contains(res.Message, "cannot bind") {
		t.Fatalf("binding a non-local address without transparent: %v %q; want HAProxy's bind error", res.Code, res.Message)
	}
	if res := call("start (transparent)", p.Start, base); res.Code != sdk.OK {
		t.Fatal("start with a transparent bind failed")
	}
	if code, err := curlStatus(ns); err == nil {
		t.Fatalf("the VIP answered (%s) before it was configured", code)
	}
	run(t, "ip", "-n", ns, "addr", "add", nsVIP+"/32", "dev", "lo")
	// holly's server does not listen: HAProxy itself answers 503.
	poll.Until(t, 10*time.Second, 100*time.Millisecond, func() error {
		code, err := curlStatus(ns)
		if code != "503" {
			return fmt.Errorf("GET http://%s/ in the namespace: %q %v; want HAProxy's 503", nsVIP, code, err)
		}
		return nil
	})
	if res := call("stop", p.Stop, base); res.Code != sdk.OK {
		t.Fatal("stop")
	}
	run(t, "ip", "-n", ns, "addr", "del", nsVIP+"/32", "dev", "lo")

	// nonlocal_bind sets the sysctl in the plugin's namespace.
	if res := call("start with nonlocal_bind", p.Start, with("transparent", "false", "nonlocal_bind", "true")); res.Code != sdk.OK {
		t.Fatal("start with nonlocal_bind failed")
	}
	if got := run(t, "ip", "netns", "exec", ns, "sysctl", "-n", "net.ipv4.ip_nonlocal_bind"); strings.TrimSpace(got) != "1" {
		t.Errorf("ip_nonlocal_bind in the namespace = %q", got)
	}
	run(t, "ip", "-n", ns, "addr", "add", nsVIP+"/32", "dev", "lo")
	poll.Until(t, 10*time.Second, 100*time.Millisecond, func() error {
		if code, err := curlStatus(ns); code != "503" {
			return fmt.Errorf("GET with nonlocal_bind: %q %v", code, err)
		}
		return nil
	})
}
