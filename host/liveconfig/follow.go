package liveconfig

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tandem-ha/tandem/bus"
)

// PollInterval is how often a follower reads the live configuration when
// nothing told it of a change.
const PollInterval = 5 * time.Second

// pollEvery is PollInterval; tests shorten it.
var pollEvery = PollInterval

// Follow calls apply with newer and newer revisions of the live
// configuration (after the revision after), until ctx ends; done is closed
// when it has stopped. It never goes back and never applies a revision
// twice; a revision that was already superseded when the follower read the
// key may be skipped (a member needs the newest). apply runs on the
// follower's own goroutine, one call at a time.
//
// A revision reaches the follower three ways, because none alone is
// enough: the KV watch (a JetStream consumer, which a move of the stream's
// leader can stall or end without a word), the bus.ConfigChanged
// announcement Put sends (lost when the follower is cut off at that
// moment), and a read of the current revision every PollInterval, which
// also restarts a watch that ended. The poll first asks the bucket's last
// sequence and reads the key only when it changed since its last read: the
// record holds the whole configuration (72 KB with 256 resources), and
// every member reading it every 5 s was most of a cluster's bus traffic at
// rest.
func (s *Store) Follow(ctx context.Context, after uint64, apply func(Revision), log *slog.Logger) (done <-chan struct{}) {
	if log == nil {
		log = slog.Default()
	}
	kick := make(chan struct{}, 1)
	finished := make(chan struct{})
	sub, err := bus.Subscribe(s.conn, bus.SubjectConfigChanged, func(ev bus.ConfigChanged, _ bus.Envelope) {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	if err != nil {
		log.Warn("not following configuration announcements (the watch and the poll remain)", "err", err)
	}
	go func() {
		defer close(finished)
		if sub != nil {
			defer func() { _ = sub.Unsubscribe() }()
		}
		last := after
		var reported uint64 // the last invalid revision reported
		invalid := func(rev uint64, err error) {
			if rev != reported {
				reported = rev
				log.Error("live configuration revision is invalid; still running the last valid one (`tandem config rollback REV` or `config apply` replaces it)",
					"rev", rev, "running", last, "err", err)
			}
		}
		deliver := func(r Revision) {
			if r.Rev > last {
				last = r.Rev
				apply(r)
			}
		}
		// fetch reads the current revision; read says whether it did
		// (an invalid one included).
		fetch := func() (read bool) {
			fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			r, err := s.Current(fctx)
			var ie *invalidError
			switch {
			case err == nil:
				deliver(r)
				return true
			case errors.As(err, &ie):
				invalid(ie.rev, err)
				return true
			case ctx.Err() == nil:
				log.Debug("live configuration not read", "err", err)
			}
			return false
		}
		// polled is the bucket's last sequence when the poll last read
		// the key (0: not yet). A write after that sequence was taken
		// and before the read is read again at the next poll: a change
		// costs a read too many, never a read too few.
		var polled uint64
		poll := func() {
			sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			seq, err := s.kv.LastSequence(sctx)
			cancel()
			if err == nil && seq != 0 && seq == polled {
				return // nothing written since the last read
			}
			if fetch() && err == nil {
				polled = seq
			}
		}
		var updates <-chan jetstream.KeyValueEntry
		var watcher jetstream.KeyWatcher
		watch := func() {
			w, err := s.kv.Raw().Watch(ctx, Key)
			if err != nil {
				log.Debug("live configuration not watched (reading it every "+PollInterval.String()+")", "err", err)
				return
			}
			watcher, updates = w, w.Updates()
		}
		defer func() {
			if watcher != nil {
				_ = watcher.Stop()
			}
		}()
		watch()
		tick := time.NewTicker(pollEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-updates:
				if !ok {
					updates, watcher = nil, nil
					continue
				}
				if e == nil || e.Operation() != jetstream.KeyValuePut || e.Revision() <= last {
					continue
				}
				r, err := decode(e)
				if err != nil {
					invalid(e.Revision(), err)
					continue
				}
				deliver(r)
			case <-kick:
				fetch()
			case <-tick.C:
				if updates == nil {
					watch()
				}
				poll()
			}
		}
	}()
	return finished
}
