package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Logging for journald: when the daemon's stderr is the journal (systemd
// sets JOURNAL_STREAM to its device and inode), each line starts with the
// record's syslog priority ("<3>" error, "<4>" warning, "<6>" info, "<7>"
// debug), which journald reads as the entry's PRIORITY (SyslogLevelPrefix,
// on by default), so `journalctl -p warning -u tandem` works. Durations are
// written as people read them ("1.5s"), in JSON too.

// journalStream says whether f is the stream JOURNAL_STREAM names.
func journalStream(f *os.File) bool {
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	d, err1 := strconv.ParseUint(dev, 10, 64)
	i, err2 := strconv.ParseUint(ino, 10, 64)
	return err1 == nil && err2 == nil && uint64(sys.Dev) == d && uint64(sys.Ino) == i
}

// humanDurations is a ReplaceAttr that writes durations as "1.5s" (JSON
// would write nanoseconds), rounded to the millisecond from a second up.
func humanDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		d := a.Value.Duration()
		if d >= time.Second || d <= -time.Second {
			d = d.Round(time.Millisecond)
		}
		return slog.String(a.Key, d.String())
	}
	return a
}

// priority is the syslog priority of a level.
func priority(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "<3>"
	case l >= slog.LevelWarn:
		return "<4>"
	case l >= slog.LevelInfo:
		return "<6>"
	}
	return "<7>"
}

// prefixWriter writes each record's lines with the priority of the record
// being handled.
type prefixWriter struct {
	mu     sync.Mutex
	out    io.Writer
	prefix string
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.out, w.prefix+string(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// journalHandler prefixes the records of inner, which writes to w, with
// their priority.
type journalHandler struct {
	inner slog.Handler
	w     *prefixWriter
}

func (h journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	h.w.prefix = priority(r.Level)
	return h.inner.Handle(ctx, r)
}

func (h journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return journalHandler{inner: h.inner.WithAttrs(as), w: h.w}
}

func (h journalHandler) WithGroup(name string) slog.Handler {
	return journalHandler{inner: h.inner.WithGroup(name), w: h.w}
}

// newHandler makes the daemon's log handler writing to out: text or JSON,
// with priorities when toJournal.
func newHandler(out io.Writer, json, toJournal bool, opts *slog.HandlerOptions) slog.Handler {
	opts.ReplaceAttr = humanDurations
	var pw *prefixWriter
	if toJournal {
		pw = &prefixWriter{out: out}
		out = pw
	}
	var h slog.Handler
	if json {
		h = slog.NewJSONHandler(out, opts)
	} else {
		h = slog.NewTextHandler(out, opts)
	}
	if pw != nil {
		return journalHandler{inner: h, w: pw}
	}
	return h
}
