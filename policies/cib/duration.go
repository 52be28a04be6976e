package cib

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads an interval or timeout as Pacemaker admins write them:
// Go durations ("30s", "1m30s", "500ms"), a bare number of seconds ("30"),
// or Pacemaker's "min" and "sec" suffixes ("2min").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("duration %q is out of range", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	t = strings.NewReplacer("mins", "m", "min", "m", "secs", "s", "sec", "s", "hr", "h").Replace(t)
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("duration %q: write it like 30s, 500ms, 2m or a number of seconds", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

// FormatDuration writes d as an admin would: "500ms" below a second or with
// a fraction of one, whole hours as "2h", whole minutes from two minutes up
// as "5m", and seconds otherwise ("60s", "90s"); ParseDuration reads it
// back. Go's own form ("1m0s") is correct but not what anyone writes.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if d%time.Second != 0 {
		return d.String()
	}
	s := int64(d / time.Second)
	switch {
	case s%3600 == 0:
		return strconv.FormatInt(s/3600, 10) + "h"
	case s%60 == 0 && s >= 120:
		return strconv.FormatInt(s/60, 10) + "m"
	}
	return strconv.FormatInt(s, 10) + "s"
}
