package poll

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	calls := 0
	if err := Wait(time.Minute, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	}); err != nil || calls != 3 {
		t.Errorf("passing on the third call: got err %v after %d calls, want nil after 3", err, calls)
	}
	notYet := errors.New("not yet")
	err := Wait(20*time.Millisecond, time.Millisecond, func() error { return notYet })
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, notYet) || err.Error() != "still failing after 20ms: not yet" {
		t.Errorf("never passing: got %v, want a TimeoutError wrapping %q", err, notYet)
	}
}
