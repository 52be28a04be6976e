package cib

import (
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		500 * time.Millisecond: "500ms", 1500 * time.Millisecond: "1.5s", 30 * time.Second: "30s", 60 * time.Second: "60s",
		90 * time.Second: "90s", 2 * time.Minute: "2m", 10 * time.Minute: "10m", time.Hour: "1h", 90 * time.Minute: "90m", 0: "0s",
	} {
		got := FormatDuration(d)
		if got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseDuration(got); err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, d)
		}
	}
}
