package haproxy

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// binary= ran any path as root; the agent refuses one that anyone but root
// could have written.
func TestBinaryMustBeTrusted(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "haproxy")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o777); err != nil {
		t.Fatal(err)
	}
	params := maps.Clone(seedParams)
	params["binary"] = bin
	a := NewWith(Options{StateDir: t.TempDir()})
	res := a.Validate(context.Background(), sdk.ValidateRequest{AgentType: Name, Params: params})
	if res.Code != sdk.ErrNotConfigured || !strings.Contains(res.Message, "binary: "+bin+" is writable by its group or others") {
		t.Errorf("Validate with a world-writable binary: %v %q, want not configured naming binary", res.Code, res.Message)
	}
	if err := checkConfig(context.Background(), bin, "/dev/null"); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("checkConfig ran a world-writable binary: %v", err)
	}
	if err := trustedBinary(DefaultBinary); err != nil {
		t.Errorf("the default binary: %v", err)
	}
}

// The injections of the issue: the agent refuses them by itself, naming
// the parameter, whatever the host let through.
func TestInjectedLinesRefused(t *testing.T) {
	for name, value := range map[string]string{"chroot": "/var/empty\nlua-load /tmp/x.lua", "stats_socket": "/run/s.sock\nlua-load /tmp/x.lua",
		"config": "/etc/haproxy/haproxy.cfg\"\nExecStartPre=/bin/sh -c id"} {
		params := maps.Clone(seedParams)
		if name == "config" {
			params = map[string]string{"unit": "haproxy"}
		}
		params[name] = value
		_, err := ParseParams(params)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "control character") {
			t.Errorf("%s: got %v, want refused naming %s", name, err, name)
		}
	}
}
