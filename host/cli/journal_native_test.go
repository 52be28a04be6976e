package cli

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A journald stand-in: the native socket, read as journald reads it.
type fakeJournal struct {
	t    *testing.T
	conn *net.UnixConn
	path string
}

func newFakeJournal(t *testing.T) *fakeJournal {
	t.Helper()
	path := filepath.Join(t.TempDir(), "socket")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fakeJournal{t: t, conn: conn, path: path}
}

// entry reads one entry (a datagram, or the memfd it carries) and parses
// its fields.
func (j *fakeJournal) entry() (map[string][]string, bool) {
	j.t.Helper()
	buf := make([]byte, 1<<20)
	oob := make([]byte, 64)
	if err := j.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		j.t.Fatal(err)
	}
	n, oobn, _, _, err := j.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		j.t.Fatalf("reading the journal socket: %v", err)
	}
	data, viaFD := buf[:n], false
	if oobn > 0 {
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			j.t.Fatalf("control message: %v %d", err, len(msgs))
		}
		fds, err := syscall.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			j.t.Fatalf("rights: %v %v", err, fds)
		}
		f := os.NewFile(uintptr(fds[0]), "memfd")
		defer f.Close()
		if data, err = io.ReadAll(io.NewSectionReader(f, 0, 1<<30)); err != nil {
			j.t.Fatal(err)
		}
		viaFD = true
	}
	fields, err := parseNative(data)
	if err != nil {
		j.t.Fatalf("entry %q: %v", data, err)
	}
	return fields, viaFD
}

// parseNative parses journald's native format (KEY=value lines, or KEY
// newline, 64-bit little-endian length, value, newline).
func parseNative(b []byte) (map[string][]string, error) {
	out := map[string][]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return nil, errors.New("field without newline")
		}
		line := string(b[:nl])
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = append(out[k], v)
			b = b[nl+1:]
			continue
		}
		b = b[nl+1:]
		if len(b) < 8 {
			return nil, errors.New("short length")
		}
		n := binary.LittleEndian.Uint64(b[:8])
		b = b[8:]
		if uint64(len(b)) < n+1 || b[n] != '\n' {
			return nil, errors.New("bad binary field " + line)
		}
		out[line] = append(out[line], string(b[:n]))
		b = b[n+1:]
	}
	return out, nil
}

func one(t *testing.T, f map[string][]string, k string) string {
	t.Helper()
	if len(f[k]) != 1 {
		t.Errorf("field %s: %q, want one value (entry %q)", k, f[k], f)
		return ""
	}
	return f[k][0]
}

// Under systemd, each record reaches journald as fields: the message,
// its priority, and each attribute as a TANDEM_ field, durations as
// people read them; multi-line values and entries larger than a datagram
// arrive whole; with journald gone the stream takes the records.
func TestJournalNativeProtocol(t *testing.T) {
	j := newFakeJournal(t)
	sink, err := newJournalSink(j.path)
	if err != nil {
		t.Fatal(err)
	}
	var stream bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	log := slog.New(newNativeHandler(sink, newHandler(&stream, false, true, opts), opts)).With("member", "holly")

	log.Debug("below the level")
	log.WithGroup("plan").Warn("transition done", "took", 1500*time.Millisecond, "rsc:id-1", "vip")
	f, viaFD := j.entry()
	if viaFD {
		t.Error("a small entry was sent through a memfd")
	}
	for k, want := range map[string]string{
		"MESSAGE":              "transition done member=holly plan.took=1.5s plan.rsc:id-1=vip",
		"PRIORITY":             "4",
		"SYSLOG_IDENTIFIER":    "tandem",
		"TANDEM_MEMBER":        "holly",
		"TANDEM_PLAN_TOOK":     "1.5s",
		"TANDEM_PLAN_RSC_ID_1": "vip",
	} {
		if got := one(t, f, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	log.Error("start failed", "error", errors.New("line one\nline two"))
	f, _ = j.entry()
	if got := one(t, f, "TANDEM_ERROR"); got != "line one\nline two" {
		t.Errorf("multi-line field: %q", got)
	}
	if got := one(t, f, "PRIORITY"); got != "3" {
		t.Errorf("error priority %q", got)
	}

	big := strings.Repeat("x", 400<<10) // larger than a unix datagram may be
	log.Info("big", "output", big)
	f, viaFD = j.entry()
	if !viaFD {
		t.Error("a 400 KiB entry did not go through a memfd")
	}
	if got := one(t, f, "TANDEM_OUTPUT"); got != big {
		t.Errorf("big field: %d bytes, want %d", len(got), len(big))
	}

	if stream.Len() != 0 {
		t.Errorf("the stream got records while journald answered: %q", stream.String())
	}
	// journald gone (restarting): the record goes to the stream, with
	// its priority.
	j.conn.Close()
	os.Remove(j.path)
	log.Warn("journald away")
	if got := stream.String(); !strings.HasPrefix(got, "<4>") || !strings.Contains(got, "journald away") || !strings.Contains(got, "member=holly") {
		t.Errorf("fallback stream: %q", got)
	}

	if _, err := newJournalSink(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a sink opened on a missing socket")
	}
}

func TestJournalFieldNames(t *testing.T) {
	for _, c := range []struct {
		groups []string
		key    string
		want   string
	}{
		{nil, "resource", "TANDEM_RESOURCE"},
		{[]string{"lease"}, "renew-latency", "TANDEM_LEASE_RENEW_LATENCY"},
		{nil, "é.x", "TANDEM___X"},
		{nil, strings.Repeat("k", 80), "TANDEM_" + strings.Repeat("K", 57)},
	} {
		if got := fieldName(c.groups, c.key); got != c.want {
			t.Errorf("fieldName(%q, %q) = %q, want %q", c.groups, c.key, got, c.want)
		}
	}
}
