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
