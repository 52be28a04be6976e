package bus

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A client hammering the bus with refused publishes costs the journal a
// line a second, not a line a publish; other errors are all logged.
func TestPermissionViolationsLogRateLimited(t *testing.T) {
	var buf bytes.Buffer
	l := &natsLogger{log: slog.New(slog.NewTextHandler(&buf, nil)), violations: newLogLimiter(time.Second)}
	for range 10000 {
		l.Errorf("%s - cid:7 - Publish Violation - Subject %q", "127.0.0.1:5000", "tandem.heartbeat.holly")
	}
	l.Errorf("something else")
	l.Errorf("something else")
	lines := strings.Count(buf.String(), "Publish Violation")
	if lines < 1 || lines > 5 {
		t.Errorf("%d violation lines logged for 10000 refused publishes:\n%s", lines, buf.String())
	}
	if n := strings.Count(buf.String(), "something else"); n != 2 {
		t.Errorf("%d of 2 other errors logged", n)
	}
}
