package sdk

import (
	"bytes"
	"log/slog"
	"runtime"
	"strings"
	"testing"
)

// A plugin that writes without newlines grew an unbounded buffer, rescanned
// on every write. Now a line is cut at MaxLine and the rest dropped.
func TestPluginOutputLinesCapped(t *testing.T) {
	var logged bytes.Buffer
	l := &lineLogger{log: slog.New(slog.NewTextHandler(&logged, nil)), stream: "stderr"}
	chunk := bytes.Repeat([]byte("x"), 4096)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 512 { // 2 MiB without a newline
		if _, err := l.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("2 MiB of output without a newline allocated %d bytes, want < 1 MiB", alloc)
	}
	if _, err := l.Write([]byte("tail\nnext line\n")); err != nil {
		t.Fatal(err)
	}
	out := logged.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "truncated=true") || !strings.Contains(lines[0], "limit=65536") ||
		strings.Count(lines[0], "x") != MaxLine || !strings.Contains(lines[1], "next line") || strings.Contains(out, "tail") {
		t.Errorf("logged %d lines (%d bytes), want the first %d bytes cut and marked, then \"next line\"", len(lines), len(out), MaxLine)
	}

	tail := &lineTail{max: 3}
	_, _ = tail.Write(bytes.Repeat([]byte("y"), 3*MaxLine))
	_, _ = tail.Write([]byte("\nlast"))
	if s := tail.suffix(); !strings.Contains(s, "[truncated]") || !strings.HasSuffix(s, "\n  last") || len(s) > MaxLine+200 {
		t.Errorf("tail: %d bytes, want one cut line and \"last\"", len(s))
	}
}
