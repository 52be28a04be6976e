package cib

import (
	"strings"
	"testing"
	"time"
)

// timestamp-format: date(1)'s specifiers and Pacemaker's %xN.
func TestFormatTimestamp(t *testing.T) {
	at := time.Date(2026, 3, 7, 14, 5, 9, 123456789, time.UTC)
	for format, want := range map[string]string{
		"":                        "14:05:09.123456",
		"%H:%M:%S.%06N":           "14:05:09.123456",
		"%Y-%m-%d,%H:%M:%S.%01N":  "2026-03-07,14:05:09.1",
		"%3N":                     "123",
		"%N":                      "123456",
		"%D %H:%M":                "03/07/26 14:05",
		"%c":                      "Sat Mar  7 14:05:09 2026",
		"%s %%":                   "1772892309 %",
		"%a %A %b %B %e %j %u %w": "Sat Saturday Mar March  7 066 6 6",
		"%F %T %z %Z %I %p %y %C": "2026-03-07 14:05:09 +0000 UTC 02 PM 26 20",
		"plain text":              "plain text",
	} {
		got, err := FormatTimestamp(format, at)
		if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", format, got, err, want)
		}
	}
	for format, want := range map[string]string{
		"%H:%Q": "unknown specifier %Q",
		"%7N":   "1 to 6 digits",
		"%3H":   "a width is only taken by %N",
		"100%":  "ends inside a specifier",
	} {
		if _, err := FormatTimestamp(format, at); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", format, err, want)
		}
	}
}
