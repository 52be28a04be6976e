// Package poll is how every Tandem test waits: it calls a check until the
// check passes or a deadline ends, instead of sleeping for a time that a
// busy machine may not honour. Real buses, plugin processes and lab nodes
// take their time on a loaded 2-core CI host; the deadline bounds the wait
// and the check's last error says what was still wrong when it ran out.
//
// It imports nothing of Tandem's, so that the tests of every part (plugins,
// bus, host, the lab) use the same helper.
package poll

import (
	"fmt"
	"testing"
	"time"
)

// Until calls check every interval until it returns nil, and fails t with
// check's last error once total has passed.
func Until(t testing.TB, total, interval time.Duration, check func() error) {
	t.Helper()
	if err := Wait(total, interval, check); err != nil {
		t.Fatal(err)
	}
}

// Wait is Until for code that is not a test (a benchmark, a lab command):
// it returns check's last error, prefixed with how long it tried, once
// total has passed, and nil as soon as check passes.
func Wait(total, interval time.Duration, check func() error) error {
	deadline := time.Now().Add(total)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return &TimeoutError{After: total, Last: err}
		}
		time.Sleep(interval)
	}
}

// TimeoutError is what Wait returns when check kept failing.
type TimeoutError struct {
	After time.Duration
	Last  error
}

func (e *TimeoutError) Error() string {
	return "still failing after " + e.After.String() + ": " + e.Last.Error()
}
func (e *TimeoutError) Unwrap() error { return e.Last }

// About names what check waits for, in its errors: "Apache on holly: ...".
func About(what string, check func() error) func() error {
	return func() error {
		if err := check(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
}
