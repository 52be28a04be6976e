// Package statuspage serves a member's read-only status page: what
// `tandem status` reports (members, quorum, resources and their state on
// each node, failures) and the recent bus events, as one HTML page kept up
// to date over server-sent events, plus the same data as JSON.
//
// It only reads: every request but GET and HEAD is refused, and the member
// gathers the report over its read-only bus connection (the monitor role's
// permissions), so a bug here cannot change the cluster. It gathers only
// while someone looks (a request, or an open event stream), at most once
// per interval, and serves a bounded number of event streams.
package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/status"
)

// Defaults.
const (
	DefaultInterval   = time.Second // between two reports pushed to the streams
	DefaultMaxClients = 32          // open event streams at once
	// keepAlive is the longest a stream stays silent: a report is sent
	// again even if nothing changed (and a broken client is noticed).
	keepAlive = 15 * time.Second
	// recentEvents is how many bus events the page lists.
	recentEvents = 40
)

// Options configure a Page.
type Options struct {
	Member string // the member serving the page
	// Gather makes one fresh report (status.Gather over the member's
	// read-only connection).
	Gather     func(ctx context.Context) status.Report
	Interval   time.Duration // default DefaultInterval
	MaxClients int           // default DefaultMaxClients
	Log        *slog.Logger
}

// View is what the page shows: /status.json, and each event-stream message.
type View struct {
	Member string        `json:"member"`
	Status status.Report `json:"status"`
	Events []Event       `json:"events"` // newest last
}

// Event is one bus event as `tandem events` prints it.
type Event struct {
	Time   time.Time `json:"time"`
	Source string    `json:"source"`
	Kind   string    `json:"kind"`
	Text   string    `json:"text"`
}

// Page is one member's status page.
type Page struct {
	o     Options
	slots chan struct{} // one per open event stream
	done  chan struct{} // closed by Close: streams end
	close sync.Once

	mu       sync.Mutex
	view     View
	body     []byte    // view as JSON
	gathered time.Time // when view.Status was gathered; zero: never
	changed  chan struct{}
	watchers int
	wake     chan struct{} // a first watcher arrived
	gather   sync.Mutex    // one gathering at a time
}

// New makes a page; Run keeps it fresh while streams are open.
func New(o Options) *Page {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxClients
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	p := &Page{o: o, slots: make(chan struct{}, o.MaxClients), done: make(chan struct{}),
		changed: make(chan struct{}), wake: make(chan struct{}, 1)}
	p.view = View{Member: o.Member, Events: []Event{}}
	return p
}

// Close ends every event stream (their handlers return).
func (p *Page) Close() { p.close.Do(func() { close(p.done) }) }

// Run gathers a report every interval while at least one event stream is
// open, until ctx ends.
func (p *Page) Run(ctx context.Context) {
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.done:
			return
		case <-t.C:
		case <-p.wake:
		}
		p.mu.Lock()
		n := p.watchers
		p.mu.Unlock()
		if n > 0 {
			p.refresh(ctx, p.o.Interval)
		}
	}
}

// current returns the view as JSON, gathering a new report first when the
// last one is older than maxAge.
func (p *Page) current(ctx context.Context, maxAge time.Duration) (View, []byte) {
	p.refresh(ctx, maxAge)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.view, p.body
}

// refresh gathers a report unless the last one is younger than maxAge,
// and wakes the streams when what the page shows changed.
func (p *Page) refresh(ctx context.Context, maxAge time.Duration) {
	p.gather.Lock()
	defer p.gather.Unlock()
	p.mu.Lock()
	fresh := !p.gathered.IsZero() && time.Since(p.gathered) < maxAge
	p.mu.Unlock()
	if fresh {
		return
	}
	r := p.o.Gather(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gathered = time.Now()
	p.view.Status = r
	p.publishLocked()
}

// publishLocked encodes the view and wakes the streams if it changed
// (not counting the report's own time).
func (p *Page) publishLocked() {
	body, err := json.Marshal(p.view)
	if err != nil {
		p.o.Log.Error("status page: encoding the report", "err", err)
		return
	}
	if !bytes.Equal(withoutTime(body), withoutTime(p.body)) {
		close(p.changed)
		p.changed = make(chan struct{})
	}
	p.body = body
}

// withoutTime is a view's JSON without the report's last_updated, which
// changes with every gathering.
func withoutTime(body []byte) []byte {
	if len(body) == 0 {
		return nil
	}
	var v View
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	v.Status.LastUpdated = time.Time{}
	out, _ := json.Marshal(v)
	return out
}

// Event adds a bus message (an event envelope) to the recent events, if
// `tandem events` would show it.
func (p *Page) Event(data []byte) {
	var env bus.Envelope
	if err := json.Unmarshal(data, &env); err != nil || env.Kind == "" {
		return
	}
	text, ok := status.EventText(env, false, false)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := append(p.view.Events, Event{Time: env.Time, Source: env.Source, Kind: env.Kind, Text: text})
	if len(ev) > recentEvents {
		ev = append([]Event(nil), ev[len(ev)-recentEvents:]...)
	}
	p.view.Events = ev
	if !p.gathered.IsZero() {
		p.publishLocked()
	}
}

// watch registers an event stream; the returned function unregisters it.
func (p *Page) watch() func() {
	p.mu.Lock()
	p.watchers++
	first := p.watchers == 1
	p.mu.Unlock()
	if first {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return func() {
		p.mu.Lock()
		p.watchers--
		p.mu.Unlock()
	}
}

// next waits until the view differs from the one last sent (seen) or
// keepAlive passed, and returns it; ok is false when the stream must end.
func (p *Page) next(ctx context.Context, seen []byte) (body []byte, ok bool) {
	t := time.NewTimer(keepAlive)
	defer t.Stop()
	for {
		p.mu.Lock()
		body, changed := p.body, p.changed
		p.mu.Unlock()
		if body != nil && !bytes.Equal(body, seen) && (seen == nil || !bytes.Equal(withoutTime(body), withoutTime(seen))) {
			return body, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-p.done:
			return nil, false
		case <-changed:
		case <-t.C:
			p.mu.Lock()
			body = p.body
			p.mu.Unlock()
			return body, body != nil
		}
	}
}
