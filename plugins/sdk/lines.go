package sdk

import "bytes"

// MaxLine is the longest line of a plugin's output kept: a longer one is
// cut there (logged with truncated=true) and the rest of it dropped, so
// that output without newlines costs at most MaxLine bytes.
const MaxLine = 64 << 10

// lineSplitter cuts a stream into lines, at most MaxLine bytes each. Each
// byte is looked at once: a long line is not rescanned on every write.
type lineSplitter struct {
	max       int
	buf       []byte
	dropping  bool // the current line was cut: drop until its newline
	truncated int  // lines cut so far
}

// write feeds p, calling emit for each complete line and for the first
// max bytes of a line that is longer (cut true).
func (l *lineSplitter) write(p []byte, emit func(line []byte, cut bool)) {
	limit := l.max
	if limit <= 0 {
		limit = MaxLine
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !l.dropping {
			if room := limit - len(l.buf); len(chunk) > room {
				l.buf = append(l.buf, chunk[:room]...)
				l.truncated++
				emit(l.buf, true)
				l.buf, l.dropping = l.buf[:0], true
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		if i < 0 {
			return
		}
		if !l.dropping {
			emit(l.buf, false)
		}
		l.buf, l.dropping = l.buf[:0], false
		p = p[i+1:]
	}
}
