package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandLineLimits(t *testing.T) {
	long := strings.Repeat("x", MaxArgLen+1)
	var ee *ExitError
	err := checkArgs([]string{"resource", "create", "web", "vip", "ip=" + long})
	if !errors.As(err, &ee) || ee.Code != 2 || !strings.Contains(err.Error(), "argument 5") || !strings.Contains(err.Error(), "MaxArgLen") {
		t.Errorf("a %d-byte argument: %v, want exit code 2 naming argument 5 and MaxArgLen", len(long), err)
	}
	many := make([]string, 20)
	for i := range many {
		many[i] = strings.Repeat("y", MaxArgLen)
	}
	if err := checkArgs(many); !errors.As(err, &ee) || ee.Code != 2 || !strings.Contains(err.Error(), "MaxArgsLen") {
		t.Errorf("20 arguments of 64 KiB: %v, want exit code 2 naming MaxArgsLen", err)
	}
	if err := checkArgs([]string{"status", "--config", "/etc/tandem/cluster.toml"}); err != nil {
		t.Errorf("an ordinary command line: %v", err)
	}
}

// Usage errors are bad input (exit 2) with a did-you-mean, never the help
// page with exit 0; a command group alone still prints its help.
func TestUsageErrorsExitTwo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"node", "standyb", "holly"}, 2, `unknown command "standyb" for "tandem node" (did you mean "standby"?)`},
		{[]string{"resource", "creat"}, 2, `unknown command "creat" for "tandem resource" (did you mean "create"?)`},
		{[]string{"resource", "group", "ad", "db", "fs"}, 2, `unknown command "ad" for "tandem resource group" (did you mean "add"?)`},
		{[]string{"statsu"}, 2, `unknown command "statsu" for "tandem" (did you mean "status"?)`},
		{[]string{"status", "--bogus"}, 2, "status: unknown flag: --bogus (see tandem status --help)"},
		{[]string{"resource"}, 0, "Available Commands:"},
		{[]string{"help", "node"}, 0, "Available Commands:"},
		{[]string{"__complete", "node", "st"}, 0, "standby"},
	} {
		out, err := exec.Command(tandemBin, tc.args...).CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("tandem %s: exit %d, want %d with %q:\n%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out)
		}
	}
}

// Completion offers ids where ids are expected, from the cluster file when
// no member answers (the live configuration's are tested in
// TestLiveCommands), and never file names.
func TestCompletionOffersIDs(t *testing.T) {
	text, err := os.ReadFile("../../cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	// Loopback addresses where nothing listens: the bus does not answer.
	conf := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(conf, bytes.ReplaceAll(text, []byte(`"10.10.10.`), []byte(`"127.0.10.`)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"resource", "move", "--config", conf, "h"}, "haproxy\nhaproxy-clone\nhttpd\nhttpd-clone\n:4\n"},
		{[]string{"resource", "move", "--config", conf, "httpd-clone", ""}, "benji\nholly\n:4\n"},
		{[]string{"resource", "move", "--config", conf, "httpd-clone", "holly", ""}, ":4\n"},
		{[]string{"node", "standby", "--config", conf, "holly", ""}, "benji\n:4\n"},
		{[]string{"constraint", "remove", "--config", conf, "order-V"}, "order-VIP-10.10.10.23-haproxy-clone-mandatory\n:4\n"},
	} {
		out, err := exec.Command(tandemBin, append([]string{"__complete"}, tc.args...)...).Output()
		if err != nil || string(out) != tc.want {
			t.Errorf("completing tandem %s: %v\n%q, want %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
}
