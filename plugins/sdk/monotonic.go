package sdk

import (
	"time"

	"golang.org/x/sys/unix"
)

// MonotonicNow reads CLOCK_MONOTONIC. Every process on a machine reads the
// same clock and no wall-clock step moves it, so the host and a plugin agree
// on a HoldRequest's Until across processes. (Go's own monotonic readings in
// time.Time are process-relative and cannot be shared.)
func MonotonicNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		// CLOCK_MONOTONIC exists on every Linux this runs on; failing to
		// read it means the process cannot keep any deadline.
		panic("sdk: clock_gettime(CLOCK_MONOTONIC): " + err.Error())
	}
	return time.Duration(ts.Nano())
}
