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

// A voter's route pinned to the system account, refused by a plain member
// that keeps no route pool, is expected at every start (routePoolSize): it
// is not logged as an error, on either side.
func TestRefusedSystemAccountRouteNotAnError(t *testing.T) {
	var buf bytes.Buffer
	l := &natsLogger{log: slog.New(slog.NewTextHandler(&buf, nil)), violations: newLogLimiter(time.Second)}
	l.Errorf("%s - rid:22 - Not possible to have a dedicated route for account %q between those servers", "127.0.0.1:5000", "$SYS")
	l.Errorf("%s - rid:9 - Route Error 'Not possible to have a dedicated route for account %q between those servers'", "127.0.0.1:5001", "$SYS")
	if buf.Len() != 0 {
		t.Errorf("logged at info or above:\n%s", buf.String())
	}
	l.Errorf("%s - rid:9 - Route Error 'Authorization Violation'", "127.0.0.1:5001")
	if !strings.Contains(buf.String(), "level=ERROR") {
		t.Errorf("another route error not logged as an error:\n%s", buf.String())
	}
}
