package daemon

import (
	"context"
	"log/slog"
	"time"
)

// undoStack holds the teardown of what a start built, so that one list
// serves both a start that fails half way and the shutdown: each step that
// builds something pushes how to take it down, and run takes everything
// down in reverse order.
type undoStack []func()

func (u *undoStack) push(f func()) { *u = append(*u, f) }

// run takes down everything pushed, last first, and empties the stack.
func (u *undoStack) run() {
	for i := len(*u) - 1; i >= 0; i-- {
		(*u)[i]()
	}
	*u = nil
}

// retry calls f until it succeeds or ctx ends, logging each failure with
// msg: what needs the bus at start keeps trying while a member waits for its
// peers. It waits between attempts without ignoring ctx.
func retry(ctx context.Context, log *slog.Logger, msg string, f func(ctx context.Context) error) error {
	const attempt, pause = 5 * time.Second, 500 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, attempt)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn(msg, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}
