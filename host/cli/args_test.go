package cli

import (
	"errors"
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
