package coordinator

import "time"

// SetHeldRetry sets how often a member retries a held coordinator lease
// without a sign from the watch; it returns the previous interval.
func SetHeldRetry(d time.Duration) time.Duration {
	return time.Duration(heldRetryNanos.Swap(int64(d)))
}
