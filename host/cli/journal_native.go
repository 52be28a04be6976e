package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// journald's native protocol: when the daemon runs under systemd with its
// stderr on the journal, each record is sent to journald's socket as one
// datagram of fields, so that every attribute becomes a field of its own
// (`journalctl -u tandem TANDEM_RESOURCE=vip`, `-o json`), beside MESSAGE
// (the record as a text line without time and level, which the journal
// stamps itself), PRIORITY and SYSLOG_IDENTIFIER. The protocol is
// systemd's documented one (systemd.io/JOURNAL_NATIVE_PROTOCOL): KEY=value
// lines, or KEY, a newline, a little-endian 64-bit length and the raw
// value for values that hold a newline; a datagram too large for the
// socket goes as a sealed memfd passed with SCM_RIGHTS.
//
// If journald cannot be reached (no socket, a restart in progress), the
// record is written to the stream with its priority prefix instead, so
// nothing is lost.

// journalSocket is journald's native socket; tests point it elsewhere.
var journalSocket = "/run/systemd/journal/socket"

// journalSink sends datagrams to journald's socket.
type journalSink struct {
	conn *net.UnixConn
	addr *net.UnixAddr
}

// newJournalSink opens an unbound datagram socket for journald's native
// socket, or fails if that socket does not exist.
func newJournalSink(path string) (*journalSink, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	return &journalSink{conn: conn, addr: &net.UnixAddr{Name: path, Net: "unixgram"}}, nil
}

// send writes one entry: as a datagram, or through a sealed memfd when
// the datagram is too large.
func (s *journalSink) send(data []byte) error {
	_, _, err := s.conn.WriteMsgUnix(data, nil, s.addr)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.EMSGSIZE) && !errors.Is(err, syscall.ENOBUFS) {
		return err
	}
	fd, err := unix.MemfdCreate("tandem-journal", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return fmt.Errorf("memfd for a %d-byte journal entry: %w", len(data), err)
	}
	f := os.NewFile(uintptr(fd), "tandem-journal")
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		return fmt.Errorf("sealing the journal memfd: %w", err)
	}
	_, _, err = s.conn.WriteMsgUnix(nil, unix.UnixRights(int(f.Fd())), s.addr)
	return err
}

// nativeShared is what a native handler and the handlers derived from it
// (With, WithGroup) share: the sink and the buffer the attributes of
// MESSAGE are formatted into.
type nativeShared struct {
	mu   sync.Mutex
	sink *journalSink
	msg  bytes.Buffer
}

// nativeHandler logs records to journald's native socket.
type nativeHandler struct {
	s      *nativeShared
	text   slog.Handler // formats MESSAGE into s.msg
	fb     slog.Handler // s.fallback with this handler's attributes and groups
	fields []byte       // serialized fields of the attributes added by WithAttrs
	groups []string
}

// newNativeHandler sends to sink, and to fallback when the sink fails.
func newNativeHandler(sink *journalSink, fallback slog.Handler, opts *slog.HandlerOptions) slog.Handler {
	s := &nativeShared{sink: sink}
	// The text handler writes the attributes only: the journal stamps
	// time and priority itself, and the message goes first, unquoted.
	textOpts := &slog.HandlerOptions{Level: opts.Level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{}
		}
		return humanDurations(groups, a)
	}}
	return nativeHandler{s: s, text: slog.NewTextHandler(&s.msg, textOpts), fb: fallback}
}

func (h nativeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.text.Enabled(ctx, l)
}

func (h nativeHandler) Handle(ctx context.Context, r slog.Record) error {
	h.s.mu.Lock()
	h.s.msg.Reset()
	err := h.text.Handle(ctx, r)
	attrs := strings.TrimSuffix(h.s.msg.String(), "\n")
	h.s.mu.Unlock()
	if err != nil {
		return err
	}
	msg := r.Message
	if attrs != "" {
		msg += " " + attrs
	}

	var b bytes.Buffer
	appendField(&b, "MESSAGE", msg)
	appendField(&b, "PRIORITY", strings.Trim(priority(r.Level), "<>"))
	appendField(&b, "SYSLOG_IDENTIFIER", "tandem")
	b.Write(h.fields)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.groups, a)
		return true
	})
	if err := h.s.sink.send(b.Bytes()); err != nil {
		return h.fb.Handle(ctx, r)
	}
	return nil
}

func (h nativeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b bytes.Buffer
	b.Write(h.fields)
	for _, a := range as {
		appendAttr(&b, h.groups, a)
	}
	return nativeHandler{s: h.s, text: h.text.WithAttrs(as), fb: h.fb.WithAttrs(as), fields: b.Bytes(), groups: h.groups}
}

func (h nativeHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return nativeHandler{s: h.s, text: h.text.WithGroup(name), fb: h.fb.WithGroup(name), fields: h.fields,
		groups: append(append([]string(nil), h.groups...), name)}
}

// appendAttr serializes a (and, for a group, its members) as fields named
// TANDEM_<GROUP>_<KEY>.
func appendAttr(b *bytes.Buffer, groups []string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		g := groups
		if a.Key != "" {
			g = append(append([]string(nil), groups...), a.Key)
		}
		for _, m := range a.Value.Group() {
			appendAttr(b, g, m)
		}
		return
	}
	var v string
	switch a.Value.Kind() {
	case slog.KindDuration:
		v = humanDurations(nil, a).Value.String()
	case slog.KindTime:
		v = a.Value.Time().Format(time.RFC3339Nano)
	default:
		v = a.Value.String()
	}
	appendField(b, fieldName(groups, a.Key), v)
}

// fieldName makes a journal field name of a key: TANDEM_ then the groups
// and the key upper-cased, every character outside A-Z, 0-9 and _ turned
// into _, at most 64 characters (journald's rules).
func fieldName(groups []string, key string) string {
	var b strings.Builder
	b.WriteString("TANDEM")
	for _, part := range append(append([]string(nil), groups...), key) {
		b.WriteByte('_')
		for _, c := range strings.ToUpper(part) {
			if (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' {
				b.WriteRune(c)
			} else {
				b.WriteByte('_')
			}
		}
	}
	s := b.String()
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// appendField writes one field in the native format.
func appendField(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	if !strings.ContainsRune(value, '\n') {
		b.WriteByte('=')
		b.WriteString(value)
		b.WriteByte('\n')
		return
	}
	b.WriteByte('\n')
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(value)))
	b.Write(n[:])
	b.WriteString(value)
	b.WriteByte('\n')
}
