package cli

import (
	"bytes"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Under journald each line carries its record's priority, and durations
// read as durations in text and JSON.
func TestJournalPrioritiesAndDurations(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newHandler(&buf, false, true, &slog.HandlerOptions{Level: slog.LevelDebug})).With("member", "holly")
	log.Debug("d")
	log.Info("i", "took", 1234567*time.Microsecond)
	log.Warn("w")
	log.Error("e")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"<7>", "<6>", "<4>", "<3>"}
	if len(lines) != 4 {
		t.Fatalf("lines: %q", lines)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, want[i]+"time=") || !strings.Contains(l, "member=holly") {
			t.Errorf("line %d: %q, want it to start with %s and keep the logger's attributes", i, l, want[i])
		}
	}
	if !strings.Contains(lines[1], "took=1.235s") {
		t.Errorf("duration in text: %q", lines[1])
	}

	buf.Reset()
	slog.New(newHandler(&buf, true, false, &slog.HandlerOptions{})).Info("i", "took", 1500*time.Millisecond)
	if !strings.Contains(buf.String(), `"took":"1.5s"`) || strings.HasPrefix(buf.String(), "<") {
		t.Errorf("JSON off the journal: %s", buf.String())
	}

	// JOURNAL_STREAM names a file by device and inode.
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	sys := st.Sys().(*syscall.Stat_t)
	t.Setenv("JOURNAL_STREAM", strconv.FormatUint(uint64(sys.Dev), 10)+":"+strconv.FormatUint(sys.Ino, 10))
	if !journalStream(f) {
		t.Error("the stream JOURNAL_STREAM names is not recognised")
	}
	if journalStream(os.Stdin) {
		t.Error("another file taken for the journal stream")
	}
}
